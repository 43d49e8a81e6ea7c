package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
	"github.com/dhtexp/dhtexp/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestAnalyzeSmall checks the aggregates of the hand-made set against
// numbers worked out by hand (see smallSet).
func TestAnalyzeSmall(t *testing.T) {
	s := analyze(t, writeSet(t, smallSet()), Options{})
	if s.XAxis != "joiners" || !s.XNumeric || len(s.Series) != 2 {
		t.Fatalf("x axis %q numeric %v, %d series; want joiners, numeric, 2", s.XAxis, s.XNumeric, len(s.Series))
	}
	if got := s.Series[0].Label; got != "protocol=seed" {
		t.Errorf("series 0 label %q", got)
	}
	ms := func(v float64) Num { return Num(v * 1e6) }
	tests := []struct {
		point                  int
		runs, ok, joins, jok   int64
		p50, p90, p99, max     Num
		msgsPerJoin, hopsPerJn Num
		eventsPerSec           Num
		failures               string
	}{
		// Latencies at point 1: (j+1) ms + replica × 0.25 ms for joins j < 4,
		// less replica 3's last join: 15 values 1, 1.25, ..., 4.5 ms. The
		// nearest-rank p50 is the 8th (2.75), p90 the 14th, p99 the 15th.
		{1, 4, 3, 16, 15, ms(2.75), ms(4.25), ms(4.5), ms(4.5), 4.75, 0.75, 400_000, "not_joined 1"},
		{0, 4, 4, 4, 4, ms(1.25), ms(1.75), ms(1.75), ms(1.75), 4, 0, 100_000, "-"},
		{2, 4, 2, 64, 63, ms(8.75), ms(15), ms(16.5), ms(16.5), 4.9375, 0.9375, 1_600_000, "wrong_neighbours 1, not_joined 1"},
		{5, 4, 4, 64, 64, ms(8.75), ms(15.25), ms(16.75), ms(16.75), 4.9375, 0.9375, 1_600_000, "-"},
	}
	for _, tt := range tests {
		p := s.Points[tt.point]
		if p.Runs != tt.runs || p.RunsOK != tt.ok || p.Joins != tt.joins || p.JoinsOK != tt.jok {
			t.Errorf("point %d: runs %d ok %d joins %d ok %d, want %d %d %d %d", tt.point, p.Runs, p.RunsOK, p.Joins, p.JoinsOK, tt.runs, tt.ok, tt.joins, tt.jok)
		}
		if p.LatencyP50 != tt.p50 || p.LatencyP90 != tt.p90 || p.LatencyP99 != tt.p99 || p.LatencyMax != tt.max {
			t.Errorf("point %d: latency p50/p90/p99/max %v/%v/%v/%v, want %v/%v/%v/%v", tt.point, p.LatencyP50, p.LatencyP90, p.LatencyP99, p.LatencyMax, tt.p50, tt.p90, tt.p99, tt.max)
		}
		if math.Abs(float64(p.MessagesPerJoin-tt.msgsPerJoin)) > 1e-12 || math.Abs(float64(p.HopsPerJoin-tt.hopsPerJn)) > 1e-12 {
			t.Errorf("point %d: msgs/join %v hops/join %v, want %v %v", tt.point, p.MessagesPerJoin, p.HopsPerJoin, tt.msgsPerJoin, tt.hopsPerJn)
		}
		if math.Abs(float64(p.EventsPerSecond-tt.eventsPerSec)) > 1e-6 {
			t.Errorf("point %d: events/s %v, want %v", tt.point, p.EventsPerSecond, tt.eventsPerSec)
		}
		if got := fmtFailures(p.Failures); got != tt.failures {
			t.Errorf("point %d: failures %q, want %q", tt.point, got, tt.failures)
		}
		if p.LatencySource != trace.TableJoins || !p.LatencyExact {
			t.Errorf("point %d: latency source %q exact %v", tt.point, p.LatencySource, p.LatencyExact)
		}
	}
	// 3 of 4 runs ok: Wilson 95% [0.3006, 0.9544].
	if r := s.Points[1].RunSuccess; math.Abs(float64(r.Lo)-0.30064) > 1e-4 || math.Abs(float64(r.Hi)-0.95441) > 1e-4 {
		t.Errorf("point 1 run success interval [%v, %v]", r.Lo, r.Hi)
	}
	if s.RunsTable.Rows != 24 || s.JoinsTable.Rows != 4*2*(1+4+16) || s.Runs != 24 {
		t.Errorf("tables: runs %d rows, joins %d rows, %d runs", s.RunsTable.Rows, s.JoinsTable.Rows, s.Runs)
	}
}

// TestAnalyzeRunsOnly checks the fallback to the runs table's totals and
// per-run medians when there is no joins table.
func TestAnalyzeRunsOnly(t *testing.T) {
	set := smallSet()
	set.Trace = trace.LevelNone
	s := analyze(t, writeSet(t, set), Options{})
	p := s.Points[1]
	// Per-run medians at point 1: 2, 2.25, 2.5 and 2.75 ms (replica 3 has
	// three successful joins, median 2.75); their nearest-rank median is
	// 2.25 ms. The maximum comes from latency_max_ns.
	if p.LatencySource != trace.TableRuns || p.LatencyP50 != 2.25e6 || p.LatencyMax != 4.5e6 {
		t.Errorf("source %q p50 %v max %v, want runs 2.25e6 4.5e6", p.LatencySource, p.LatencyP50, p.LatencyMax)
	}
	if p.MessagesPerJoin != 4.75 || p.HopsPerJoin != 0.75 {
		t.Errorf("msgs/join %v hops/join %v, want 4.75 0.75", p.MessagesPerJoin, p.HopsPerJoin)
	}
	if s.JoinsTable.Parts != 0 {
		t.Errorf("joins parts %d", s.JoinsTable.Parts)
	}
}

// TestAnalyzeShardsAndRowGroups: several parts (as merged shards leave)
// and small row groups give the same table as one part.
func TestAnalyzeShardsAndRowGroups(t *testing.T) {
	var want bytes.Buffer
	if err := WriteTable(&want, analyze(t, writeSet(t, smallSet()), Options{}), FormatJSON); err != nil {
		t.Fatal(err)
	}
	set := smallSet()
	set.Parts, set.RowGroupRows, set.Trace = 5, 3, trace.LevelMessages
	s := analyze(t, writeSet(t, set), Options{})
	var got bytes.Buffer
	if err := WriteTable(&got, s, FormatJSON); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("5 parts with 3-row groups differ from one part:\n%s\nwant\n%s", got.String(), want.String())
	}
	if s.RunsTable.Parts != 5 || s.EventsTable.Parts != 5 {
		t.Errorf("parts: runs %d events %d, want 5 5", s.RunsTable.Parts, s.EventsTable.Parts)
	}
}

func TestAnalyzeXAxis(t *testing.T) {
	dir := writeSet(t, smallSet())
	s := analyze(t, dir, Options{X: "protocol"})
	if s.XAxis != "protocol" || s.XNumeric || len(s.Series) != 3 {
		t.Fatalf("x %q numeric %v series %d", s.XAxis, s.XNumeric, len(s.Series))
	}
	// A categorical axis places values at their index in the spec.
	if s.Points[3].X != 1 || s.Points[0].X != 0 {
		t.Errorf("x positions %v %v", s.Points[0].X, s.Points[3].X)
	}
	rs, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Analyze(rs, Options{X: "nodes"}); err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "joiners") {
		t.Errorf("unknown x axis: %v", err)
	}
	// A duration axis is numeric, in milliseconds.
	s = analyze(t, writeSet(t, randomSet(1, 3, func(int) float64 { return 0 })), Options{X: "delay.max"})
	if !s.XNumeric || s.XUnit != "ms" || s.Points[1].X != 10 || s.XLabel() != "delay.max (ms)" {
		t.Errorf("duration axis: numeric %v unit %q x %v label %q", s.XNumeric, s.XUnit, s.Points[1].X, s.XLabel())
	}
}

// TestSweepGroups: with several sweep groups a point's params hold only its
// own group's axes. Here points 0-2 sweep joiners alone and 3-5 sweep
// protocol and joiners.
func TestSweepGroups(t *testing.T) {
	dir := writeSet(t, smallSet())
	editManifest(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) {
		for _, g := range m["grid"].([]any)[:3] {
			delete(g.(map[string]any)["params"].(map[string]any), "protocol")
		}
	})
	s := analyze(t, dir, Options{})
	if len(s.Series) != 2 || s.Series[0].Label != "concurrency" || s.Series[1].Label != "protocol=locked" {
		t.Errorf("series %+v %+v", s.Series[0], s.Series[1])
	}
	var text bytes.Buffer
	if err := WriteTable(&text, s, FormatText); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "\n1      -         4 ") {
		t.Errorf("an axis a point's group does not sweep should read -:\n%s", text.String())
	}
	// Along protocol, points without it have no place on the x axis.
	s = analyze(t, dir, Options{X: "protocol"})
	if !math.IsNaN(float64(s.Points[0].X)) || s.XTick(s.Points[0]) != "base" {
		t.Errorf("x of a point without the axis: %v %q", s.Points[0].X, s.XTick(s.Points[0]))
	}
	if err := WriteReport(filepath.Join(t.TempDir(), "report"), s); err != nil {
		t.Fatal(err)
	}
	b := NewBaseline(s)
	if res, err := Check(b, s, DefaultCheckOptions()); err != nil || len(res.Points) != 6 {
		t.Errorf("check against itself: %v", err)
	}
}

// TestAnalyzeIncomplete: grid points without runs (an unfinished sweep)
// are reported with no data rather than refused.
func TestAnalyzeIncomplete(t *testing.T) {
	set := smallSet()
	set.Skip = func(point, replica int) bool { return point == 4 || replica == 0 }
	s := analyze(t, writeSet(t, set), Options{})
	if p := s.Points[4]; p.Runs != 0 || !math.IsNaN(float64(p.RunSuccess.Value)) || !math.IsNaN(float64(p.LatencyP50)) {
		t.Errorf("point without runs: %+v", p)
	}
	if s.Points[0].Runs != 3 || s.Runs != 15 {
		t.Errorf("runs %d total %d", s.Points[0].Runs, s.Runs)
	}
	for _, f := range Formats {
		if err := WriteTable(new(bytes.Buffer), s, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestBadInput: each broken input is an *InputError naming the file.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		// breakIt damages a fresh result set and returns the path the
		// error must name.
		breakIt func(t *testing.T, dir string) string
		want    string
	}{
		{"empty folder", func(t *testing.T, dir string) string {
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
			return dir
		}, "not a result set"},
		{"a file", func(t *testing.T, dir string) string {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("x"), 0o644)
			return dir
		}, "not a folder"},
		{"missing folder", func(t *testing.T, dir string) string {
			os.RemoveAll(dir)
			return dir
		}, "no such result set folder"},
		{"bad manifest", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "manifest.json")
			os.WriteFile(p, []byte("{not json"), 0o644)
			return p
		}, "not a result set manifest"},
		{"manifest format", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "manifest.json")
			editManifest(t, p, func(m map[string]any) { m["format"] = 7 })
			return p
		}, "format 7 is newer"},
		{"unknown trace level", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "manifest.json")
			editManifest(t, p, func(m map[string]any) { m["trace"] = "runs" })
			return p
		}, `field trace: unknown trace level "runs"`},
		{"no runs", func(t *testing.T, dir string) string {
			editManifest(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) { m["parts"] = []string{} })
			return filepath.Join(dir, "runs")
		}, "no part-*.parquet"},
		{"no runs, unlisted", func(t *testing.T, dir string) string {
			os.RemoveAll(filepath.Join(dir, "runs"))
			editManifest(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) { delete(m, "parts") })
			return filepath.Join(dir, "runs")
		}, "no part-*.parquet"},
		{"listed joins part missing", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "joins", "part-000000.parquet")
			os.Remove(p)
			return p
		}, "listed in manifest.json but missing"},
		{"listed part missing", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "runs", "part-000001.parquet")
			os.Remove(p)
			return p
		}, "listed in manifest.json but missing"},
		{"truncated runs part", func(t *testing.T, dir string) string {
			return truncate(t, filepath.Join(dir, "runs", "part-000000.parquet"))
		}, "part-000000.parquet"},
		{"truncated joins part", func(t *testing.T, dir string) string {
			return truncate(t, filepath.Join(dir, "joins", "part-000001.parquet"))
		}, "part-000001.parquet"},
		{"not parquet", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "events", "part-000000.parquet")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("hello"), 0o644)
			return p
		}, "not a readable Parquet file"},
		{"joins in runs", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "runs", "part-000000.parquet")
			copyFile(t, filepath.Join(dir, "joins", "part-000000.parquet"), p)
			return p
		}, "schema is dhtexp.joins, want dhtexp.runs"},
		{"part merged twice", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "runs", "part-000002.parquet")
			copyFile(t, filepath.Join(dir, "runs", "part-000000.parquet"), p)
			copyFile(t, filepath.Join(dir, "joins", "part-000000.parquet"), filepath.Join(dir, "joins", "part-000002.parquet"))
			editManifest(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) {
				m["parts"] = append(m["parts"].([]any), "part-000002.parquet")
			})
			return p
		}, "more than once"},
		{"join of unknown run", func(t *testing.T, dir string) string {
			os.Remove(filepath.Join(dir, "runs", "part-000000.parquet"))
			editManifest(t, filepath.Join(dir, "manifest.json"), func(m map[string]any) { delete(m, "parts") })
			return filepath.Join(dir, "joins", "part-000000.parquet")
		}, "not in the runs table"},
		{"grid point out of range", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "manifest.json")
			editManifest(t, p, func(m map[string]any) { m["grid"] = m["grid"].([]any)[:2] })
			return filepath.Join(dir, "runs", "part-000000.parquet")
		}, "not in the manifest grid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := smallSet()
			set.Parts = 2
			dir := writeSet(t, set)
			path := tt.breakIt(t, dir)
			rs, err := Open(dir)
			if err == nil {
				_, err = Analyze(rs, Options{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !IsInputError(err) {
				t.Errorf("error %v (%T) is not an InputError", err, errors.Unwrap(err))
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q should name %s and say %q", err, path, tt.want)
			}
		})
	}
}

func truncate(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func editManifest(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTableGolden compares every table format with testdata/table.*.
// Run with -update to rewrite them after an intended change.
func TestTableGolden(t *testing.T) {
	s := analyze(t, writeSet(t, smallSet()), Options{})
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteTable(&buf, s, f); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "table."+string(f)), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(string(f)); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) succeeded")
	}
}

var _ = analysistest.SpecHash
