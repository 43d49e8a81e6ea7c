package analysis

import (
	"fmt"
	"hash/fnv"
	"image/color"
	"regexp"
	"sync"

	"github.com/dhtexp/dhtexp/trace"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Every visual channel of every figure means one thing, and means it in
// every report, so a reader who has learned one figure can read the next:
//
//   - colour (hue) is the protocol variant, from a fixed map;
//   - lightness, within a protocol's hue, is an ordered axis such as the
//     x axis' values in a CDF panel, light for low values and dark for
//     high ones;
//   - a filled glyph is a measurement with its interval; a hollow one a
//     cell where nothing was observed, drawn with the bound that is known
//     instead;
//   - panels are the values of the remaining axes.
//
// Dash patterns carry no meaning in the main figures. Legends are built
// from the same functions that draw, so they cannot disagree with the
// lines.

// ProtocolAxis is the sweep parameter whose value picks the colour.
const ProtocolAxis = "protocol"

// Okabe–Ito colours, which stay distinguishable under the common
// colour-vision deficiencies.
var (
	okVermillion    = color.RGBA{0xD5, 0x5E, 0x00, 0xFF}
	okBlue          = color.RGBA{0x00, 0x72, 0xB2, 0xFF}
	okBluishGreen   = color.RGBA{0x00, 0x9E, 0x73, 0xFF}
	okReddishPurple = color.RGBA{0xCC, 0x79, 0xA7, 0xFF}
	okOrange        = color.RGBA{0xE6, 0x9F, 0x00, 0xFF}
	okSkyBlue       = color.RGBA{0x56, 0xB4, 0xE9, 0xFF}
	// neutral draws lines that have no protocol to show.
	neutral = color.RGBA{0x33, 0x33, 0x33, 0xFF}
)

// protocolColors fixes the colour of each known protocol variant.
var protocolColors = map[string]color.RGBA{
	"seed":           okVermillion,
	"predlock":       okBlue,
	"predlock-retry": okBluishGreen,
}

// spareColors are for protocols not in protocolColors; a name always gets
// the same one (by hash), whatever else the result set holds. Yellow is
// left out: it is too faint on white for thin lines.
var spareColors = []color.RGBA{okReddishPurple, okOrange, okSkyBlue}

// protocolColor returns the colour of protocol variant name; "" (no
// protocol known) is neutral.
func protocolColor(name string) color.RGBA {
	if name == "" {
		return neutral
	}
	if c, ok := protocolColors[name]; ok {
		return c
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return spareColors[h.Sum32()%uint32(len(spareColors))]
}

// rampColor is step i of n of an ordered axis in base's hue: from a light
// tint through base to a darker shade, so that order reads as lightness
// while the hue still names the protocol.
func rampColor(base color.RGBA, i, n int) color.RGBA {
	if n <= 1 {
		return base
	}
	t := float64(i) / float64(n-1) // 0 light … 1 dark
	mix := func(a, b uint8, f float64) uint8 { return uint8(float64(a)*(1-f) + float64(b)*f + 0.5) }
	if t < 0.6 {
		// Tint: at t = 0, 55 % white, still dark enough for a thin line
		// on white.
		f := 0.55 * (1 - t/0.6)
		return color.RGBA{mix(base.R, 0xFF, f), mix(base.G, 0xFF, f), mix(base.B, 0xFF, f), 0xFF}
	}
	// Shade: at t = 1, 45 % black.
	f := 0.45 * (t - 0.6) / 0.4
	return color.RGBA{mix(base.R, 0, f), mix(base.G, 0, f), mix(base.B, 0, f), 0xFF}
}

// lineStyle is the one line style of the main figures.
func lineStyle(c color.Color) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(1.5)}
}

// barStyle draws interval whiskers.
func barStyle(c color.Color) draw.LineStyle {
	return draw.LineStyle{Color: c, Width: vg.Points(1)}
}

// glyphStyle marks a point: filled for a measurement, hollow for a cell
// where nothing was observed and only a bound is drawn.
func glyphStyle(c color.Color, boundOnly bool) draw.GlyphStyle {
	g := draw.GlyphStyle{Color: c, Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
	if boundOnly {
		g.Shape = draw.RingGlyph{}
		g.Radius = vg.Points(3.2)
	}
	return g
}

// baseProtocol finds the protocol set once for every run in the spec's
// base table, for result sets that do not sweep it. It is compiled at its first use, not
// at every command's start.
var baseProtocol = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*protocol\s*=\s*"([^"]+)"`)
})

// protocolOf returns the protocol of a set of parameters, falling back to
// a spec that names exactly one protocol; "" when unknown.
func protocolOf(s *Summary, ps trace.Params) string {
	if v, ok := ps.Get(ProtocolAxis); ok {
		return v.Text
	}
	if _, swept := s.Manifest.Axis(ProtocolAxis); swept {
		return ""
	}
	m := baseProtocol().FindAllStringSubmatch(s.Manifest.Spec, -1)
	if len(m) == 1 {
		return m[0][1]
	}
	return ""
}

// hex formats a colour for golden files and captions.
func hex(c color.Color) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}
