package analysis

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
)

// TestStyleGolden pins the visual mapping: a change of a protocol's
// colour, of the lightness ramp or of the markers changes every report,
// so it has to be deliberate (go test -update).
func TestStyleGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# protocol colours\n")
	for _, p := range []string{"seed", "predlock", "predlock-retry", "", "chord", "kademlia", "pastry"} {
		fmt.Fprintf(&b, "protocol %-16q %s\n", p, hex(protocolColor(p)))
	}
	b.WriteString("# lightness ramps (ordered axis, light to dark)\n")
	for _, p := range []string{"seed", "predlock", "predlock-retry"} {
		for _, n := range []int{1, 2, 4, 9} {
			steps := make([]string, n)
			for i := range n {
				steps[i] = hex(rampColor(protocolColor(p), i, n))
			}
			fmt.Fprintf(&b, "ramp %-16s n=%d %s\n", p, n, strings.Join(steps, " "))
		}
	}
	b.WriteString("# lines and markers\n")
	ls := lineStyle(protocolColor("seed"))
	fmt.Fprintf(&b, "line width %.2fpt dashes %v\n", ls.Width.Points(), ls.Dashes)
	for _, bound := range []bool{false, true} {
		g := glyphStyle(protocolColor("seed"), bound)
		fmt.Fprintf(&b, "glyph boundOnly=%v %s radius %.2fpt\n", bound, glyphName(g.Shape), g.Radius.Points())
	}
	golden(t, filepath.Join("testdata", "style.golden"), []byte(b.String()))
}

func glyphName(g draw.GlyphDrawer) string {
	switch g.(type) {
	case draw.CircleGlyph:
		return "filled circle"
	case draw.RingGlyph:
		return "ring"
	}
	return fmt.Sprintf("%T", g)
}

// TestStyleInvariants: what the golden file cannot say by itself.
func TestStyleInvariants(t *testing.T) {
	known := map[string]bool{}
	for p, c := range protocolColors {
		if known[hex(c)] {
			t.Errorf("two protocols share %s", hex(c))
		}
		known[hex(c)] = true
		if c == neutral {
			t.Errorf("protocol %s has the neutral colour", p)
		}
	}
	for _, c := range spareColors {
		if known[hex(c)] {
			t.Errorf("spare colour %s is also a known protocol's", hex(c))
		}
	}
	// A ramp gets darker step by step, so order reads as lightness.
	lum := func(p string, i, n int) float64 {
		c := rampColor(protocolColor(p), i, n)
		return 0.2126*float64(c.R) + 0.7152*float64(c.G) + 0.0722*float64(c.B)
	}
	for _, p := range []string{"seed", "predlock", "predlock-retry"} {
		for i := 1; i < 9; i++ {
			if lum(p, i, 9) >= lum(p, i-1, 9) {
				t.Errorf("ramp %s: step %d is not darker than step %d", p, i, i-1)
			}
		}
	}
}
