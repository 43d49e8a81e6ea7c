package analysis

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dhtexp/dhtexp/trace"
)

// dhtHumanRows is the DHT table for people, one row per grid point with a
// workload. keys holds each cell's sort key for the HTML table ("" for
// text, which sorts as text).
func dhtHumanRows(s *Summary) (header []string, rows, keys [][]string) {
	header = []string{"point"}
	for _, a := range s.Manifest.Axes {
		header = append(header, a.Name)
	}
	header = append(header, "ring N", "runs", "lookups", "lookup ok (95% CI)", "hops/lookup (95% CI)", "½·log2 N",
		"lookup p50 ms", "lookup p99 ms", "gets", "inconsistent gets (95% CI)",
		"unsafe runs", "lost/dup/misplaced", "stale fingers")
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	// Leaves and replication get columns only in result sets that have them.
	var leaves, copies bool
	for _, p := range s.DHT.Points {
		leaves = leaves || p.Leavers > 0
		copies = copies || p.Replicated > 0
	}
	if leaves {
		header = append(header, "departed/leavers")
	}
	if copies {
		header = append(header, "replicas missing/extra")
	}
	for _, p := range s.DHT.Points {
		row := []string{strconv.Itoa(p.Index)}
		key := []string{strconv.Itoa(p.Index)}
		for _, a := range s.Manifest.Axes {
			v, ok := p.Params.Get(a.Name)
			k := ""
			if !ok {
				v.Text = none
			} else if v.Kind == trace.KindNumber || v.Kind == trace.KindDuration {
				k = strconv.FormatFloat(v.Num, 'g', -1, 64)
			}
			row = append(row, v.Text)
			key = append(key, k)
		}
		ring := none
		if p.RingSize > 0 {
			ring = i64(p.RingSize)
		}
		row = append(row, ring, i64(p.Runs), i64(p.Lookups), fmtRateNear(p.LookupSuccess), fmtMean(p.HopsPerLookup, 2),
			fmtFixed(p.HopsReference, 2), fmtMs(p.LatencyP50), fmtMs(p.LatencyP99), i64(p.Gets),
			fmtRateNear(p.Inconsistency), i64(p.UnsafeRuns),
			fmt.Sprintf("%d/%d/%d", p.Lost, p.Duplicated, p.Misplaced), fmtPercent(p.StaleFingers))
		key = append(key, strconv.FormatInt(max(p.RingSize, 0), 10), i64(p.Runs), i64(p.Lookups),
			sortKey(p.LookupSuccess.Value), sortKey(p.HopsPerLookup.Value), sortKey(p.HopsReference),
			sortKey(p.LatencyP50), sortKey(p.LatencyP99), i64(p.Gets), sortKey(p.Inconsistency.Value),
			i64(p.UnsafeRuns), i64(p.Lost+p.Duplicated+p.Misplaced), sortKey(p.StaleFingers))
		if leaves {
			row = append(row, fmt.Sprintf("%d/%d", p.Departed, p.Leavers))
			key = append(key, i64(p.Leavers-p.Departed))
		}
		if copies {
			row = append(row, fmt.Sprintf("%d/%d", p.ReplicasMissing, p.ReplicasExtra))
			key = append(key, i64(p.ReplicasMissing))
		}
		if p.RingSize <= 0 {
			key[len(s.Manifest.Axes)+1] = ""
		}
		rows = append(rows, row)
		keys = append(keys, key)
	}
	return header, rows, keys
}

// fmtRateNear is fmtRate with two decimals when the interval lies within
// a percentage point of 0% or 100%, where DHT rates usually are and one
// decimal would print 0.0% [0.0, 0.0] for thousands of trials.
func fmtRateNear(r Rate) string {
	if math.IsNaN(float64(r.Value)) || r.Hi >= 0.01 && r.Lo <= 0.99 {
		return fmtRate(r)
	}
	return fmt.Sprintf("%.2f%% [%.2f, %.2f]", 100*r.Value, 100*r.Lo, 100*r.Hi)
}

// fmtMean writes an estimate with its interval, or the estimate alone when
// the interval is unknown (a single run).
func fmtMean(m Mean, prec int) string {
	if math.IsNaN(float64(m.Value)) {
		return none
	}
	v := strconv.FormatFloat(float64(m.Value), 'f', prec, 64)
	if math.IsNaN(float64(m.Lo)) || math.IsNaN(float64(m.Hi)) {
		return v
	}
	return fmt.Sprintf("%s [%.*f, %.*f]", v, prec, float64(m.Lo), prec, float64(m.Hi))
}

func fmtPercent(n Num) string {
	if math.IsNaN(float64(n)) {
		return none
	}
	return strconv.FormatFloat(100*float64(n), 'f', 1, 64) + "%"
}

// dhtTitle heads the DHT table in the text and Markdown renderings.
const dhtTitle = "DHT workload"

func writeDHTText(w io.Writer, s *Summary) error {
	header, rows, _ := dhtHumanRows(s)
	return writeSectionText(w, fmt.Sprintf("%s (%d grid points with lookups, gets or puts)", dhtTitle, len(rows)), header, rows)
}

func writeDHTMarkdown(w io.Writer, s *Summary) error {
	header, rows, _ := dhtHumanRows(s)
	return writeSectionMarkdown(w, s, header, rows)
}

// writeSectionText writes a report section's table as aligned text under its
// title.
func writeSectionText(w io.Writer, title string, header []string, rows [][]string) error {
	if _, err := fmt.Fprintf(w, "\n%s:\n", title); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// writeSectionMarkdown writes a report section's table in Markdown, the
// point and axis columns left-aligned and the figures right-aligned.
func writeSectionMarkdown(w io.Writer, s *Summary, header []string, rows [][]string) error {
	right := make([]bool, len(header))
	for i := len(s.Manifest.Axes) + 1; i < len(header); i++ {
		right[i] = true
	}
	return writeMarkdownRows(w, header, rows, right)
}

// dhtCSVHeader and dhtCSVCells extend the CSV table with the DHT columns,
// unrounded, when the result set has a workload; other points get empty
// cells.
func dhtCSVHeader() []string {
	return []string{"ring_size", "dht_runs", "ops", "ops_ok", "lookups", "lookups_ok",
		"lookup_success", "lookup_success_lo", "lookup_success_hi",
		"hops_per_lookup", "hops_per_lookup_lo", "hops_per_lookup_hi", "hop_runs", "hops_reference",
		"lookup_latency_p50_ms", "lookup_latency_p99_ms", "lookup_latency_max_ms", "lookup_latency_source",
		"gets", "missing", "stale", "inconsistency", "inconsistency_lo", "inconsistency_hi",
		"key_checks", "key_failures", "lost", "duplicated", "misplaced", "unsafe_runs",
		"fingers", "fingers_stale", "stale_fingers"}
}

func dhtCSVCells(d *DHT, p *DHTPoint) []string {
	if p == nil {
		return make([]string, len(dhtCSVHeader()))
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	ring := ""
	if p.RingSize > 0 {
		ring = i64(p.RingSize)
	}
	return []string{ring, i64(p.Runs), i64(p.Ops), i64(p.OpsOK), i64(p.Lookups), i64(p.LookupsOK),
		csvNum(p.LookupSuccess.Value), csvNum(p.LookupSuccess.Lo), csvNum(p.LookupSuccess.Hi),
		csvNum(p.HopsPerLookup.Value), csvNum(p.HopsPerLookup.Lo), csvNum(p.HopsPerLookup.Hi), i64(p.HopRuns), csvNum(p.HopsReference),
		csvMs(p.LatencyP50), csvMs(p.LatencyP99), csvMs(p.LatencyMax), d.LatencySource,
		i64(p.Gets), i64(p.Missing), i64(p.Stale),
		csvNum(p.Inconsistency.Value), csvNum(p.Inconsistency.Lo), csvNum(p.Inconsistency.Hi),
		i64(p.KeyChecks), i64(p.KeyFailures), i64(p.Lost), i64(p.Duplicated), i64(p.Misplaced), i64(p.UnsafeRuns),
		i64(p.Fingers), i64(p.FingersStale), csvNum(p.StaleFingers)}
}

// dhtNotes explains the DHT table and says what is missing from it, for
// the report page and summary.md.
func dhtNotes(s *Summary) []string {
	d := s.DHT
	var notes []string
	if d.LatencySource == trace.TableOps {
		notes = append(notes, "Lookup latencies are over successful lookups (answered ok, naming the key's owner), from the ops table.")
	} else {
		notes = append(notes, "No ops table: lookup latencies are the distribution of each run's median (kv_lookup_latency_p50_ns), and there is no latency CDF.")
	}
	notes = append(notes, "Hops per lookup are forwards per successful lookup, with a 95% interval from the spread between runs (t with runs-1 degrees of freedom; none from a single run). ½·log2 N is the Chord paper's expected path length for a ring of N = nodes + joiners.")
	unsafe := fmt.Sprintf("Key safety: %d of %d runs ended with keys lost, duplicated or misplaced", d.UnsafeRuns, d.Runs)
	if d.UnsafeRuns > 0 {
		unsafe += fmt.Sprintf(" (%d lost, %d duplicated, %d misplaced in all)", d.Lost, d.Duplicated, d.Misplaced)
	}
	notes = append(notes, unsafe+".")
	shown := 0
	for _, p := range d.Points {
		if p.FirstKeyFailure == "" {
			continue
		}
		if shown == 5 {
			notes = append(notes, "Later points' first key-safety failures are in the JSON table (first_key_failure).")
			break
		}
		notes = append(notes, fmt.Sprintf("Point %d, first key-safety failure (run %d): %s", p.Index, p.FirstKeyFailureRun, p.FirstKeyFailure))
		shown++
	}
	if n := len(s.Points) - len(d.Points); n > 0 {
		notes = append(notes, fmt.Sprintf("%d grid point(s) without a workload are not in this table.", n))
	}
	for _, p := range d.Points {
		if p.RingSize <= 0 {
			notes = append(notes, fmt.Sprintf("Point %d: its runs differ in nodes or joiners, so it has no single ring size and is left out of the figures against N.", p.Index))
		}
	}
	return notes
}
