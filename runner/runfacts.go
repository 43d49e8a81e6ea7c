package runner

import (
	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// RunFacts are one run's results as the runs table records them, for a driver that is not
// the simulator (real nodes): the parameter columns still come from the registry and the
// row from the one writer, so a result set from real nodes has every column a sweep's has.
type RunFacts struct {
	Outcome, Detail, Violation string
	RingCorrect                bool
	Joins                      int64   // joins attempted
	Latencies                  []int64 // successful joins, sorted
	Messages, Redirects        int64
	Events, SimTime, Wall      int64
}

// WriteRunsFile writes a runs table of one row: run 0 of a one-point grid, run in mode with
// configuration cfg and seed seed.
func WriteRunsFile(path string, opts trace.Options, mode string, cfg sim.Config, seed uint64, f RunFacts) error {
	w, err := trace.Create(path, RunSchema, opts)
	if err != nil {
		return err
	}
	r := runRow{seed: seed, wall: f.Wall, outcome: f.Outcome, ringCorrect: f.RingCorrect, detail: f.Detail,
		violation: f.Violation, joinsOK: int64(len(f.Latencies)), p50: -1, p99: -1, max: -1,
		messages: f.Messages, redirects: f.Redirects, events: f.Events, simTime: f.SimTime,
		lookupP50: -1, lookupP99: -1, nJoins: f.Joins}
	if n := len(f.Latencies); n > 0 {
		r.p50, r.p99, r.max = stats.NearestRank(f.Latencies, 50), stats.NearestRank(f.Latencies, 99), f.Latencies[n-1]
	}
	var pc pointColumns
	pc.set(&Point{Mode: mode, Config: cfg})
	if err := writeRun(w, &r, &pc); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
