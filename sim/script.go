package sim

import (
	"fmt"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// ScriptStep is one step of a scripted run: a newcomer starts its join (Start set), or the
// message Msg, which must be in flight, is delivered now.
type ScriptStep struct {
	Start protocol.ID // protocol.None for a delivery
	Msg   protocol.Message
}

// RunScript replays an exact interleaving, such as a counterexample found by exhaustive
// search, on the simulator: the nodes are laid out as specs says (async timing model), and
// the steps decide which newcomer starts and which in-flight message arrives next, ignoring
// delays. Whatever is still scheduled after the last step then runs in time order. The run
// is judged like any other, so the outcome says whether the simulator sees the same failure.
func RunScript(cfg Config, specs []Spec, steps []ScriptStep, tracer observe.Tracer) (*Result, error) {
	cfg.Timing, cfg.Scenario = "async", "random"
	cfg.Nodes, cfg.Joiners = 1, 0
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for i := range specs {
		if !specs[i].Member {
			specs[i].Start = cfg.Horizon - 1 // only the script starts joins
		}
	}
	s := newSim(cfg, specs, tracer)
	for k, st := range steps {
		at := -1
		for i := range s.q.items {
			it := &s.q.items[i]
			if st.Start != protocol.None && it.kind() == evStart && s.nodes[it.idx()].id == st.Start {
				at = i
				break
			}
			if st.Start == protocol.None && it.kind() == evDeliver && s.slots[it.idx()].msg == st.Msg {
				at = i
				break
			}
		}
		if at < 0 {
			return nil, fmt.Errorf("script step %d (%+v): nothing like it is scheduled", k+1, st)
		}
		it := s.q.removeAt(at)
		s.events++
		if st.Start != protocol.None {
			s.asyncStart(it.idx())
		} else {
			s.asyncDeliver(it.idx())
		}
		if s.check.Dirty() {
			s.runSafetyCheck()
		}
		if s.stopped != "" {
			break
		}
	}
	return s.Run(), nil
}
