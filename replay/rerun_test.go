package replay

import (
	"bytes"
	"html"
	"testing"

	"github.com/dhtexp/dhtexp/sim"
)

func TestDiagramReruns(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Seed = "simple", 7
	a, err := Diagram(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Diagram(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two reruns of one configuration drew different diagrams")
	}
	if !bytes.HasPrefix(a, []byte("<svg")) || !bytes.Contains(a, []byte(html.EscapeString(CommandLine(cfg)))) {
		t.Errorf("not an SVG titled with the command line:\n%.300s", a)
	}
	cfg.Scenario = "nonesuch"
	if _, err := Diagram(cfg, 0); err == nil {
		t.Error("no error for a configuration the simulator refuses")
	}
}
