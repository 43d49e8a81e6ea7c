// Package stats holds the statistics behind dhtexp's analysis: binomial
// confidence intervals, an exact test for an increase in a failure rate, a
// multiple-comparison correction, and a bounded distribution for latencies.
//
// It depends on nothing but the standard library, so the numbers can be
// tested (and reused) without reading any result set.
package stats

import (
	"math"
	"sort"
)

// Z95 is the two-sided 95% standard normal quantile, Φ⁻¹(0.975).
const Z95 = 1.959963984540054

// Interval is a closed interval [Lo, Hi].
type Interval struct {
	Lo, Hi float64
}

// Wilson returns the Wilson score interval for a binomial proportion with
// successes out of n trials at the normal quantile z (Z95 for 95%).
//
// Wilson rather than the Wald interval because sweeps often see rates of
// exactly 0 or 1, where Wald collapses to a point, and small n, where Wald
// undercovers badly. With n == 0 nothing is known and the interval is [0, 1].
func Wilson(successes, n int64, z float64) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	nf := float64(n)
	p := float64(successes) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi := center-half, center+half
	// Clamp rounding noise; at p == 0 or 1 the bound is exact.
	if successes == 0 || lo < 0 {
		lo = 0
	}
	if successes == n || hi > 1 {
		hi = 1
	}
	return Interval{lo, hi}
}

// lchoose returns log(n choose k).
func lchoose(n, k int64) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// FisherGreater is the one-sided Fisher exact test that the second sample's
// proportion is greater than the first's: x0 events out of n0 trials
// (baseline) against x1 out of n1 (current). It returns the p-value
// P(X >= x1) where X is hypergeometric given the total number of events,
// which is what R's fisher.test(alternative = "greater") and scipy's
// fisher_exact(alternative="greater") report for the table
// [[x1, n1-x1], [x0, n0-x0]].
//
// The test conditions on the total, so it is exact for any sample sizes and
// never rejects more often than its level under the null hypothesis; that
// conservatism is what keeps a CI gate quiet on reruns.
func FisherGreater(x0, n0, x1, n1 int64) float64 {
	if n0 < 0 || n1 < 0 || x0 < 0 || x1 < 0 || x0 > n0 || x1 > n1 {
		return math.NaN()
	}
	m := x0 + x1 // events in total
	n := n0 + n1
	hi := min(n1, m)
	if x1 <= max(0, m-n0) {
		return 1
	}
	den := lchoose(n, m)
	// Terms fall off quickly beyond the mode; summing from the far tail up
	// adds small terms first, which keeps the sum accurate.
	p := 0.0
	for k := hi; k >= x1; k-- {
		p += math.Exp(lchoose(n1, k) + lchoose(n0, m-k) - den)
	}
	return math.Min(p, 1)
}

// Holm adjusts p-values for testing them all at once with Holm's step-down
// method, which controls the family-wise error rate like Bonferroni but
// rejects at least as much. Adjusted p-values are compared with the level
// directly: p[i] is significant at alpha when Holm(p)[i] <= alpha. NaN
// inputs stay NaN and do not count as tests.
func Holm(p []float64) []float64 {
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if !math.IsNaN(v) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] < p[idx[b]] })
	out := make([]float64, len(p))
	for i := range out {
		out[i] = math.NaN()
	}
	m := len(idx)
	run := 0.0
	for rank, i := range idx {
		adj := math.Min(1, float64(m-rank)*p[i])
		// Adjusted values must not decrease along the sorted order.
		run = math.Max(run, adj)
		out[i] = run
	}
	return out
}
