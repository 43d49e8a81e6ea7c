package analysis

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dhtexp/dhtexp/trace"
)

//go:embed report.html.tmpl
var reportTemplate string

// reportTmpl is parsed at the first report, not when the program starts: every command
// links this package, and parsing it was the largest piece of start-up that was ours.
var reportTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Parse(reportTemplate))
})

// Report file names inside the report folder.
const (
	ReportHTML     = "index.html"
	ReportMarkdown = "summary.md"
	ReportCSV      = "table.csv"
	ReportFigures  = "figures"
)

// WriteReport writes a report on s into dir: index.html (one
// self-contained page: figures embedded as data: URIs, no network
// fetches), summary.md (the table for CI logs and pull requests),
// table.csv, and each figure as PNG and SVG under figures/.
//
// Everything is written to a temporary folder beside dir and renamed into
// place at the end, so an error leaves no partial report, and an earlier
// report at dir stays until the new one is complete. An existing dir that
// does not look like a report is not replaced.
func WriteReport(dir string, s *Summary) error {
	if err := replaceable(dir); err != nil {
		return err
	}
	figs, err := Figures(s)
	if err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := writeReportFiles(tmp, s, figs); err != nil {
		return err
	}
	if err := swapDir(tmp, dir); err != nil {
		return err
	}
	done = true
	return nil
}

// replaceable refuses to replace a folder that holds something other than a
// report, such as the result set itself given as -o by mistake.
func replaceable(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		return nil
	}
	for _, e := range ents {
		if e.Name() == ReportHTML {
			return nil
		}
	}
	return fmt.Errorf("%s exists and is not a report (no %s): not replacing it", dir, ReportHTML)
}

// swapDir moves tmp to dir, replacing dir if it exists. The old folder is
// moved aside first and restored if the second rename fails.
func swapDir(tmp, dir string) error {
	old := tmp + ".old"
	hadOld := false
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		hadOld = true
	}
	if err := os.Rename(tmp, dir); err != nil {
		if hadOld {
			_ = os.Rename(old, dir)
		}
		return err
	}
	if hadOld {
		return os.RemoveAll(old)
	}
	return nil
}

func writeReportFiles(dir string, s *Summary, figs []Figure) error {
	if err := os.Mkdir(filepath.Join(dir, ReportFigures), 0o755); err != nil {
		return err
	}
	for _, f := range figs {
		for ext, data := range map[string][]byte{".png": f.PNG, ".svg": f.SVG} {
			if err := os.WriteFile(filepath.Join(dir, ReportFigures, f.Name+ext), data, 0o644); err != nil {
				return err
			}
		}
	}
	if err := writeExamples(dir, s); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := writeSummaryMarkdown(&md, s, figs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportMarkdown), md.Bytes(), 0o644); err != nil {
		return err
	}
	var csv bytes.Buffer
	if err := WriteTable(&csv, s, FormatCSV); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReportCSV), csv.Bytes(), 0o644); err != nil {
		return err
	}
	var page bytes.Buffer
	if err := RenderHTML(&page, s, figs); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ReportHTML), page.Bytes(), 0o644)
}

func writeSummaryMarkdown(w *bytes.Buffer, s *Summary, figs []Figure) error {
	m := s.Manifest
	fmt.Fprintf(w, "# %s\n\n", orDash(m.Experiment))
	if b := CompletenessOf(s).Banner(); b != "" {
		fmt.Fprintf(w, "> **Incomplete result set.** %s\n\n", mdEscape(b))
	}
	for _, f := range manifestFacts(s) {
		fmt.Fprintf(w, "- %s: %s\n", f.Name, mdEscape(f.Value))
	}
	w.WriteString("\n## Findings\n\n")
	for _, f := range Findings(s) {
		w.WriteString("- " + mdEscape(f) + "\n")
	}
	w.WriteString("\n## Grid points\n\n")
	if err := writeSummaryRows(w, s); err != nil {
		return err
	}
	w.WriteString("\nRates are shown with 95% Wilson intervals; latencies in milliseconds (" + latencyNote(s) + ").\n")
	if _, notes := mainFigureSpecs(s); len(notes) > 0 {
		w.WriteString("\n")
		for _, n := range notes {
			w.WriteString("- " + mdEscape(n) + "\n")
		}
	}
	writeFigureLinks(w, figs, func(f Figure) bool { return !f.DHT && !f.Churn })
	writeExamplesMarkdown(w, s)
	if s.DHT != nil {
		w.WriteString("\n## " + dhtTitle + "\n\n")
		if err := writeDHTMarkdown(w, s); err != nil {
			return err
		}
		w.WriteString("\n")
		_, figNotes := dhtFigureSpecs(s)
		for _, n := range append(dhtNotes(s), figNotes...) {
			w.WriteString("- " + mdEscape(n) + "\n")
		}
		writeFigureLinks(w, figs, func(f Figure) bool { return f.DHT })
	}
	if s.Churn != nil {
		w.WriteString("\n## " + churnTitle + "\n\n")
		if err := writeChurnMarkdown(w, s); err != nil {
			return err
		}
		w.WriteString("\n")
		_, figNotes := churnFigureSpecs(s)
		for _, n := range append(churnNotes(s), figNotes...) {
			w.WriteString("- " + mdEscape(n) + "\n")
		}
		writeFigureLinks(w, figs, func(f Figure) bool { return f.Churn })
	}
	return nil
}

// writeSummaryRows writes the grid-point table as the page shows it:
// intervals on the estimates, and no machine-speed column, which goes to
// the run facts table after it.
func writeSummaryRows(w *bytes.Buffer, s *Summary) error {
	header, rows := pageRows(s)
	right := make([]bool, len(header))
	for i := range right {
		right[i] = i > len(s.Manifest.Axes) && i < len(header)-1
	}
	if err := writeMarkdownRows(w, header, rows, right); err != nil {
		return err
	}
	w.WriteString("\n## Run facts\n\nHow long the runs took on the machine that ran them; these numbers describe the machine and its load, not the protocol.\n\n")
	fh, frows := runFactsRows(s)
	text := make([][]string, len(frows))
	for i, r := range frows {
		for _, c := range r {
			text[i] = append(text[i], c.Text)
		}
	}
	all := make([]bool, len(fh))
	for i := range all {
		all[i] = true
	}
	return writeMarkdownRows(w, fh, text, all)
}

// writeFigureLinks lists the figures of one section (those in) as links to
// their SVG files.
func writeFigureLinks(w *bytes.Buffer, figs []Figure, in func(Figure) bool) {
	n := 0
	for _, f := range figs {
		if !in(f) {
			continue
		}
		if n == 0 {
			w.WriteString("\nFigures: ")
		} else {
			w.WriteString(", ")
		}
		fmt.Fprintf(w, "[%s](%s/%s.svg)", f.Title, ReportFigures, f.Name)
		n++
	}
	if n > 0 {
		w.WriteString(".\n")
	}
}

func latencyNote(s *Summary) string {
	if s.JoinsTable.Parts > 0 {
		return "over successful joins, from the joins table"
	}
	return "no joins table: the distribution is of each run's median join latency"
}

func orDash(s string) string {
	if s == "" {
		return none
	}
	return s
}

// fact is one line of the manifest summary.
type fact struct{ Name, Value string }

func manifestFacts(s *Summary) []fact {
	m := s.Manifest
	finished := m.Finished
	if finished == "" {
		finished = "not finished"
	}
	shard := "all"
	if m.Shard.Count > 1 {
		shard = fmt.Sprintf("%d of %d", m.Shard.Index+1, m.Shard.Count)
	}
	tables := "runs " + describeTable(s.RunsTable)
	if s.JoinsTable.Parts > 0 {
		tables += "; joins " + describeTable(s.JoinsTable)
	}
	if s.EventsTable.Parts > 0 {
		tables += "; events " + describeTable(s.EventsTable)
	}
	var axes []string
	for _, a := range m.Axes {
		vals := make([]string, len(a.Values))
		for i, v := range a.Values {
			vals[i] = v.Text
		}
		axes = append(axes, a.Name+" ∈ {"+strings.Join(vals, ", ")+"}")
	}
	runs := fmt.Sprintf("%d of %d", s.Runs, m.ExpectedRuns())
	if m.ExpectedRuns() != m.RunsTotal {
		runs += fmt.Sprintf(" in this shard (%d in the whole sweep)", m.RunsTotal)
	}
	facts := []fact{
		{"spec", orDash(m.SpecPath)},
		{"spec hash", orDash(m.SpecHash)},
		{"sweep axes", orDash(strings.Join(axes, "; "))},
		{"grid points", strconv.Itoa(len(m.Grid))},
		{"seeds per point", strconv.Itoa(m.Seeds) + " (base seed " + strconv.FormatUint(m.BaseSeed, 10) + ")"},
		{"runs", runs},
		{"trace level", orDash(m.Trace)},
		{"tables", tables},
		{"shard", shard},
		{"sweep run by", sweepStamp(m)},
		{"report drawn by", buildStamp()},
		{"started", orDash(m.Started)},
		{"finished", finished},
	}
	if m.Description != "" {
		facts = append([]fact{{"description", m.Description}}, facts...)
	}
	return facts
}

func describeTable(t TableInfo) string {
	parts := "parts"
	if t.Parts == 1 {
		parts = "part"
	}
	return fmt.Sprintf("%d rows in %d %s", t.Rows, t.Parts, parts)
}

// htmlCell is a table cell: its text and, for numbers, the value to sort by.
type htmlCell struct {
	Text    string
	Sub     string // secondary text, shown smaller below
	Sort    string
	Numeric bool
}

type htmlFigure struct {
	Figure
	Src           template.URL
	Width, Height int
}

type htmlPage struct {
	Title   string
	Facts   []fact
	Figures []htmlFigure
	Header  []string
	Rows    [][]htmlCell
	Spec    string
	Note    string
	XLabel  string
	NoData  []string
	DHT     *htmlDHT
	Churn   *htmlDHT
	// Findings open the page; RunFacts hold the machine-speed numbers,
	// which say how fast this machine was, not how the protocol behaves.
	Findings     []string
	Examples     []htmlExample
	RunFactsHead []string
	RunFacts     [][]htmlCell

	// Incomplete is CompletenessOf(s).Banner(), shown above everything else.
	Incomplete string
}

// htmlDHT is the report's DHT section, or its churn section.
type htmlDHT struct {
	Figures []htmlFigure
	Notes   []string
	Header  []string
	Rows    [][]htmlCell
}

func sortKey(n Num) string {
	if math.IsNaN(float64(n)) {
		return ""
	}
	return strconv.FormatFloat(float64(n), 'g', -1, 64)
}

// RenderHTML writes the report page. Figures are embedded as PNG data
// URIs: the page is one file that works offline, attached to a CI run or
// mailed, and PNG renders identically everywhere (SVG text depends on the
// fonts installed).
func RenderHTML(w io.Writer, s *Summary, figs []Figure) error {
	page := htmlPage{
		Title:  "dhtexp report: " + orDash(s.Manifest.Experiment),
		Facts:  manifestFacts(s),
		Spec:   s.Manifest.Spec,
		Note:   latencyNote(s),
		XLabel: s.XLabel(),
	}
	page.Incomplete = CompletenessOf(s).Banner()
	if s.DHT != nil {
		page.DHT = &htmlDHT{}
	}
	if s.Churn != nil {
		page.Churn = &htmlDHT{}
	}
	page.Findings = Findings(s)
	page.Examples = htmlExamples(s)
	page.RunFactsHead, page.RunFacts = runFactsRows(s)
	for _, f := range figs {
		wpx, hpx := pngSize(f.PNG)
		hf := htmlFigure{
			Figure: f,
			Src:    template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG)),
			// The PNG is drawn at 192 dpi; shown at 128 CSS pixels per
			// inch, text is legible and the image stays sharp on
			// high-density screens.
			Width: wpx * 2 / 3, Height: hpx * 2 / 3,
		}
		if f.DHT && page.DHT != nil {
			page.DHT.Figures = append(page.DHT.Figures, hf)
		} else if f.Churn && page.Churn != nil {
			page.Churn.Figures = append(page.Churn.Figures, hf)
		} else {
			page.Figures = append(page.Figures, hf)
		}
	}
	_, page.NoData = mainFigureSpecs(s)
	noX := 0
	for _, p := range s.Points {
		if math.IsNaN(float64(p.X)) {
			noX++
		}
	}
	if noX > 0 {
		page.NoData = append(page.NoData, fmt.Sprintf("%d grid point(s) come from a sweep group that does not sweep %s; they are in the table but not in the figures plotted against %s.", noX, s.XAxis, s.XAxis))
	}
	header, rows := pageRows(s)
	page.Header = header
	naxes := len(s.Manifest.Axes)
	for i, p := range s.Points {
		keys := []string{strconv.Itoa(p.Index)}
		for _, a := range s.Manifest.Axes {
			v, _ := p.Params.Get(a.Name)
			if v.Kind == trace.KindNumber || v.Kind == trace.KindDuration {
				keys = append(keys, strconv.FormatFloat(v.Num, 'g', -1, 64))
			} else {
				keys = append(keys, "")
			}
		}
		keys = append(keys, strconv.FormatInt(p.Runs, 10), sortKey(p.RunSuccess.Value), sortKey(p.JoinSuccess.Value),
			sortKey(p.LatencyP50), sortKey(p.LatencyP90), sortKey(p.LatencyP99), sortKey(p.LatencyMax),
			sortKey(p.MessagesPerJoin), sortKey(p.HopsPerJoin),
			strconv.FormatInt(p.Failed(), 10))
		page.Rows = append(page.Rows, htmlCells(rows[i], keys, naxes))
	}
	if page.DHT != nil {
		_, figNotes := dhtFigureSpecs(s)
		page.DHT.Notes = append(figNotes, dhtNotes(s)...)
		header, rows, keys := dhtHumanRows(s)
		page.DHT.Header = header
		for i := range rows {
			page.DHT.Rows = append(page.DHT.Rows, htmlCells(rows[i], keys[i], naxes))
		}
	}
	if page.Churn != nil {
		_, figNotes := churnFigureSpecs(s)
		page.Churn.Notes = append(figNotes, churnNotes(s)...)
		header, rows, keys := churnHumanRows(s)
		page.Churn.Header = header
		for i := range rows {
			page.Churn.Rows = append(page.Churn.Rows, htmlCells(rows[i], keys[i], naxes))
		}
	}
	return reportTmpl().Execute(w, page)
}

// pageRows is the grid-point table of the page and summary.md: the
// table's rows with bootstrap intervals on p50, p99 and messages per join,
// and without events/s, which moves to the run facts table.
func pageRows(s *Summary) (header []string, rows [][]string) {
	header, rows = humanRows(s)
	evCol := slices.Index(header, "events/s")
	p50Col, p99Col, msgCol := slices.Index(header, "p50 ms"), slices.Index(header, "p99 ms"), slices.Index(header, "msgs/join")
	for i, p := range s.Points {
		row := slices.Clone(rows[i])
		row[p50Col] += msInterval(p.LatencyP50CI)
		row[p99Col] += msInterval(p.LatencyP99CI)
		if ci := p.MessagesPerJoinCI; ci.Known() {
			row[msgCol] += " [" + fmtFixed(ci.Lo, 2) + ", " + fmtFixed(ci.Hi, 2) + "]"
		}
		rows[i] = slices.Delete(row, evCol, evCol+1)
	}
	return slices.Delete(slices.Clone(header), evCol, evCol+1), rows
}

// msInterval formats a latency interval for a table cell's second line.
func msInterval(ci Interval) string {
	if !ci.Known() {
		return ""
	}
	return " [" + fmtMs(ci.Lo) + ", " + fmtMs(ci.Hi) + "]"
}

// runFactsRows is the run facts table: per grid point, how long the runs
// took on the machine that ran them. These numbers vary with the machine
// and its load, so they are kept apart from the results.
func runFactsRows(s *Summary) (header []string, rows [][]htmlCell) {
	header = []string{"point", "runs", "simulated events", "wall time (s, summed over runs)", "events/s"}
	var events, wall int64
	for _, p := range s.Points {
		events += p.Events
		wall += p.WallNs
		rows = append(rows, []htmlCell{
			{Text: strconv.Itoa(p.Index), Sort: strconv.Itoa(p.Index), Numeric: true},
			{Text: strconv.FormatInt(p.Runs, 10), Sort: strconv.FormatInt(p.Runs, 10), Numeric: true},
			{Text: groupInt(p.Events), Sort: strconv.FormatInt(p.Events, 10), Numeric: true},
			{Text: strconv.FormatFloat(float64(p.WallNs)/1e9, 'f', 2, 64), Sort: strconv.FormatInt(p.WallNs, 10), Numeric: true},
			{Text: fmtSI(p.EventsPerSecond), Sort: sortKey(p.EventsPerSecond), Numeric: true},
		})
	}
	eps := Num(math.NaN())
	if wall > 0 {
		eps = Num(float64(events) / (float64(wall) / 1e9))
	}
	rows = append(rows, []htmlCell{
		{Text: "all", Sort: "", Numeric: true},
		{Text: strconv.FormatInt(s.Runs, 10), Sort: strconv.FormatInt(s.Runs, 10), Numeric: true},
		{Text: groupInt(events), Sort: strconv.FormatInt(events, 10), Numeric: true},
		{Text: strconv.FormatFloat(float64(wall)/1e9, 'f', 2, 64), Sort: strconv.FormatInt(wall, 10), Numeric: true},
		{Text: fmtSI(eps), Sort: sortKey(eps), Numeric: true},
	})
	return header, rows
}

// htmlCells turns a table row into cells: the point index and the columns
// after the naxes axis values are numbers, sorted by their keys; axis
// values sort as numbers when they are numbers.
func htmlCells(row, keys []string, naxes int) []htmlCell {
	cells := make([]htmlCell, len(row))
	for j, text := range row {
		numeric := j == 0 || j > naxes
		if j >= 1 && j <= naxes {
			numeric = keys[j] != ""
		}
		cells[j] = htmlCell{Text: text, Sort: keys[j], Numeric: numeric}
		// An interval goes on a second line to keep the table narrow.
		if v, ci, ok := strings.Cut(text, " ["); ok {
			cells[j].Text, cells[j].Sub = v, "["+ci
		}
	}
	return cells
}

// pngSize reads a PNG's dimensions from its IHDR chunk.
func pngSize(b []byte) (w, h int) {
	if len(b) < 24 {
		return 0, 0
	}
	be := func(p []byte) int { return int(p[0])<<24 | int(p[1])<<16 | int(p[2])<<8 | int(p[3]) }
	return be(b[16:20]), be(b[20:24])
}
