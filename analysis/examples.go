package analysis

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FailureExample is one run that ended in a failure class, picked to be
// reproduced and read: the run with the fewest simulated events (then the
// lowest run id), so that its sequence diagram is as short as the class
// allows, and the pick does not depend on how the result set was split
// into parts.
type FailureExample struct {
	Outcome string
	RunID   int64
	Point   int
	Events  int64

	// A caller that can rerun the simulation fills these in; the analysis
	// package does not link the simulator. Replayed is the outcome of the
	// rerun, Detail why it failed, SVG its sequence diagram; Err says why
	// the replay could not be made.
	Replayed, Detail string
	SVG              []byte
	Err              string
}

// noteExample keeps the shortest failing run of each class.
func (a *aggregator) noteExample(outcome string, runID, point, events int64) {
	if a.examples == nil {
		a.examples = map[string]*FailureExample{}
	}
	ex := a.examples[outcome]
	if ex == nil || events < ex.Events || events == ex.Events && runID < ex.RunID {
		a.examples[outcome] = &FailureExample{Outcome: outcome, RunID: runID, Point: int(point), Events: events}
	}
}

// htmlExample is an example as the page shows it.
type htmlExample struct {
	*FailureExample
	Params  string
	Command string
	Src     template.URL
	File    string
}

// exampleFile is the file name of an example's diagram under figures/.
func exampleFile(ex *FailureExample) string {
	return "example_" + ex.Outcome + ".svg"
}

func htmlExamples(s *Summary) []htmlExample {
	var out []htmlExample
	for _, ex := range s.Examples {
		h := htmlExample{
			FailureExample: ex,
			Params:         s.Points[ex.Point].Params.String(),
			Command:        "dhtexp replay " + shellQuote(orDash(s.Dir)) + " " + strconv.FormatInt(ex.RunID, 10),
		}
		if len(ex.SVG) > 0 {
			h.Src = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(ex.SVG))
			h.File = ReportFigures + "/" + exampleFile(ex)
		}
		out = append(out, h)
	}
	return out
}

// writeExamples writes the examples' diagrams under figures/.
func writeExamples(dir string, s *Summary) error {
	for _, ex := range s.Examples {
		if len(ex.SVG) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, ReportFigures, exampleFile(ex)), ex.SVG, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeExamplesMarkdown lists the examples in summary.md.
func writeExamplesMarkdown(w *bytes.Buffer, s *Summary) {
	if len(s.Examples) == 0 {
		return
	}
	w.WriteString("\n## One example per failure class\n\n")
	for _, h := range htmlExamples(s) {
		fmt.Fprintf(w, "- %s: run %d (%s, %d events): `%s`", h.Outcome, h.RunID, mdEscape(h.Params), h.Events, h.Command)
		if h.File != "" {
			fmt.Fprintf(w, ", [sequence diagram](%s)", h.File)
		}
		if h.Err != "" {
			fmt.Fprintf(w, " (%s)", mdEscape(h.Err))
		}
		w.WriteString("\n")
	}
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(p string) string {
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-' || c == '+' || c == ':') {
			return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return p
}
