package runner

import (
	"fmt"

	"github.com/dhtexp/dhtexp/trace"
)

// Measured constants of the estimate. They come from sweeps on a 2-core machine (amd64,
// Go 1.26) and are rough: enough to tell a spec of megabytes from one of terabytes.
const (
	// bytesPerRun is the runs table's size per run: 3,803,075 bytes for the 108,000 runs
	// of experiments/concurrency.toml.
	bytesPerRun = 35
	// bytesPerJoin is the joins table's size per join: 61,791,016 bytes for its 6,132,000
	// joins.
	bytesPerJoin = 10
	// bytesPerEvent is the events table's size per event: 396,060 bytes for the 36,500
	// events of runner/testdata/small.toml.
	bytesPerEvent = 11
	// eventsPerJoin and eventsPerJoinPerNode model a run's events: 36.5 per join on 12-node
	// rings (small.toml), 507 with 2,200 nodes and 2,577 with 11,000 (a tenth of them
	// joining at once), so a join's events grow about linearly with the ring.
	eventsPerJoin        = 36
	eventsPerJoinPerNode = 0.23
	// bytesPerNode is what one run allocates per node, members and joiners: 677 to 710
	// bytes building rings of 2,200 and 11,000 nodes, 1,058 to 1,142 over the whole run.
	bytesPerNode = 1100
	// bytesPerBufferedEvent is the memory of an event held until its part is written
	// (trace level messages).
	bytesPerBufferedEvent = 60
)

// Thresholds above which validate and sweep warn.
const (
	warnRuns        = 100_000_000
	warnOutputBytes = 10e9
	warnRunMemory   = 1 << 30
)

// Estimate is what a sweep of a spec will cost, from the measured constants above.
type Estimate struct {
	Runs int64
	// OutputBytes is the result set's size on disk at the trace level.
	OutputBytes float64
	// RunMemory is the memory of one run of the largest grid point; each worker holds one.
	RunMemory float64
	// Warnings name what is above the thresholds.
	Warnings []string
}

// Estimate prices a sweep of s at trace level (0: the spec's).
func (s *Spec) Estimate(level trace.Level) Estimate {
	if level == 0 {
		level = s.Trace
	}
	e := Estimate{Runs: s.Runs()}
	for i := range s.Points {
		c := &s.Points[i].Config
		nodes, joiners := float64(c.Nodes+c.Joiners), float64(c.Joiners)
		switch c.Scenario {
		case "simple":
			nodes, joiners = 5, 2
		case "advanced":
			nodes, joiners = float64(c.Nodes-1), float64(max(c.Nodes-3, 0))
		}
		events := joiners * (eventsPerJoin + eventsPerJoinPerNode*nodes)
		perRun := float64(bytesPerRun)
		if level >= trace.LevelJoins {
			perRun += joiners * bytesPerJoin
		}
		mem := nodes * bytesPerNode
		if level >= trace.LevelMessages {
			perRun += events * bytesPerEvent
			mem += events * bytesPerBufferedEvent
		}
		e.OutputBytes += perRun * float64(s.Seeds)
		e.RunMemory = max(e.RunMemory, mem)
	}
	if e.Runs > warnRuns {
		e.Warnings = append(e.Warnings, fmt.Sprintf("%d runs is more than %d: at a few thousand runs per second on two cores, that is days", e.Runs, warnRuns))
	}
	if e.OutputBytes > warnOutputBytes {
		e.Warnings = append(e.Warnings, fmt.Sprintf("the result set will take about %s of disk at trace %s", humanBytes(e.OutputBytes), level))
	}
	if e.RunMemory > warnRunMemory {
		e.Warnings = append(e.Warnings, fmt.Sprintf("a run of the largest grid point needs about %s of memory, and each worker holds one (--workers)", humanBytes(e.RunMemory)))
	}
	return e
}

// String is the estimate in one line.
func (e Estimate) String() string {
	return fmt.Sprintf("about %s of output, %s of memory per run (largest grid point)", humanBytes(e.OutputBytes), humanBytes(e.RunMemory))
}

func humanBytes(b float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}
