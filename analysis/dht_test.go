package analysis

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/analysis/analysistest"
	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/trace"
)

var (
	axProtocol = analysistest.Axis{Name: "protocol", Values: []any{"seed", "predlock"}}
	axNodes    = analysistest.Axis{Name: "nodes", Values: []any{12, 60, 252}}
	axJoiners  = analysistest.Axis{Name: "joiners", Values: []any{1, 4, 16}}
)

// dhtSet is the DHT fixture over protocol × nodes (joiners 4, so ring
// sizes 16, 64 and 256), with an ops table.
func dhtSet() *analysistest.Set {
	return analysistest.DHT([]analysistest.Axis{axProtocol, axNodes}, true)
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestDHTAggregate checks the DHT aggregates against numbers worked out by
// hand from the fixture's rules (analysistest.DHT).
func TestDHTAggregate(t *testing.T) {
	s := analyze(t, writeSet(t, dhtSet()), Options{})
	d := s.DHT
	if d == nil {
		t.Fatal("no DHT summary for a result set with a workload")
	}
	if len(d.Points) != 6 || d.Runs != 18 || !slices.Equal(d.Varying, []string{"protocol", "nodes"}) {
		t.Fatalf("%d points, %d runs, varying %v; want 6, 18, [protocol nodes]", len(d.Points), d.Runs, d.Varying)
	}
	if d.LatencySource != trace.TableOps || d.OpsTable.Parts != 1 || d.OpsTable.Rows != 18*35 {
		t.Errorf("latency source %q, ops table %+v; want ops, 1 part of 630 rows", d.LatencySource, d.OpsTable)
	}

	// Point 0: seed, 12 nodes + 4 joiners = 16, h = 2. Replica r has
	// 10 - r successful lookups with 2 forwards each and one more for r of
	// them: (hops, ok) = (20, 10), (19, 9), (18, 8), so 57 / 27 forwards
	// per lookup. Residuals y - R·x: 20 - 21.111, 19 - 19, 18 - 16.889,
	// Σ² = 2.4691; se = √(2.4691 / 2 / 3) / 9 = 0.071278; t(0.975, 2) =
	// 4.302653 gives ±0.306684.
	p := d.Points[0]
	if p.Index != 0 || p.RingSize != 16 || p.Nodes != 12 || p.Joiners != 4 || p.Runs != 3 {
		t.Fatalf("point 0: index %d ring %d nodes %d joiners %d runs %d", p.Index, p.RingSize, p.Nodes, p.Joiners, p.Runs)
	}
	if p.LookupHops != 57 || p.LookupsOK != 27 || p.HopRuns != 3 {
		t.Errorf("point 0: %d hops over %d lookups in %d runs, want 57 27 3", p.LookupHops, p.LookupsOK, p.HopRuns)
	}
	h := p.HopsPerLookup
	if !near(float64(h.Value), 57.0/27, 1e-12) || !near(float64(h.Lo), 2.1111111-0.3066837, 1e-6) || !near(float64(h.Hi), 2.1111111+0.3066837, 1e-6) {
		t.Errorf("point 0 hops per lookup %v [%v, %v], want 2.111111 [1.804427, 2.417795]", h.Value, h.Lo, h.Hi)
	}
	if p.HopsReference != 2 || d.Points[2].HopsReference != 4 {
		t.Errorf("½·log2 N: %v and %v, want 2 and 4", p.HopsReference, d.Points[2].HopsReference)
	}
	w := stats.Wilson(27, 30, stats.Z95)
	if p.Lookups != 30 || p.LookupSuccess.Value != 0.9 || float64(p.LookupSuccess.Lo) != w.Lo || float64(p.LookupSuccess.Hi) != w.Hi {
		t.Errorf("point 0 lookup success %d lookups %+v, want 30 0.9 %+v", p.Lookups, p.LookupSuccess, w)
	}
	// Gets: 20 a run; missing r·4/4 = 0, 1, 2 and one stale at r = 2.
	if p.Gets != 60 || p.Missing != 3 || p.Stale != 1 || !near(float64(p.Inconsistency.Value), 4.0/60, 1e-15) {
		t.Errorf("point 0 gets %d missing %d stale %d inconsistency %v", p.Gets, p.Missing, p.Stale, p.Inconsistency.Value)
	}
	if p.StaleFingers != 0.1 || d.Points[3].StaleFingers != 0 {
		t.Errorf("stale finger share %v (seed) and %v (predlock), want 0.1 and 0", p.StaleFingers, d.Points[3].StaleFingers)
	}
	// Successful lookups' latencies at point 0: (j+1) ms + r·0.1 ms for
	// j < 10 - r; 27 values, the 14th (nearest-rank median) is 5.1 ms.
	if p.LatencyP50 != 5.1e6 || p.LatencyP99 != 10e6 || p.LatencyMax != 10e6 || !p.LatencyExact {
		t.Errorf("point 0 lookup latency p50 %v p99 %v max %v", p.LatencyP50, p.LatencyP99, p.LatencyMax)
	}
	// Predlock loses nothing.
	if q := d.Points[3]; q.LookupSuccess.Value != 1 || q.Inconsistency.Value != 0 || q.UnsafeRuns != 0 || q.LatencyP50 != 5.2e6 {
		t.Errorf("point 3: lookup success %v inconsistency %v unsafe %d p50 %v", q.LookupSuccess.Value, q.Inconsistency.Value, q.UnsafeRuns, q.LatencyP50)
	}
	// Key safety: one key lost in replica 2 of seed at N = 256 (run 8).
	q := d.Points[2]
	if q.UnsafeRuns != 1 || q.Lost != 1 || q.KeyFailures != 1 || q.FirstKeyFailureRun != 8 || !strings.Contains(q.FirstKeyFailure, "k7 lost") {
		t.Errorf("point 2 key safety: unsafe %d lost %d failures %d first %d %q", q.UnsafeRuns, q.Lost, q.KeyFailures, q.FirstKeyFailureRun, q.FirstKeyFailure)
	}
	if d.UnsafeRuns != 1 || d.Lost != 1 || d.Duplicated != 0 || d.Misplaced != 0 {
		t.Errorf("totals: unsafe %d lost %d dup %d misplaced %d", d.UnsafeRuns, d.Lost, d.Duplicated, d.Misplaced)
	}

	// Without an ops table, latencies are the runs' medians: 5, 5.1 and
	// 4.2 ms at point 0, whose median is 5 ms.
	set := dhtSet()
	set.Ops = false
	s = analyze(t, writeSet(t, set), Options{})
	if p := s.DHT.Points[0]; s.DHT.LatencySource != trace.TableRuns || p.LatencyP50 != 5e6 || p.LatencyMax != 5.1e6 {
		t.Errorf("runs-only latency: source %q p50 %v max %v, want runs 5e6 5.1e6", s.DHT.LatencySource, p.LatencyP50, p.LatencyMax)
	}
	if !near(float64(s.DHT.Points[0].HopsPerLookup.Value), 57.0/27, 1e-12) {
		t.Error("hops per lookup depend on the ops table")
	}
}

// TestDHTPartsAgree: several parts and small row groups give the same DHT
// table as one part.
func TestDHTPartsAgree(t *testing.T) {
	table := func(set *analysistest.Set) string {
		var b bytes.Buffer
		s := analyze(t, writeSet(t, set), Options{})
		s.DHT.OpsTable.Parts = 0 // a part per part, the only expected difference
		if err := WriteTable(&b, s, FormatJSON); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := table(dhtSet())
	set := dhtSet()
	set.Parts, set.RowGroupRows = 4, 2
	if got := table(set); got != want {
		t.Errorf("4 parts with 2-row groups differ from one part:\n%s\nwant\n%s", got, want)
	}
}

// dhtFigureNames makes the DHT figures of s without rasterising them and
// returns the names of those with data, and the notes on the others.
func dhtFigureNames(t *testing.T, s *Summary) (names, notes []string) {
	t.Helper()
	specs, notes := dhtFigureSpecs(s)
	for _, sp := range specs {
		_, ok, err := sp.make()
		if err != nil {
			t.Fatalf("%s: %v", sp.name, err)
		}
		if ok {
			names = append(names, sp.name)
		}
	}
	return names, notes
}

// TestDHTFiguresOnlyWhenXVaries: a figure against ring size needs two ring
// sizes, one against joiners two joiner counts, the CDF an ops table.
func TestDHTFiguresOnlyWhenXVaries(t *testing.T) {
	const (
		hops    = "dht_lookup_hops"
		success = "dht_lookup_success"
		cdf     = "dht_lookup_latency_cdf"
		incons  = "dht_inconsistency"
	)
	tests := []struct {
		name string
		axes []analysistest.Axis
		ops  bool
		want []string
		note string
	}{
		{"nodes vary", []analysistest.Axis{axProtocol, axNodes}, true, []string{hops, success, cdf}, "joiners does not vary"},
		{"joiners vary", []analysistest.Axis{axProtocol, axJoiners}, true, []string{hops, success, cdf, incons}, ""},
		{"protocol only", []analysistest.Axis{axProtocol}, true, []string{cdf}, "ring size does not vary"},
		{"no ops table", []analysistest.Axis{axNodes}, false, []string{hops, success}, "No ops table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := analyze(t, writeSet(t, analysistest.DHT(tt.axes, tt.ops)), Options{})
			got, notes := dhtFigureNames(t, s)
			if !slices.Equal(got, tt.want) {
				t.Errorf("figures %v, want %v", got, tt.want)
			}
			if tt.note != "" && !strings.Contains(strings.Join(notes, "\n"), tt.note) {
				t.Errorf("notes %q lack %q", notes, tt.note)
			}
		})
	}
}

// TestDHTHopsFigure renders the hops figure: one line per protocol, and the
// ½·log2 N reference labelled as such.
func TestDHTHopsFigure(t *testing.T) {
	s := analyze(t, writeSet(t, dhtSet()), Options{})
	groups := ringGroups(s, s.DHT.Points)
	if len(groups) != 2 || groups[0].label != "protocol=seed" || groups[1].label != "protocol=predlock" || len(groups[0].points) != 3 {
		t.Fatalf("groups %+v", groups)
	}
	l, ok, err := hopsFigure(s)
	if err != nil || !ok {
		t.Fatalf("hops figure: %v %v", ok, err)
	}
	pngData, svg, err := render(l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(pngData)); err != nil {
		t.Error(err)
	}
	checkSVG(t, "hops", svg)
	for _, label := range []string{HopsReferenceLabel, "protocol=seed", "protocol=predlock", "ring size N"} {
		if !bytes.Contains(svg, []byte(label)) {
			t.Errorf("the hops figure lacks %q", label)
		}
	}
	// Nodes and joiners both varying: a line per protocol while every
	// point of a line has its own N, split by joiners once two would share
	// one (12 + 4 = 14 + 2).
	s = analyze(t, writeSet(t, analysistest.DHT([]analysistest.Axis{axProtocol, axNodes, axJoiners}, false)), Options{})
	if g := ringGroups(s, s.DHT.Points); len(g) != 2 {
		t.Errorf("%d lines for distinct ring sizes, want 2 (one per protocol)", len(g))
	}
	clash := analysistest.DHT([]analysistest.Axis{axProtocol, {Name: "nodes", Values: []any{12, 14}}, {Name: "joiners", Values: []any{4, 2}}}, false)
	s = analyze(t, writeSet(t, clash), Options{})
	g := ringGroups(s, s.DHT.Points)
	if len(g) != 4 || g[0].label != "protocol=seed, joiners=4" {
		t.Errorf("with 12+4 = 14+2 the lines should split by joiners: %d lines, first %q", len(g), g[0].label)
	}
}

// TestDHTLatencyGroups: the CDF has a line per grid point up to eight,
// then pools ring sizes and joiner counts.
func TestDHTLatencyGroups(t *testing.T) {
	s := analyze(t, writeSet(t, dhtSet()), Options{})
	if g, how := cdfGroups(s); len(g) != 6 || how != "one line per grid point" {
		t.Errorf("6 points: %d lines, %q", len(g), how)
	}
	s = analyze(t, writeSet(t, analysistest.DHT([]analysistest.Axis{axProtocol, axNodes, axJoiners}, true)), Options{})
	g, how := cdfGroups(s)
	if len(g) != 2 || !strings.Contains(how, "one line per protocol, pooling nodes and joiners") {
		t.Errorf("18 points: %d lines, %q", len(g), how)
	}
	var n int64
	for _, p := range g[0].points {
		n += p.LookupLatency.N()
	}
	if n != 9*27 {
		t.Errorf("seed line pools %d lookups, want %d", n, 9*27)
	}
}

// TestDHTAbsent: a result set without a workload, with or without the kv
// columns, has no DHT summary and renders exactly as before.
func TestDHTAbsent(t *testing.T) {
	plain := analyze(t, writeSet(t, smallSet()), Options{})
	withCols := smallSet()
	withCols.KV = true // version 3 columns, every kv value 0
	kvZero := analyze(t, writeSet(t, withCols), Options{})
	for _, s := range []*Summary{plain, kvZero} {
		if s.DHT != nil {
			t.Fatalf("DHT summary without a workload: %+v", s.DHT)
		}
	}
	for _, f := range Formats {
		var a, b bytes.Buffer
		if err := WriteTable(&a, plain, f); err != nil {
			t.Fatal(err)
		}
		if err := WriteTable(&b, kvZero, f); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s: the kv columns alone changed the table:\n%s\nwant\n%s", f, b.String(), a.String())
		}
		if strings.Contains(b.String(), "lookup") || strings.Contains(b.String(), "dht") {
			t.Errorf("%s: DHT output without a workload:\n%s", f, b.String())
		}
	}
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, kvZero); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(out, ReportHTML))
	md, _ := os.ReadFile(filepath.Join(out, ReportMarkdown))
	// (Checking for "DHT" alone would find it in the base64 of a figure, and
	// in the replay commands, which name the result set's folder, named
	// after this test.)
	if bytes.Contains(page, []byte(`id="dht"`)) || bytes.Contains(page, []byte("DHT workload")) || bytes.Contains(md, []byte("## DHT")) {
		t.Error("the report has a DHT section without a workload")
	}
	if figs, _ := filepath.Glob(filepath.Join(out, ReportFigures, "dht_*")); len(figs) > 0 {
		t.Errorf("DHT figures without a workload: %v", figs)
	}
}

// TestDHTTables: the DHT table follows the main one in text and Markdown,
// extends the CSV rows and adds a dht object to the JSON; points without a
// workload are left out of it (and get empty CSV cells).
func TestDHTTables(t *testing.T) {
	set := analysistest.DHT([]analysistest.Axis{axProtocol, axJoiners}, true)
	inner := set.Run
	set.Run = func(point, replica int) analysistest.Run {
		r := inner(point, replica)
		if point == 5 {
			r.KV, r.Ops = nil, nil
		}
		return r
	}
	s := analyze(t, writeSet(t, set), Options{})
	if len(s.DHT.Points) != 5 || s.DHT.point(5) != nil {
		t.Fatalf("%d DHT points, want 5 without point 5", len(s.DHT.Points))
	}
	for _, f := range []Format{FormatText, FormatMarkdown} {
		t.Run(string(f), func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteTable(&b, s, f); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "dht."+string(f)), b.Bytes())
		})
	}

	var b bytes.Buffer
	if err := WriteTable(&b, s, FormatCSV); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(rows[0], "hops_per_lookup")
	ring := slices.Index(rows[0], "ring_size")
	if col < 0 || ring < 0 || len(rows) != 7 {
		t.Fatalf("CSV header %v, %d rows", rows[0], len(rows))
	}
	// Point 1: seed with 4 joiners, N = 16, as point 0 of dhtSet.
	if got, _ := strconv.ParseFloat(rows[2][col], 64); got != 57.0/27 || rows[2][ring] != "16" {
		t.Errorf("point 1 hops per lookup %q ring %q, want %v 16", rows[2][col], rows[2][ring], 57.0/27)
	}
	if rows[6][col] != "" || rows[6][ring] != "" {
		t.Errorf("point 5 without a workload has DHT cells %q %q", rows[6][col], rows[6][ring])
	}

	b.Reset()
	if err := WriteTable(&b, s, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var js struct {
		DHT struct {
			Points []struct {
				Point         int `json:"point"`
				HopsPerLookup struct {
					Value float64 `json:"value"`
				} `json:"hops_per_lookup"`
				HopsReference float64 `json:"hops_reference"`
			} `json:"points"`
			Varying []string `json:"varying"`
		} `json:"dht"`
	}
	if err := json.Unmarshal(b.Bytes(), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.DHT.Points) != 5 || js.DHT.Points[1].HopsPerLookup.Value != 57.0/27 || js.DHT.Points[1].HopsReference != 2 {
		t.Errorf("JSON dht: %+v", js.DHT)
	}
}

// TestDHTOpsFiles: the ops tables are found under another naming or in the
// result set folder, and the same run's operations in two files, or a file
// of another table, are refused.
func TestDHTOpsFiles(t *testing.T) {
	p50 := func(t *testing.T, dir string) (Num, error) {
		rs, err := Open(dir)
		if err != nil {
			return 0, err
		}
		s, err := Analyze(rs, Options{})
		if err != nil {
			return 0, err
		}
		if s.DHT.LatencySource != trace.TableOps {
			t.Errorf("latency source %q with ops files %v", s.DHT.LatencySource, rs.Ops)
		}
		return s.DHT.Points[0].LatencyP50, nil
	}
	part := func(dir string) string { return filepath.Join(dir, "ops", "part-000000.parquet") }
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // an error, or "" for the usual p50
	}{
		{"as written", func(*testing.T, string) {}, ""},
		{"other name under ops/", func(t *testing.T, dir string) {
			os.Rename(part(dir), filepath.Join(dir, "ops", "ops-000000.parquet"))
		}, ""},
		{"ops.parquet beside runs/", func(t *testing.T, dir string) {
			os.Rename(part(dir), filepath.Join(dir, "ops.parquet"))
			os.Remove(filepath.Join(dir, "ops"))
		}, ""},
		{"copied", func(t *testing.T, dir string) {
			copyFile(t, part(dir), filepath.Join(dir, "ops-copy.parquet"))
		}, "in another ops file too"},
		{"joins in ops", func(t *testing.T, dir string) {
			copyFile(t, filepath.Join(dir, "joins", "part-000000.parquet"), part(dir))
		}, "schema is dhtexp.joins, want dhtexp.ops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSet(t, dhtSet())
			tt.setup(t, dir)
			got, err := p50(t, dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatal(err)
			case tt.want == "" && got != 5.1e6:
				t.Errorf("p50 %v, want 5.1e6", got)
			case tt.want != "" && (err == nil || !IsInputError(err) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want an input error saying %q", err, tt.want)
			}
		})
	}
}

// TestWriteReportDHT writes a whole report with a DHT section: its
// figures as files and in the page's own section, the table, and the
// summary.md section.
func TestWriteReportDHT(t *testing.T) {
	s := analyze(t, writeSet(t, analysistest.DHT([]analysistest.Axis{axProtocol, axJoiners}, true)), Options{})
	out := filepath.Join(t.TempDir(), "report")
	if err := WriteReport(out, s); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	_, dhtPart, ok := bytes.Cut(page, []byte(`<h2 id="dht">`))
	// The run facts table follows the DHT section.
	dhtPart, _, _ = bytes.Cut(dhtPart, []byte(`<h2 id="run-facts">`))
	if !ok || !bytes.Contains(page, []byte(`href="#dht"`)) {
		t.Fatal("index.html has no DHT section")
	}
	for _, f := range []string{"dht_lookup_hops", "dht_lookup_success", "dht_lookup_latency_cdf", "dht_inconsistency"} {
		if !bytes.Contains(dhtPart, []byte(`id="fig-`+f+`"`)) {
			t.Errorf("the DHT section lacks figure %s", f)
		}
		raw, err := os.ReadFile(filepath.Join(out, ReportFigures, f+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Errorf("%s.png: %v", f, err)
		}
		raw, err = os.ReadFile(filepath.Join(out, ReportFigures, f+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		checkSVG(t, f+".svg", raw)
	}
	if !bytes.Contains(dhtPart, []byte(`<table class="sortable" id="dht-points">`)) || bytes.Count(dhtPart, []byte("<tr>")) != 1+6 {
		t.Error("the DHT section lacks its sortable table of 6 points")
	}
	md, err := os.ReadFile(filepath.Join(out, ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte("\n## DHT workload\n\n| point |")) || !bytes.Contains(md, []byte("(figures/dht_lookup_hops.svg)")) {
		t.Errorf("summary.md lacks the DHT section:\n%s", md)
	}
	table, err := os.ReadFile(filepath.Join(out, ReportCSV))
	if err != nil || !bytes.Contains(table, []byte(",hops_per_lookup,")) {
		t.Errorf("table.csv lacks the DHT columns: %v", err)
	}
}

// TestDHTLeavesAndReplicas: result sets with graceful leaves or replication get their
// columns, with totals over the runs; sets without them keep the table as it was
// (TestDHTTables' goldens).
func TestDHTLeavesAndReplicas(t *testing.T) {
	set := analysistest.DHT([]analysistest.Axis{axProtocol, axJoiners}, false)
	inner := set.Run
	set.Run = func(point, replica int) analysistest.Run {
		r := inner(point, replica)
		if point == 1 {
			r.KV.Leavers, r.KV.Departed, r.KV.Replicas = 4, 3, 2
			r.KV.ReplicasMissing, r.KV.ReplicasExtra = 1, 10
		}
		return r
	}
	s := analyze(t, writeSet(t, set), Options{})
	p := s.DHT.point(1)
	runs := p.Runs
	if p.Leavers != 4*runs || p.Departed != 3*runs || p.Replicated != runs || p.ReplicasMissing != runs || p.ReplicasExtra != 10*runs {
		t.Fatalf("point 1: %d runs, leavers %d departed %d replicated %d missing %d extra %d",
			runs, p.Leavers, p.Departed, p.Replicated, p.ReplicasMissing, p.ReplicasExtra)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, s, FormatMarkdown); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"departed/leavers", "replicas missing/extra",
		fmt.Sprintf("| %d/%d | %d/%d |", 3*runs, 4*runs, runs, 10*runs)} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}
