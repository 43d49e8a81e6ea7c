package stats

import (
	"math"
	"math/bits"
	"slices"
)

// Bootstrap intervals resample whole clusters (runs), never single values:
// the joins of one run share a ring, a schedule and a fate, so resampling
// them one by one would treat correlated values as independent and give
// intervals far too narrow.
//
// The resampling draws from its own seeded generator (SplitMix64), whose
// output is fixed by this file rather than by the standard library, so a
// report drawn twice from the same data carries the same intervals.

// DefaultResamples is the number of bootstrap resamples used by the
// report: enough for stable 2.5 % and 97.5 % percentile endpoints at a
// cost that keeps reports of large result sets within a second or so.
const DefaultResamples = 400

// splitMix64 is a small, fully specified pseudo-random generator.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// intn returns a value in [0, n) by Lemire's multiply-shift; its bias,
// below n/2⁶⁴, is far beneath anything a bootstrap can notice.
func (s *splitMix64) intn(n int) int {
	hi, _ := bits.Mul64(s.next(), uint64(n))
	return int(hi)
}

// Cluster value packing: a value in the high bits, its cluster in the low
// clusterBits, so that one integer sort orders values and keeps their
// cluster beside them.
const (
	clusterBits = 20
	// MaxClusters is the number of clusters a Clustered can hold.
	MaxClusters = 1 << clusterBits
	// MaxClusteredValue is the largest value a Clustered can hold (2⁴⁴-1
	// nanoseconds is almost five hours).
	MaxClusteredValue = 1<<(64-clusterBits) - 1
)

// Clustered holds non-negative integer values (join latencies in
// nanoseconds) together with the cluster (run) each came from, for
// cluster-bootstrap intervals of quantiles. Clusters are numbered densely
// from 0 and may hold no values at all: a run without a successful join is
// still drawn in resamples.
type Clustered struct {
	packed   []uint64
	sizes    []int64 // values per cluster
	overflow bool
	sorted   bool
}

// NewClustered returns a Clustered for clusters 0..n-1.
func NewClustered(n int) *Clustered {
	c := &Clustered{sizes: make([]int64, n)}
	if n > MaxClusters {
		c.overflow = true
	}
	return c
}

// Add records value v from cluster k. Values out of range make the
// Clustered unusable (its intervals unknown) rather than wrong.
func (c *Clustered) Add(k int, v int64) {
	if c.overflow {
		return
	}
	if k < 0 || k >= len(c.sizes) || v < 0 || v > MaxClusteredValue {
		c.overflow = true
		c.packed = nil
		return
	}
	c.packed = append(c.packed, uint64(v)<<clusterBits|uint64(k))
	c.sizes[k]++
	c.sorted = false
}

// N returns the number of values.
func (c *Clustered) N() int { return len(c.packed) }

// Clusters returns the number of clusters.
func (c *Clustered) Clusters() int { return len(c.sizes) }

// QuantileCIs returns, for each nearest-rank quantile in qs, the percentile
// bootstrap interval at confidence conf from resamples draws of whole
// clusters, with a generator seeded by seed. The intervals are unknown
// (NaN) with fewer than two clusters holding values or when a value or
// cluster was out of range.
func (c *Clustered) QuantileCIs(qs []float64, conf float64, resamples int, seed uint64) []Interval {
	out := make([]Interval, len(qs))
	for i := range out {
		out[i] = Interval{math.NaN(), math.NaN()}
	}
	nonEmpty := 0
	for _, s := range c.sizes {
		if s > 0 {
			nonEmpty++
		}
	}
	if c.overflow || nonEmpty < 2 || resamples < 2 {
		return out
	}
	if !c.sorted {
		radixSort(c.packed)
		c.sorted = true
	}
	const mask = MaxClusters - 1
	n := len(c.sizes)
	// Checkpoints split the sorted values into blocks and remember how
	// many values of each cluster lie before each block, so that a
	// resample finds the block holding its quantile from cluster counts
	// alone and scans only that block: without them, every resample would
	// scan about half of the values.
	nv := len(c.packed)
	// A block's cluster counts cost about as much to sum as twice the
	// clusters' number of values to scan, so blocks that small would not
	// pay for themselves.
	blocks := min(max(nv/(2*n), 1), 256)
	pos := make([]int, blocks+1)
	before := make([][]int32, blocks+1)
	running := make([]int32, n)
	for b := range blocks + 1 {
		pos[b] = b * nv / blocks
	}
	j := 0
	for b := range blocks + 1 {
		for ; j < pos[b]; j++ {
			running[c.packed[j]&mask]++
		}
		before[b] = slices.Clone(running)
	}
	draws := make([]int, n)
	w := make([]int64, n)
	est := make([][]float64, len(qs))
	for i := range est {
		est[i] = make([]float64, 0, resamples)
	}
	rng := splitMix64(seed)
	for range resamples {
		clear(w)
		var total int64
		for d := range n {
			k := rng.intn(n)
			draws[d] = k
			w[k]++
			total += c.sizes[k]
		}
		if total == 0 {
			continue
		}
		cumAt := func(b int) int64 {
			var s int64
			cnt := before[b]
			for _, k := range draws {
				s += int64(cnt[k])
			}
			return s
		}
		for i, q := range qs {
			r := rank(q, total)
			// The cheapest of three ways to find the value of rank r: a
			// scan from the front, a scan from the back, or the blocks.
			front, back := q*float64(nv), (1-q)*float64(nv)
			viaBlocks := 4*float64(n) + float64(nv)/float64(blocks)
			switch {
			case blocks > 1 && viaBlocks < min(front, back):
				est[i] = append(est[i], c.fromBlocks(r, q, nv, blocks, pos, w, cumAt))
			case back < front:
				est[i] = append(est[i], c.fromBack(r, total, w))
			default:
				est[i] = append(est[i], c.fromFront(r, 0, 0, nv, w))
			}
		}
	}
	for i := range qs {
		out[i] = percentileInterval(est[i], conf)
	}
	return out
}

// fromFront returns the value at which the running weight of the values in
// [from, to), starting at cum, first reaches r.
func (c *Clustered) fromFront(r, cum int64, from, to int, w []int64) float64 {
	const mask = MaxClusters - 1
	for _, p := range c.packed[from:to] {
		cum += w[p&mask]
		if cum >= r {
			return float64(p >> clusterBits)
		}
	}
	return math.NaN()
}

// fromBack finds the same value as fromFront scanning from the back: the
// first value, counted from the front, at which the running weight
// reaches r is the one whose weight carries the total after it past
// total-r.
func (c *Clustered) fromBack(r, total int64, w []int64) float64 {
	const mask = MaxClusters - 1
	after := int64(0)
	for j := len(c.packed) - 1; j >= 0; j-- {
		p := c.packed[j]
		wj := w[p&mask]
		if wj == 0 {
			continue
		}
		if total-after-wj < r {
			return float64(p >> clusterBits)
		}
		after += wj
	}
	return math.NaN()
}

// fromBlocks finds the block holding rank r from the blocks' cluster
// counts and scans only that block. The last block whose start lies below
// rank r holds it; cumAt(0) is 0 and cumAt(blocks) the total, >= r. A
// resample's quantile is almost always in or next to the block of the
// data's own, so the search starts there.
func (c *Clustered) fromBlocks(r int64, q float64, nv, blocks int, pos []int, w []int64, cumAt func(int) int64) float64 {
	lo := min(int(int64(blocks)*(rank(q, int64(nv))-1)/int64(nv)), blocks-1)
	cum := cumAt(lo)
	for lo > 0 && cum >= r {
		lo--
		cum = cumAt(lo)
	}
	hi := lo + 1
	for hi < blocks {
		next := cumAt(hi)
		if next >= r {
			break
		}
		lo, hi, cum = hi, hi+1, next
	}
	return c.fromFront(r, cum, pos[lo], pos[hi], w)
}

// RatioCI returns the percentile bootstrap interval at confidence conf for
// Σy / Σx over clusters (runs) with per-cluster totals y[k] and x[k], such
// as messages over joins. Unknown (NaN) with fewer than two clusters or
// when no resample has Σx > 0.
func RatioCI(y, x []float64, conf float64, resamples int, seed uint64) Interval {
	n := len(x)
	if n < 2 || len(y) != n || resamples < 2 {
		return Interval{math.NaN(), math.NaN()}
	}
	rng := splitMix64(seed)
	est := make([]float64, 0, resamples)
	for range resamples {
		var sy, sx float64
		for range n {
			k := rng.intn(n)
			sy += y[k]
			sx += x[k]
		}
		if sx > 0 {
			est = append(est, sy/sx)
		}
	}
	return percentileInterval(est, conf)
}

// percentileInterval is the (1-conf)/2 and (1+conf)/2 nearest-rank
// quantiles of the bootstrap estimates.
func percentileInterval(est []float64, conf float64) Interval {
	if len(est) < 2 {
		return Interval{math.NaN(), math.NaN()}
	}
	slices.Sort(est)
	n := int64(len(est))
	lo := est[rank((1-conf)/2, n)-1]
	hi := est[rank((1+conf)/2, n)-1]
	return Interval{lo, hi}
}

// ClopperPearsonUpper returns the exact one-sided upper confidence bound
// at level conf for a binomial proportion with k events in n trials: the p
// at which seeing k or fewer events has probability 1-conf. For k = 0 it
// is 1-(1-conf)^(1/n), a little below the rule of three's 3/n at 95 %.
// With n == 0 nothing is known and the bound is 1.
func ClopperPearsonUpper(k, n int64, conf float64) float64 {
	switch {
	case n <= 0 || k >= n:
		return 1
	case k <= 0:
		return -math.Expm1(math.Log(1-conf) / float64(n))
	}
	alpha := 1 - conf
	// P(X <= k | p) = 1 - I_p(k+1, n-k) falls as p rises.
	lo, hi := float64(k)/float64(n), 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if 1-regIncBeta(float64(k+1), float64(n-k), mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-15 {
			break
		}
	}
	return (lo + hi) / 2
}

// radixSort sorts a in place. Sorting the packed values is most of the
// bootstrap's cost for large grid points, and a least-significant-digit
// radix sort, which skips the bytes every value shares, does it in a few
// linear passes where a comparison sort needs log n of them.
func radixSort(a []uint64) {
	if len(a) < 1024 {
		slices.Sort(a)
		return
	}
	buf := make([]uint64, len(a))
	src, dst := a, buf
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		clear(count[:])
		for _, v := range src {
			count[byte(v>>shift)]++
		}
		if count[byte(src[0]>>shift)] == len(src) {
			continue // every value has this byte
		}
		sum := 0
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, v := range src {
			d := byte(v >> shift)
			dst[count[d]] = v
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &a[0] {
		copy(a, src)
	}
}
