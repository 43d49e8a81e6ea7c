// Package failex reruns the example run of each failure class that the
// analysis picked, and draws its sequence diagram for the report. It sits
// apart from package analysis so that the analysis of result sets does not
// link the simulator.
package failex

import (
	"bytes"
	"fmt"

	"github.com/dhtexp/dhtexp/analysis"
	"github.com/dhtexp/dhtexp/replay"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// MaxRows bounds a diagram: an example is there to be read, and a run
// long enough to need more rows is better replayed on its own.
const MaxRows = 400

// Fill replays each of s's failure examples from the spec recorded in the
// result set dir and stores the outcome and the diagram in the example. A
// run that cannot be replayed keeps its place with the reason in Err, so
// the report still names it and its command.
func Fill(dir string, s *analysis.Summary) {
	if len(s.Examples) == 0 {
		return
	}
	// A report is worth having without its examples' diagrams: what
	// stops the replay is said beside each example instead of failing
	// the report.
	m, err := trace.ReadManifest(dir)
	if err != nil {
		setErr(s, fmt.Sprintf("not replayed: the manifest cannot be read for a replay (%v)", err))
		return
	}
	spec, err := runner.Parse(m.SpecPath, []byte(m.Spec))
	if err != nil {
		setErr(s, fmt.Sprintf("not replayed: the recorded spec does not parse with this build (%v)", err))
		return
	}
	for _, ex := range s.Examples {
		fill(spec, ex)
	}
}

func setErr(s *analysis.Summary, msg string) {
	for _, ex := range s.Examples {
		ex.Err = msg
	}
}

func fill(spec *runner.Spec, ex *analysis.FailureExample) {
	if ex.RunID < 0 || ex.RunID >= spec.Runs() {
		ex.Err = fmt.Sprintf("not replayed: the spec has no run %d", ex.RunID)
		return
	}
	p, _, seed := spec.Run(ex.RunID)
	cfg := p.Config
	cfg.Seed = seed
	var rec replay.Recorder
	res, err := sim.Run(cfg, &rec)
	if err != nil {
		ex.Err = "not replayed: " + err.Error()
		return
	}
	ex.Replayed, ex.Detail = res.Outcome, res.Detail
	if res.Outcome != ex.Outcome {
		// The build differs from the one that ran the sweep; say so
		// rather than show a diagram of something else as the example.
		ex.Err = fmt.Sprintf("the replay ended %s, not %s: this build behaves differently from the one that ran the sweep", res.Outcome, ex.Outcome)
	}
	var svg bytes.Buffer
	title := fmt.Sprintf("run %d: %s", ex.RunID, replay.CommandLine(cfg))
	if err := replay.WriteSVG(&svg, rec.Events, replay.DiagramOptions{Title: title, Outcome: outcomeLine(res), MaxRows: MaxRows}); err != nil {
		ex.Err = "no diagram: " + err.Error()
		return
	}
	ex.SVG = svg.Bytes()
}

func outcomeLine(res *sim.Result) string {
	if res.Detail == "" {
		return "outcome: " + res.Outcome
	}
	return "outcome: " + res.Outcome + " (" + res.Detail + ")"
}
