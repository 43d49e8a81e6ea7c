package replay

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/sim"
)

func TestShrinkKeepsTheFailureClass(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Nodes, cfg.Seed = "advanced", 12, 1
	cfg.Horizon = 2e9
	first, err := sim.Run(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Outcome == observe.OutcomeOK {
		t.Skip("seed 1 happens to succeed")
	}
	res, err := Shrink(cfg, ShrinkOptions{SeedsPerCandidate: 50, MaxRuns: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != first.Outcome {
		t.Fatalf("shrunk to %s, started from %s", res.Outcome, first.Outcome)
	}
	if res.Config.Nodes >= cfg.Nodes {
		t.Fatalf("nothing shrunk: %+v (steps %v)", res.Config, res.Steps)
	}
	again, _ := sim.Run(res.Config, nil)
	if again.Outcome != res.Outcome {
		t.Fatalf("the shrunk configuration replays to %s, not %s", again.Outcome, res.Outcome)
	}
	if !strings.Contains(CommandLine(res.Config), "--scenario advanced") {
		t.Fatalf("command line %q", CommandLine(res.Config))
	}
	var out strings.Builder
	res.WriteText(&out)
	if want := "replay with:\n  " + CommandLine(res.Config) + "\n"; !strings.HasSuffix(out.String(), want) || !strings.HasPrefix(out.String(), "outcome "+res.Outcome) {
		t.Fatalf("printed\n%s", out.String())
	}
}

func TestShrinkRefusesAPassingRun(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Protocol = "predlock"
	if _, err := Shrink(cfg, ShrinkOptions{}); err == nil {
		t.Fatal("a passing run was shrunk")
	}
}

// The diagram is well-formed SVG with a lifeline per node and the violation highlighted.
func TestDiagram(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Nodes, cfg.Joiners, cfg.Timing, cfg.Protocol = "random", 3, 2, "async", "predlock"
	cfg.Faults = sim.Faults{Loss: 0.3}
	cfg.Seed = 4
	var rec Recorder
	if _, err := sim.Run(cfg, &rec); err != nil {
		t.Fatal(err)
	}
	rec.Events = append(rec.Events, observe.Event{Kind: observe.KindViolation, Node: rec.Events[0].Node, Detail: "ordered_ring: made up"})
	var buf bytes.Buffer
	if err := WriteSVG(&buf, rec.Events, DiagramOptions{Title: "test"}); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	lifelines, violations := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "class" && a.Value == "life" {
					lifelines++
				}
				if a.Name.Local == "class" && a.Value == "v" {
					violations++
				}
			}
		}
	}
	if lifelines != 5 || violations != 1 {
		t.Fatalf("%d lifelines (want 5), %d violation bands (want 1)", lifelines, violations)
	}
}
