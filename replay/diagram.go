// Package replay reruns one simulation exactly and shows it: a message log, the first
// invariant violation, and a sequence diagram; it also shrinks a failing run to a smaller
// configuration that fails the same way.
package replay

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// Recorder keeps a run's events for drawing. Only the kinds a diagram shows are kept.
type Recorder struct {
	Events []observe.Event
}

// Event implements observe.Tracer.
func (r *Recorder) Event(e *observe.Event) {
	switch e.Kind {
	case observe.KindSend, observe.KindDeliver, observe.KindDrop, observe.KindViolation, observe.KindFault, observe.KindJoinEnd:
		r.Events = append(r.Events, *e)
	}
}

type msgKey struct {
	t               protocol.MsgType
	from, to, joinr protocol.ID
}

// DiagramOptions bounds the drawing.
type DiagramOptions struct {
	MaxRows int // rows beyond this are cut (0: 4000)
	Title   string
	// Outcome is a line under the title saying how the run ended.
	Outcome string
}

// labels places text labels so that none overlaps another: a label that
// would is moved down a few pixels at a time. Widths are estimated from
// the font size, which is close enough for the short labels drawn here.
type labels struct{ placed []labelBox }

type labelBox struct{ x0, x1, y0, y1 float64 }

func (l *labels) place(cx, y float64, text string, size float64) float64 {
	w := float64(len([]rune(text))) * size * 0.58
	for range 40 {
		b := labelBox{cx - w/2, cx + w/2, y - size, y + 2}
		clash := false
		for _, o := range l.placed {
			if b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1 {
				clash = true
				break
			}
		}
		if !clash {
			l.placed = append(l.placed, b)
			return y
		}
		y += size
	}
	return y
}

// WriteSVG draws a sequence diagram: one lifeline per node, time downward, an arrow per
// message from its sending row to its delivery row, lost messages ending in a cross, and
// the first violation highlighted in red.
func WriteSVG(w io.Writer, events []observe.Event, opt DiagramOptions) error {
	if opt.MaxRows <= 0 {
		opt.MaxRows = 4000
	}
	var ids []protocol.ID
	seen := map[protocol.ID]bool{}
	add := func(id protocol.ID) {
		if id != protocol.None && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, e := range events {
		add(e.Node)
		if e.Kind == observe.KindSend {
			add(e.From)
			add(e.To)
		}
	}
	slices.Sort(ids)
	col := map[protocol.ID]int{}
	for i, id := range ids {
		col[id] = i
	}
	const (
		left, top, colW, rowH = 110, 86, 110, 16
	)
	x := func(id protocol.ID) int { return left + col[id]*colW }

	var b strings.Builder
	rows := 0
	y := top + 20
	inflight := map[msgKey][]int{} // send rows waiting for their delivery
	var arrows, marks strings.Builder
	violationDrawn := false
	cut := false
	var lab labels
	lastTime := ""
	// stamp prints a row's time, once: rows at the same instant share it.
	stamp := func(t int64, y int) {
		if ts := fmtTime(t); ts != lastTime {
			lastTime = ts
			fmt.Fprintf(&marks, `<text x="8" y="%d" class="t">%s</text>`, y+4, ts)
		}
	}
	var lateViolation *observe.Event
	for i, e := range events {
		if rows >= opt.MaxRows {
			cut = true
			// The first violation is the point of the diagram; name it
			// even when its row is past the cut.
			for j := i; j < len(events) && !violationDrawn; j++ {
				if events[j].Kind == observe.KindViolation {
					lateViolation = &events[j]
					break
				}
			}
			break
		}
		switch e.Kind {
		case observe.KindSend:
			k := msgKey{e.MsgType, e.From, e.To, e.Joiner}
			inflight[k] = append(inflight[k], y)
			stamp(e.Time, y)
		case observe.KindDeliver:
			k := msgKey{e.MsgType, e.From, e.To, e.Joiner}
			if q := inflight[k]; len(q) > 0 {
				sy := q[0]
				inflight[k] = q[1:]
				fmt.Fprintf(&arrows, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="m" marker-end="url(#a)"/>`, x(e.From), sy, x(e.To), y)
				name := e.MsgType.String()
				cx := float64(x(e.From)+x(e.To)) / 2
				ly := lab.place(cx, float64(sy+y)/2-3, name, 9)
				fmt.Fprintf(&arrows, `<text x="%g" y="%g" class="l">%s</text>`, cx, ly, html.EscapeString(name))
			}
		case observe.KindDrop:
			stamp(e.Time, y)
			fmt.Fprintf(&marks, `<text x="%d" y="%d" class="x">✕ %s</text>`, x(e.Node)-5, y+4, html.EscapeString(e.MsgType.String()))
		case observe.KindFault:
			stamp(e.Time, y)
			fmt.Fprintf(&marks, `<text x="%d" y="%d" class="f">⚡ %s</text>`, x(e.Node)+6, y+4, html.EscapeString(e.Detail))
		case observe.KindJoinEnd:
			stamp(e.Time, y)
			// Right of the dot: .l centres its text, so the centre sits half
			// the label's width past the dot's edge.
			cx := float64(x(e.Node) + 26)
			ly := lab.place(cx, float64(y+4), "joined", 9)
			fmt.Fprintf(&marks, `<circle cx="%d" cy="%d" r="5" class="j"/><text x="%g" y="%g" class="l">joined</text>`, x(e.Node), y, cx, ly)
		case observe.KindViolation:
			if violationDrawn {
				continue
			}
			violationDrawn = true
			lab.place(float64(left+200), float64(y+4), strings.Repeat("x", 60), 11)
			fmt.Fprintf(&marks, `<rect x="0" y="%d" width="100%%" height="%d" class="v"/><text x="%d" y="%d" class="vt">%s at %v: %s</text>`,
				y-rowH/2, rowH, left, y+4, fmtTime(e.Time), e.Node, html.EscapeString(e.Detail))
		default:
			continue
		}
		y += rowH
		rows++
	}
	// Messages sent but never delivered within the drawing: lost, dropped or still in flight.
	// In send order, so that the drawing (and the label placement) does not depend on map order.
	type pending struct {
		k  msgKey
		sy int
	}
	var undelivered []pending
	for k, q := range inflight {
		for _, sy := range q {
			undelivered = append(undelivered, pending{k, sy})
		}
	}
	slices.SortFunc(undelivered, func(a, b pending) int {
		if a.sy != b.sy {
			return a.sy - b.sy
		}
		return strings.Compare(fmt.Sprint(a.k), fmt.Sprint(b.k))
	})
	for _, u := range undelivered {
		k, sy := u.k, u.sy
		name := k.t.String() + " (not delivered)"
		cx := float64(x(k.from)+x(k.to)) / 2
		ly := lab.place(cx, float64(sy+6), name, 9)
		fmt.Fprintf(&arrows, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="lost"/><text x="%g" y="%g" class="l">%s</text>`,
			x(k.from), sy, (x(k.from)+x(k.to))/2, sy+8, cx, ly, html.EscapeString(name))
	}
	height := y + 30
	width := left + len(ids)*colW + 40
	// Wide enough for the title and the outcome line, which are often
	// longer than a few lifelines are wide (about 7 px a character at 13 px).
	for _, line := range []string{opt.Title, opt.Outcome} {
		width = max(width, 16+len([]rune(line))*7)
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">`, width, height, width, height)
	b.WriteString(`<style>.t{font-size:10px;fill:#555}.l{font-size:9px;fill:#333;text-anchor:middle}.m{stroke:#0072B2;stroke-width:1.2}` +
		`.lost{stroke:#D55E00;stroke-width:1.2;stroke-dasharray:4 3}.x{font-size:10px;fill:#D55E00}.f{font-size:10px;fill:#E69F00}` +
		`.j{fill:#009E73}.v{fill:#ff000030}.vt{font-size:11px;fill:#c00;font-weight:bold}.h{font-size:12px;font-weight:bold;text-anchor:middle}.life{stroke:#999;stroke-dasharray:2 3}</style>`)
	b.WriteString(`<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#0072B2"/></marker></defs>`)
	if opt.Title != "" {
		fmt.Fprintf(&b, `<text x="8" y="20" font-size="13">%s</text>`, html.EscapeString(opt.Title))
	}
	if opt.Outcome != "" {
		fmt.Fprintf(&b, `<text x="8" y="40" font-size="12" font-weight="bold">%s</text>`, html.EscapeString(opt.Outcome))
	}
	for _, id := range ids {
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="h">%v</text><line x1="%d" y1="%d" x2="%d" y2="%d" class="life"/>`, x(id), top, id, x(id), top+6, x(id), height-20)
	}
	b.WriteString(arrows.String())
	b.WriteString(marks.String())
	if cut {
		msg := fmt.Sprintf("… cut after %d rows", opt.MaxRows)
		if lateViolation != nil {
			msg += fmt.Sprintf("; first violation at %s on %v: %s", fmtTime(lateViolation.Time), lateViolation.Node, lateViolation.Detail)
		}
		fmt.Fprintf(&b, `<text x="8" y="%d" class="vt">%s</text>`, height-8, html.EscapeString(msg))
	}
	b.WriteString(`</svg>`)
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtTime(ns int64) string {
	return fmt.Sprintf("%.3fms", float64(ns)/1e6)
}
