package runlog

import (
	"bytes"
	"testing"
)

func TestWantColor(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		mode      string
		want, err bool
	}{
		{"always", true, false},
		{"never", false, false},
		{"auto", false, false}, // not a terminal
		{"sometimes", false, true},
	} {
		got, err := WantColor(tc.mode, &buf)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: %v, %v", tc.mode, got, err)
		}
	}
}
