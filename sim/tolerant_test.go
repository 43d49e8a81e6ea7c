package sim

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestTolerantCheckerChurnRuns: small rings of the repair variant under churn, checked by
// the tolerant checker incrementally and by full walks after every event, end with the same
// outcome, detail and violation (event, time, property, node), and a good part of the checks
// are settled without a full walk (in rings this small the ring is often closed, and then
// every check is a full walk).
func TestTolerantCheckerChurnRuns(t *testing.T) {
	seeds := uint64(20)
	if testing.Short() {
		seeds = 8
	}
	var open, runs, violations, fallbacks int64
	for seed := uint64(1); seed <= seeds; seed++ {
		for _, crash := range []float64{0.5, 1} {
			c := churnConfig(seed, crash)
			c.Protocol = "repair"
			c.Stabilize = []int64{int64(200 * time.Millisecond), int64(time.Second)}[seed%2]
			c.Nodes = 10 + int(seed%4)*10
			if seed%3 == 0 {
				c.Workload = DefaultConfig().Workload // maintenance only
			}
			name := fmt.Sprint("seed=", seed, "/crash=", crash)
			inc, err := New(c, nil)
			if err != nil {
				t.Fatal(err)
			}
			full, _ := New(c, nil)
			full.check.FullWalks()
			a, b := inc.Run(), full.Run()
			if a.Outcome != b.Outcome || a.Detail != b.Detail || !reflect.DeepEqual(a.Violation, b.Violation) || a.Events != b.Events {
				t.Errorf("%s: incremental %s (%s) %+v, full walks %s (%s) %+v", name, a.Outcome, a.Detail, a.Violation, b.Outcome, b.Detail, b.Violation)
			}
			st := inc.check.Stats()
			open += st.Open
			fallbacks += st.Fallbacks
			runs += st.Incremental + st.Full - st.Fallbacks
			if a.Violation != nil {
				violations++
			}
		}
	}
	t.Logf("%d checks, %d settled while the ring was open, %d fallbacks; %d runs with a violation", runs, open, fallbacks, violations)
	if open < runs/10 {
		t.Errorf("only %d of %d checks settled incrementally", open, runs)
	}
}
