package stress

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/replay"
)

// ReplayCommand is the command line that reruns a failure exactly: `dhtexp replay` takes
// the flags of `dhtexp run`, and prints the run's log and outcome.
func (f *Failure) ReplayCommand() string {
	return "dhtexp replay " + strings.Join(replay.Args(f.Config), " ")
}

// WriteText prints the summary: the runs, how many kept the promise, the outcome counts
// by name, and each kept failure with the command that replays it.
func (s *Summary) WriteText(w io.Writer) {
	rate := float64(s.Runs) / max(s.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "stress %s: %d runs in %s (%.0f runs/s), %d kept the promise, %d failed\n",
		s.Protocol, s.Runs, s.Elapsed.Round(time.Millisecond), rate, s.Kept, s.Runs-s.Kept)
	if s.Interrupted {
		fmt.Fprintf(w, "interrupted after %d of %d runs\n", s.Runs, s.Want)
	}
	names := make([]string, 0, len(s.Outcomes))
	for k := range s.Outcomes {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprint(w, "outcomes:")
	for _, k := range names {
		fmt.Fprintf(w, " %s %d", k, s.Outcomes[k])
	}
	fmt.Fprintln(w)
	if s.RepairSeed != 0 {
		fmt.Fprintf(w, "slowest repair of a run that kept the promise: %.1f stabilization periods after churn stopped (seed %d)\n", s.Repair, s.RepairSeed)
	}
	for i := range s.Failures {
		f := &s.Failures[i]
		fmt.Fprintf(w, "failure %d: seed %d: outcome %s: %s\n  %s\n", i+1, f.Seed, f.Outcome, f.Why, f.ReplayCommand())
	}
	if n := s.Runs - s.Kept; n > int64(len(s.Failures)) {
		fmt.Fprintf(w, "(%d more failures not printed; raise --max-failures to see them)\n", n-int64(len(s.Failures)))
	}
}
