package analysis

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
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

// The columns analysis reads exist, with the types it decodes them as, in the layouts the
// writers declare: trace's schemas for joins and ops, and for runs the layout of the
// format-1 fixture, which a sweep wrote.
func TestReadColumnsMatchSchemas(t *testing.T) {
	r, err := trace.Open(filepath.Join("..", "trace", "testdata", "resultset-format1", trace.TableRuns, "part-000000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	runs := r.Schema()
	r.Close()
	for _, tc := range []struct {
		name   string
		schema trace.Schema
		cols   []colSpec
	}{
		{"runs", runs, runColumns},
		{"runs kv", runs, kvColumns},
		{"runs kv optional", runs, kvOptional},
		{"joins", trace.JoinSchema, joinColumns},
		{"ops", trace.OpSchema, opColumns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, c := range tc.cols {
				i := tc.schema.ColumnIndex(c.name)
				if i < 0 {
					t.Errorf("%s has no column %s", tc.schema.Name, c.name)
					continue
				}
				got := tc.schema.Columns[i].Type
				if got != c.typ && !(c.typ == trace.String && got == trace.Text) {
					t.Errorf("%s.%s is %s, analysis reads %s", tc.schema.Name, c.name, got, c.typ)
				}
			}
		})
	}
}
