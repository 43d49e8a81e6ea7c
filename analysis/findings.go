package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// Findings are the few sentences a reader needs before the figures,
// generated from the data with their numbers and intervals, so that they
// cannot drift from it.

// runTotals counts runs over the points on the x axis.
type runTotals struct{ runs, failed int64 }

// protocolTotals sums runs and failed runs per protocol.
func protocolTotals(s *Summary) map[string]runTotals {
	out := map[string]runTotals{}
	for _, sr := range s.Series {
		pr := protocolOf(s, sr.Params)
		t := out[pr]
		for _, idx := range sr.Points {
			p := s.Points[idx]
			t.runs += p.Runs
			t.failed += p.Failed()
		}
		out[pr] = t
	}
	return out
}

// groupInt formats n with thousands separators, as people read counts.
func groupInt(n int64) string {
	d := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	var b strings.Builder
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct formats a proportion as a percentage with two significant digits
// below 1 %, so that a bound of 0.0083 % does not print as 0.0 %.
func pct(v float64) string {
	x := 100 * v
	switch {
	case x == 0:
		return "0 %"
	case x < 1:
		return strconv.FormatFloat(x, 'g', 2, 64) + " %"
	case x < 10:
		return strconv.FormatFloat(x, 'f', 1, 64) + " %"
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + " %"
}

// zeroFailureSentence says what is known about a set of runs none of which
// failed.
func zeroFailureSentence(what string, n int64) string {
	return fmt.Sprintf("%s: 0 of %s runs failed; 95 %% upper bound on the failure rate %s (exact one-sided Clopper–Pearson).", what, groupInt(n), pct(zeroBound(n)))
}

// label names a protocol in prose.
func protoLabel(pr string) string {
	if pr == "" {
		return "All runs"
	}
	return pr
}

// Findings returns the report's opening sentences.
func Findings(s *Summary) []string {
	var out []string
	protos := protocols(s)
	totals := protocolTotals(s)
	for _, pr := range protos {
		t := totals[pr]
		if t.runs == 0 {
			continue
		}
		if t.failed == 0 {
			out = append(out, zeroFailureSentence(protoLabel(pr), t.runs))
			continue
		}
		r := newRate(t.failed, t.runs)
		out = append(out, fmt.Sprintf("%s: %s of %s runs failed (%s, 95 %% Wilson interval %s–%s), pooled over every grid point.",
			protoLabel(pr), groupInt(t.failed), groupInt(t.runs), pct(float64(r.Value)), pct(float64(r.Lo)), pct(float64(r.Hi))))
		if f := halfSuccess(s, pr); f != "" {
			out = append(out, f)
		}
	}
	out = append(out, costFindings(s, protos)...)
	out = append(out, churnFindings(s)...)
	return out
}

// halfSuccess says, per panel, where a protocol's run success first falls
// below 50 % along x: the first x value whose whole Wilson interval lies
// below it.
func halfSuccess(s *Summary, pr string) string {
	if s.XAxis == "" || !s.XNumeric {
		return ""
	}
	var parts []string
	for _, f := range facets(s) {
		for _, si := range f.series {
			sr := s.Series[si]
			if protocolOf(s, sr.Params) != pr {
				continue
			}
			for _, idx := range sr.Points {
				p := s.Points[idx]
				if math.IsNaN(float64(p.X)) || p.Runs == 0 || float64(p.RunSuccess.Hi) >= 0.5 {
					continue
				}
				where := s.XAxis + " = " + s.XTick(p)
				if len(facets(s)) > 1 {
					where += " at " + f.label
				}
				parts = append(parts, fmt.Sprintf("%s (%s ok, 95 %% CI %s–%s)", where, pct(float64(p.RunSuccess.Value)), pct(float64(p.RunSuccess.Lo)), pct(float64(p.RunSuccess.Hi))))
				break
			}
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s falls below 50 %% run success (whole interval below) first at %s.", protoLabel(pr), strings.Join(parts, "; "))
}

// costFindings compares each protocol's messages per join and median
// latency with the first protocol's, at the grid points they share: the
// median ratio over those points and its range, with the points'
// bootstrap intervals behind the largest ratio quoted.
func costFindings(s *Summary, protos []string) []string {
	if len(protos) < 2 {
		return nil
	}
	ref := protos[0]
	// The grid points of ref by their parameters other than protocol.
	byKey := map[string]*Point{}
	for _, p := range s.Points {
		if protocolOf(s, p.Params) == ref {
			byKey[withoutProtocol(p.Params).Key()] = p
		}
	}
	var out []string
	for _, pr := range protos[1:] {
		type pair struct{ a, b *Point }
		var pairs []pair
		for _, p := range s.Points {
			if protocolOf(s, p.Params) != pr {
				continue
			}
			if q, ok := byKey[withoutProtocol(p.Params).Key()]; ok {
				pairs = append(pairs, pair{q, p})
			}
		}
		if len(pairs) == 0 {
			continue
		}
		for _, m := range []struct {
			what string
			get  func(*Point) (Num, Interval)
			unit func(float64) string
		}{
			{"messages per join", func(p *Point) (Num, Interval) { return p.MessagesPerJoin, p.MessagesPerJoinCI }, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }},
			{"median latency of successful joins", func(p *Point) (Num, Interval) { return p.LatencyP50, p.LatencyP50CI }, func(v float64) string { return fmtMs(Num(v)) + " ms" }},
		} {
			var ratios []float64
			var worst pair
			worstR := math.Inf(-1)
			for _, pp := range pairs {
				a, _ := m.get(pp.a)
				b, _ := m.get(pp.b)
				if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) || a <= 0 {
					continue
				}
				r := float64(b) / float64(a)
				ratios = append(ratios, r)
				if r > worstR {
					worstR, worst = r, pp
				}
			}
			if len(ratios) == 0 {
				continue
			}
			slices.Sort(ratios)
			med := ratios[len(ratios)/2]
			va, ia := m.get(worst.a)
			vb, ib := m.get(worst.b)
			out = append(out, fmt.Sprintf("%s against %s, %s: ×%.2f at the median grid point (×%.2f to ×%.2f over %d shared points); the largest, ×%.2f, at %s: %s %s against %s %s (95 %% bootstrap intervals).",
				pr, ref, m.what, med, ratios[0], ratios[len(ratios)-1], len(ratios), worstR, withoutProtocol(worst.b.Params).String(),
				m.unit(float64(vb)), boundsProse(ib.Lo, ib.Hi, m.unit),
				m.unit(float64(va)), boundsProse(ia.Lo, ia.Hi, m.unit)))
		}
	}
	return out
}

func withoutProtocol(ps trace.Params) trace.Params {
	var out trace.Params
	for _, q := range ps {
		if q.Name != ProtocolAxis {
			out = append(out, q)
		}
	}
	return out
}
