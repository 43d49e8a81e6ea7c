package explore

import (
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

func TestParseIDs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []protocol.ID
		err  bool
	}{
		{"1,49,50", []protocol.ID{1, 49, 50}, false},
		{" 2 , ,3,", []protocol.ID{2, 3}, false},
		{"", nil, false},
		{"1,x", nil, true},
		{"-1", nil, true},
	} {
		got, err := ParseIDs(tc.in)
		if (err != nil) != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, %v", tc.in, got, err)
		}
	}
}
