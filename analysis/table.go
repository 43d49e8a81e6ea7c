package analysis

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Format picks a renderer for the per-grid-point table.
type Format string

// Table formats.
const (
	FormatText     Format = "text"
	FormatCSV      Format = "csv"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
)

// Formats lists the formats WriteTable accepts.
var Formats = []Format{FormatText, FormatCSV, FormatJSON, FormatMarkdown}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want one of %v)", s, Formats)
}

// WriteTable writes one row per grid point in the given format. Text and
// Markdown are for people (percentages with intervals, milliseconds); CSV
// and JSON keep full precision for other tools, with empty cells or null
// where there is no data. With a DHT workload, text and Markdown add a
// second table of the points that had one, CSV adds its columns to every
// row (empty for points without), and JSON a "dht" object; churn adds a
// table, columns and a "churn" object the same way. Without either the
// output is exactly the per-grid-point table.
func WriteTable(w io.Writer, s *Summary, f Format) error {
	switch f {
	case FormatText:
		return writeText(w, s)
	case FormatCSV:
		return writeCSV(w, s)
	case FormatJSON:
		return writeJSON(w, s)
	case FormatMarkdown:
		return writeMarkdown(w, s)
	}
	return fmt.Errorf("unknown format %q", f)
}

// humanRow is a table row as text for people.
func humanRows(s *Summary) (header []string, rows [][]string) {
	header = []string{"point"}
	for _, a := range s.Manifest.Axes {
		header = append(header, a.Name)
	}
	header = append(header, "runs", "run ok (95% CI)", "join ok (95% CI)",
		"p50 ms", "p90 ms", "p99 ms", "max ms", "msgs/join", "hops/join", "events/s", "failures")
	for _, p := range s.Points {
		row := []string{strconv.Itoa(p.Index)}
		for _, a := range s.Manifest.Axes {
			v, ok := p.Params.Get(a.Name)
			if !ok {
				// Not swept in this point's group: the spec's base value.
				v.Text = none
			}
			row = append(row, v.Text)
		}
		row = append(row,
			strconv.FormatInt(p.Runs, 10),
			fmtRate(p.RunSuccess),
			fmtRate(p.JoinSuccess),
			fmtMs(p.LatencyP50), fmtMs(p.LatencyP90), fmtMs(p.LatencyP99), fmtMs(p.LatencyMax),
			fmtFixed(p.MessagesPerJoin, 2), fmtFixed(p.HopsPerJoin, 2),
			fmtSI(p.EventsPerSecond),
			fmtFailures(p.Failures))
		rows = append(rows, row)
	}
	return header, rows
}

const none = "-"

func fmtRate(r Rate) string {
	if math.IsNaN(float64(r.Value)) {
		return none
	}
	return fmt.Sprintf("%.1f%% [%.1f, %.1f]", 100*r.Value, 100*r.Lo, 100*r.Hi)
}

// fmtMs writes nanoseconds as milliseconds with three significant digits
// or more, without exponents.
func fmtMs(ns Num) string {
	v := float64(ns) / 1e6
	switch {
	case math.IsNaN(v):
		return none
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func fmtFixed(n Num, prec int) string {
	if math.IsNaN(float64(n)) {
		return none
	}
	return strconv.FormatFloat(float64(n), 'f', prec, 64)
}

// boundsProse writes an interval's bounds for prose, "[lo, hi]", or says that
// there is none (a point of one run has no bootstrap interval).
func boundsProse(lo, hi Num, unit func(float64) string) string {
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) {
		return "[no interval: one run]"
	}
	return "[" + unit(float64(lo)) + ", " + unit(float64(hi)) + "]"
}

// fmtSI writes a rate with a k/M/G suffix and three significant digits.
func fmtSI(n Num) string {
	v := float64(n)
	if math.IsNaN(v) {
		return none
	}
	for _, u := range []struct {
		f float64
		s string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.f {
			return strconv.FormatFloat(v/u.f, 'g', 3, 64) + u.s
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func fmtFailures(fs []OutcomeCount) string {
	if len(fs) == 0 {
		return none
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s %d", f.Outcome, f.Runs)
	}
	return strings.Join(parts, ", ")
}

func writeText(w io.Writer, s *Summary) error {
	header, rows := humanRows(s)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.DHT != nil {
		if err := writeDHTText(w, s); err != nil {
			return err
		}
	}
	if s.Churn != nil {
		return writeChurnText(w, s)
	}
	return nil
}

// mdEscape keeps a cell from breaking a Markdown table.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func writeMarkdown(w io.Writer, s *Summary) error {
	if err := writeMainMarkdown(w, s); err != nil {
		return err
	}
	if s.DHT != nil {
		if _, err := io.WriteString(w, "\n### "+dhtTitle+"\n\n"); err != nil {
			return err
		}
		if err := writeDHTMarkdown(w, s); err != nil {
			return err
		}
	}
	if s.Churn == nil {
		return nil
	}
	if _, err := io.WriteString(w, "\n### "+churnTitle+"\n\n"); err != nil {
		return err
	}
	return writeChurnMarkdown(w, s)
}

// writeMainMarkdown writes the per-grid-point table without the DHT one.
func writeMainMarkdown(w io.Writer, s *Summary) error {
	header, rows := humanRows(s)
	right := make([]bool, len(header))
	for i := range right {
		// Numbers read best right-aligned; the axis values and the
		// failure list are text.
		right[i] = i > len(s.Manifest.Axes) && i < len(header)-1
	}
	return writeMarkdownRows(w, header, rows, right)
}

// writeMarkdownRows writes a Markdown table, right-aligning the columns
// marked in right.
func writeMarkdownRows(w io.Writer, header []string, rows [][]string, right []bool) error {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdEscape(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
		if right[i] {
			sep[i] = "--:"
		}
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func csvNum(n Num) string {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return ""
	}
	return string(appendFloat(nil, float64(n)))
}

func csvMs(ns Num) string { return csvNum(ns / 1e6) }

func writeCSV(w io.Writer, s *Summary) error {
	cw := csv.NewWriter(w)
	header := []string{"point"}
	for _, a := range s.Manifest.Axes {
		header = append(header, a.Name)
	}
	header = append(header, "runs", "runs_ok", "run_success", "run_success_lo", "run_success_hi",
		"joins", "joins_ok", "join_success", "join_success_lo", "join_success_hi",
		"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_max_ms", "latency_source",
		"messages_per_join", "hops_per_join", "events_per_second",
		"latency_p50_lo_ms", "latency_p50_hi_ms", "latency_p99_lo_ms", "latency_p99_hi_ms",
		"messages_per_join_lo", "messages_per_join_hi")
	for _, o := range s.Outcomes {
		header = append(header, "failures_"+o)
	}
	if s.DHT != nil {
		header = append(header, dhtCSVHeader()...)
	}
	if s.Churn != nil {
		header = append(header, churnCSVHeader()...)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, p := range s.Points {
		row := []string{strconv.Itoa(p.Index)}
		for _, a := range s.Manifest.Axes {
			v, _ := p.Params.Get(a.Name)
			row = append(row, v.Text)
		}
		i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
		row = append(row, i64(p.Runs), i64(p.RunsOK),
			csvNum(p.RunSuccess.Value), csvNum(p.RunSuccess.Lo), csvNum(p.RunSuccess.Hi),
			i64(p.Joins), i64(p.JoinsOK),
			csvNum(p.JoinSuccess.Value), csvNum(p.JoinSuccess.Lo), csvNum(p.JoinSuccess.Hi),
			csvMs(p.LatencyP50), csvMs(p.LatencyP90), csvMs(p.LatencyP99), csvMs(p.LatencyMax), p.LatencySource,
			csvNum(p.MessagesPerJoin), csvNum(p.HopsPerJoin), csvNum(p.EventsPerSecond),
			// Cluster-bootstrap intervals, after the older columns so
			// that readers by position keep working.
			csvMs(p.LatencyP50CI.Lo), csvMs(p.LatencyP50CI.Hi), csvMs(p.LatencyP99CI.Lo), csvMs(p.LatencyP99CI.Hi),
			csvNum(p.MessagesPerJoinCI.Lo), csvNum(p.MessagesPerJoinCI.Hi))
		for _, o := range s.Outcomes {
			row = append(row, i64(p.FailuresOf(o)))
		}
		if s.DHT != nil {
			row = append(row, dhtCSVCells(s.DHT, s.DHT.point(p.Index))...)
		}
		if s.Churn != nil {
			row = append(row, churnCSVCells(s.Churn, s.Churn.point(p.Index))...)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// jsonTable is the JSON rendering: the table with enough of the manifest to
// know what it describes.
type jsonTable struct {
	Experiment string    `json:"experiment"`
	SpecHash   string    `json:"spec_hash"`
	RunsTotal  int64     `json:"runs_total"`
	Runs       int64     `json:"runs"`
	XAxis      string    `json:"x_axis"`
	Outcomes   []string  `json:"outcomes"`
	Series     []*Series `json:"series"`
	Points     []*Point  `json:"points"`
	DHT        *DHT      `json:"dht,omitempty"`
	Churn      *Churn    `json:"churn,omitempty"`
}

func writeJSON(w io.Writer, s *Summary) error {
	t := jsonTable{
		Experiment: s.Manifest.Experiment, SpecHash: s.Manifest.SpecHash,
		RunsTotal: s.Manifest.RunsTotal, Runs: s.Runs, XAxis: s.XAxis,
		Outcomes: s.Outcomes, Series: s.Series, Points: s.Points, DHT: s.DHT, Churn: s.Churn,
	}
	if t.Outcomes == nil {
		t.Outcomes = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}
