package analysis

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A result set written before trace owned the manifest reads as it did then: the tables
// that build printed for it are testdata, and this build prints the same.
func TestFormat1ResultSet(t *testing.T) {
	s := analyze(t, filepath.Join("..", "trace", "testdata", "resultset-format1"), Options{})
	for _, tc := range []struct {
		format Format
		golden string
	}{
		{FormatJSON, "format1-report.json"},
		{FormatText, "format1-report.text"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := WriteTable(&got, s, tc.format); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("table differs from testdata/%s:\n%s", tc.golden, got.Bytes())
			}
		})
	}
}
