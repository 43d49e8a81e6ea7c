package analysis

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
	"github.com/dhtexp/dhtexp/trace"
)

func TestCompleteness(t *testing.T) {
	// summary builds a 4-point grid of 10 seeds each with the given runs per point.
	summary := func(shard trace.Shard, finished string, runs ...int64) *Summary {
		s := &Summary{Manifest: &trace.Manifest{Seeds: 10, RunsTotal: 40, Shard: shard, Finished: finished}}
		for i, n := range runs {
			s.Manifest.Grid = append(s.Manifest.Grid, trace.GridPoint{Point: i})
			s.Points = append(s.Points, &Point{Index: i, Runs: n})
			s.Runs += n
		}
		return s
	}
	whole, done := trace.Shard{Index: 0, Count: 1}, "2025-01-01T00:00:00Z"
	for _, tc := range []struct {
		name           string
		s              *Summary
		empty, partial []int
		banner         []string // in the banner; none: no banner
	}{
		{"complete", summary(whole, done, 10, 10, 10, 10), nil, nil, nil},
		{"stopped", summary(whole, "", 10, 4, 0, 0), []int{2, 3}, []int{1},
			[]string{"14 of 40 planned runs present (35.0 %)", "of 4 grid points, 2 have no runs and 1 only some", "Empty grid points: 2, 3.", "--resume"}},
		{"one point empty", summary(whole, "", 10, 10, 10, 0), []int{3}, nil,
			[]string{"30 of 40", "1 has no runs and 0 only some"}},
		{"shard 1 of 2", summary(trace.Shard{Index: 1, Count: 2}, done, 4, 6, 5, 5), nil, []int{0, 1, 2, 3},
			[]string{"20 of 40", "shard 1/2 (2-of-2 counting from 1; shards count from 0)", "dhtexp merge"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CompletenessOf(tc.s)
			if !slices.Equal(c.Empty, tc.empty) || !slices.Equal(c.Partial, tc.partial) {
				t.Errorf("empty %v partial %v, want %v %v", c.Empty, c.Partial, tc.empty, tc.partial)
			}
			b := c.Banner()
			if (b == "") != (tc.banner == nil) || c.Complete() != (tc.banner == nil) {
				t.Fatalf("complete %v, banner %q", c.Complete(), b)
			}
			for _, want := range tc.banner {
				if !strings.Contains(b, want) {
					t.Errorf("banner %q lacks %q", b, want)
				}
			}
			if tc.s.Manifest.Shard.Count > 1 && strings.Contains(b, "--resume") {
				t.Errorf("a finished shard is told to resume: %q", b)
			}
		})
	}
}

func TestListIntsIsBounded(t *testing.T) {
	xs := make([]int, 100)
	for i := range xs {
		xs[i] = i
	}
	if got, want := listInts(xs, 3), "0, 1, 2 and 97 more"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The report of an incomplete result set says so at the top of both pages, and that of a
// complete one does not.
func TestReportBannerOnIncompleteSet(t *testing.T) {
	partial := analysistest.Small()
	partial.Skip = func(point, replica int) bool { return point >= 4 || (point == 3 && replica > 0) }
	for _, tc := range []struct {
		name string
		set  *analysistest.Set
		want string // "" for no banner
	}{
		{"complete", analysistest.Small(), ""},
		{"partial", partial, "13 of 24 planned runs present"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "results")
			if err := analysistest.Write(dir, tc.set); err != nil {
				t.Fatal(err)
			}
			rs, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Analyze(rs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "report")
			if err := WriteReport(out, s); err != nil {
				t.Fatal(err)
			}
			// before marks what the banner must precede: the result set's facts.
			for _, page := range []struct{ file, head, before string }{
				{ReportHTML, `<p class="incomplete" role="alert">`, `<h2 id="result-set">`},
				{ReportMarkdown, "> **Incomplete result set.**", "\n- "},
			} {
				b, err := os.ReadFile(filepath.Join(out, page.file))
				if err != nil {
					t.Fatal(err)
				}
				text := string(b)
				i := strings.Index(text, page.head)
				if tc.want == "" {
					if i >= 0 {
						t.Errorf("%s: banner on a complete set", page.file)
					}
					continue
				}
				if i < 0 || i > strings.Index(text, page.before) || !strings.Contains(text[i:], tc.want) {
					t.Errorf("%s: no banner with %q above the facts:\n%.800s", page.file, tc.want, text)
				}
			}
		})
	}
}
