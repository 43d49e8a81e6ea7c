package replay

import (
	"bytes"
	"encoding/xml"
	"strconv"
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

// TestDiagramReadable: the outcome is printed, a time is printed once however
// many rows share it, no two labels overlap, a violation past the cut is still
// named, and the drawing is the same every time.
func TestDiagramReadable(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Nodes, cfg.Joiners, cfg.Timing, cfg.Protocol = "random", 6, 6, "async", "seed"
	cfg.Faults = sim.Faults{Loss: 0.2}
	cfg.Seed = 9
	// The checker off, so that the only violation is the one added below, after the cut.
	cfg.NoCheck = true
	var rec Recorder
	if _, err := sim.Run(cfg, &rec); err != nil {
		t.Fatal(err)
	}
	late := observe.Event{Kind: observe.KindViolation, Time: rec.Events[len(rec.Events)-1].Time, Node: rec.Events[0].Node, Detail: "ordered_ring: made up"}
	events := append(append([]observe.Event(nil), rec.Events...), late)
	tests := []struct {
		name    string
		maxRows int
	}{
		{"whole", 0},
		{"cut", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			draw := func() string {
				var buf bytes.Buffer
				if err := WriteSVG(&buf, events, DiagramOptions{Title: "t", Outcome: "outcome: deadlock", MaxRows: tt.maxRows}); err != nil {
					t.Fatal(err)
				}
				return buf.String()
			}
			svg := draw()
			for range 5 {
				if again := draw(); again != svg {
					t.Fatal("two drawings of the same run differ")
				}
			}
			if !strings.Contains(svg, ">outcome: deadlock<") {
				t.Error("no outcome line")
			}
			if !strings.Contains(svg, "ordered_ring: made up") {
				t.Error("the violation is not named")
			}
			type box struct{ x0, x1, y0, y1 float64 }
			var boxes []box
			seenTimes := map[string]bool{}
			dec := xml.NewDecoder(strings.NewReader(svg))
			for {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				se, ok := tok.(xml.StartElement)
				if !ok || se.Name.Local != "text" {
					continue
				}
				var class string
				var x, y float64
				for _, a := range se.Attr {
					switch a.Name.Local {
					case "class":
						class = a.Value
					case "x":
						x = parseF(a.Value)
					case "y":
						y = parseF(a.Value)
					}
				}
				body, _ := dec.Token()
				text := ""
				if cd, ok := body.(xml.CharData); ok {
					text = string(cd)
				}
				switch class {
				case "t":
					if seenTimes[text] {
						t.Errorf("time %s printed twice", text)
					}
					seenTimes[text] = true
				case "l":
					w := float64(len([]rune(text))) * 9 * 0.58
					b := box{x - w/2, x + w/2, y - 9, y + 2}
					for _, o := range boxes {
						if b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1 {
							t.Errorf("label %q at (%v, %v) overlaps another", text, x, y)
						}
					}
					boxes = append(boxes, b)
				}
			}
		})
	}
}

func parseF(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
