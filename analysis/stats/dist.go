package stats

import (
	"math"
	"slices"
)

// DefaultExactCap is the number of values a Dist keeps exactly before it
// switches to its histogram: 64 KiB of int64 per distribution, enough for
// 100 seeds × 64 joiners to stay exact.
const DefaultExactCap = 8192

// Histogram geometry. Bucket i >= 1 holds values in [γ^(i-1), γ^i) and
// reports the value 2γ^i/(1+γ), within (γ-1)/(γ+1) < 1% of every value in
// the bucket; bucket 0 holds values below 1 (latency 0). γ = 1.02 covers all
// of int64 in histBuckets buckets.
const (
	histGamma   = 1.02
	histBuckets = 2207
)

var logGamma = math.Log(histGamma)

// Dist is a distribution of non-negative integers (latencies in
// nanoseconds) that holds a bounded amount of memory however many values it
// is given: values are kept exactly up to a cap, after which they move into
// a fixed log-spaced histogram with 1% relative resolution. Two Dists merge
// exactly as if one had been given both inputs, up to the histogram's
// resolution, so partial aggregates from separate files or shards combine.
//
// Quantiles use the nearest-rank definition: the q-quantile is the smallest
// value v such that at least q·n values are <= v. It is always one of the
// values (or, from the histogram, a bucket's representative clamped to the
// observed minimum and maximum), which suits integer nanoseconds better than
// interpolating between two of them.
//
// The zero value is an empty Dist with DefaultExactCap.
type Dist struct {
	// Cap is the number of values kept exactly; 0 means DefaultExactCap.
	// Set it before the first Add.
	Cap int

	exact  []int64
	sorted bool
	hist   []uint64 // nil until the exact values overflow Cap
	n      int64
	min    int64
	max    int64
	sum    float64
}

func (d *Dist) capacity() int {
	if d.Cap > 0 {
		return d.Cap
	}
	return DefaultExactCap
}

// Add records one value. Negative values are recorded as 0.
func (d *Dist) Add(v int64) {
	if v < 0 {
		v = 0
	}
	if d.n == 0 || v < d.min {
		d.min = v
	}
	if d.n == 0 || v > d.max {
		d.max = v
	}
	d.n++
	d.sum += float64(v)
	if d.hist != nil {
		d.hist[bucket(v)]++
		return
	}
	d.exact = append(d.exact, v)
	d.sorted = false
	if len(d.exact) > d.capacity() {
		d.spill()
	}
}

// spill moves the exact values into the histogram.
func (d *Dist) spill() {
	d.hist = make([]uint64, histBuckets)
	for _, v := range d.exact {
		d.hist[bucket(v)]++
	}
	d.exact = nil
}

func bucket(v int64) int {
	if v < 1 {
		return 0
	}
	i := int(math.Floor(math.Log(float64(v))/logGamma)) + 1
	return min(i, histBuckets-1)
}

// bucketValue is the value reported for bucket i.
func bucketValue(i int) float64 {
	if i == 0 {
		return 0
	}
	return 2 * math.Pow(histGamma, float64(i)) / (1 + histGamma)
}

// Merge adds every value of o to d.
func (d *Dist) Merge(o *Dist) {
	if o.n == 0 {
		return
	}
	if d.n == 0 || o.min < d.min {
		d.min = o.min
	}
	if d.n == 0 || o.max > d.max {
		d.max = o.max
	}
	d.n += o.n
	d.sum += o.sum
	if d.hist == nil && o.hist == nil && len(d.exact)+len(o.exact) <= d.capacity() {
		d.exact = append(d.exact, o.exact...)
		d.sorted = false
		return
	}
	if d.hist == nil {
		d.spill()
	}
	if o.hist != nil {
		for i, c := range o.hist {
			d.hist[i] += c
		}
		return
	}
	for _, v := range o.exact {
		d.hist[bucket(v)]++
	}
}

// N returns the number of values.
func (d *Dist) N() int64 { return d.n }

// Exact reports whether every value is still held exactly, so that
// quantiles are exact too.
func (d *Dist) Exact() bool { return d.hist == nil }

// Min returns the smallest value, or 0 when empty.
func (d *Dist) Min() int64 { return d.min }

// Max returns the largest value, or 0 when empty.
func (d *Dist) Max() int64 { return d.max }

// Mean returns the arithmetic mean, or NaN when empty.
func (d *Dist) Mean() float64 {
	if d.n == 0 {
		return math.NaN()
	}
	return d.sum / float64(d.n)
}

func (d *Dist) sortExact() {
	if !d.sorted {
		slices.Sort(d.exact)
		d.sorted = true
	}
}

// rank is the 1-based nearest rank of quantile q among n values.
func rank(q float64, n int64) int64 {
	r := int64(math.Ceil(q * float64(n)))
	return min(max(r, 1), n)
}

// Quantile returns the nearest-rank q-quantile for q in [0, 1], or NaN when
// the Dist is empty.
func (d *Dist) Quantile(q float64) float64 {
	if d.n == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q <= 0 {
		return float64(d.min)
	}
	if q >= 1 {
		return float64(d.max)
	}
	r := rank(q, d.n)
	if d.hist == nil {
		d.sortExact()
		return float64(d.exact[r-1])
	}
	var cum int64
	for i, c := range d.hist {
		cum += int64(c)
		if cum >= r {
			return math.Min(math.Max(bucketValue(i), float64(d.min)), float64(d.max))
		}
	}
	return float64(d.max)
}

// CDFPoint is one step of an empirical distribution function: a fraction P
// of the values are <= X.
type CDFPoint struct {
	X, P float64
}

// CDF returns the empirical distribution function as at most maxPoints
// steps (all distinct values when maxPoints <= 0), ending at P == 1.
// Thinning keeps evenly spaced ranks, so the curve's shape survives.
func (d *Dist) CDF(maxPoints int) []CDFPoint {
	if d.n == 0 {
		return nil
	}
	var pts []CDFPoint
	if d.hist == nil {
		d.sortExact()
		for i, v := range d.exact {
			if i+1 < len(d.exact) && d.exact[i+1] == v {
				continue
			}
			pts = append(pts, CDFPoint{float64(v), float64(i+1) / float64(d.n)})
		}
	} else {
		var cum uint64
		for i, c := range d.hist {
			if c == 0 {
				continue
			}
			cum += c
			x := math.Min(math.Max(bucketValue(i), float64(d.min)), float64(d.max))
			pts = append(pts, CDFPoint{x, float64(cum) / float64(d.n)})
		}
	}
	if maxPoints <= 0 || len(pts) <= maxPoints {
		return pts
	}
	thin := make([]CDFPoint, 0, maxPoints)
	for i := 1; i <= maxPoints; i++ {
		thin = append(thin, pts[(i*len(pts))/maxPoints-1])
	}
	return thin
}
