package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveQuantileCIs resamples clusters the slow, obvious way with the same
// draws as QuantileCIs: it lists every value of every drawn cluster, sorts
// them and takes the nearest-rank quantile.
func naiveQuantileCIs(vals [][]int64, qs []float64, conf float64, resamples int, seed uint64) []Interval {
	rng := splitMix64(seed)
	n := len(vals)
	est := make([][]float64, len(qs))
	for range resamples {
		var all []int64
		for range n {
			all = append(all, vals[rng.intn(n)]...)
		}
		if len(all) == 0 {
			continue
		}
		slices.Sort(all)
		for i, q := range qs {
			est[i] = append(est[i], float64(all[rank(q, int64(len(all)))-1]))
		}
	}
	out := make([]Interval, len(qs))
	for i := range qs {
		out[i] = percentileInterval(est[i], conf)
	}
	return out
}

func TestQuantileCIsMatchNaive(t *testing.T) {
	tests := []struct {
		name     string
		clusters int
		perMax   int // values per cluster: 0..perMax
		ties     bool
	}{
		{"one value per cluster", 50, 1, false},
		{"many values, some empty clusters", 40, 12, false},
		{"heavy ties", 30, 20, true},
		{"two clusters", 2, 5, false},
		{"many blocks", 60, 150, false},
		{"many blocks with ties", 60, 150, true},
	}
	qs := []float64{0.5, 0.9, 0.99, 0.01}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tt.clusters)))
			vals := make([][]int64, tt.clusters)
			c := NewClustered(tt.clusters)
			for k := range vals {
				m := rng.IntN(tt.perMax + 1)
				if tt.perMax == 1 || k < 2 {
					m = max(m, 1)
				}
				for range m {
					v := int64(rng.ExpFloat64() * 1e6)
					if tt.ties {
						v = int64(rng.IntN(4)) * 1000
					}
					vals[k] = append(vals[k], v)
					c.Add(k, v)
				}
			}
			got := c.QuantileCIs(qs, 0.95, 300, 42)
			want := naiveQuantileCIs(vals, qs, 0.95, 300, 42)
			for i := range qs {
				if got[i] != want[i] {
					t.Errorf("q %v: got %v, want %v", qs[i], got[i], want[i])
				}
			}
			// Same seed, same intervals: reports stay byte-stable.
			again := c.QuantileCIs(qs, 0.95, 300, 42)
			if !slices.Equal(got, again) {
				t.Errorf("not deterministic: %v then %v", got, again)
			}
		})
	}
}

func TestQuantileCIsUnknown(t *testing.T) {
	tests := []struct {
		name string
		fill func(*Clustered)
	}{
		{"empty", func(*Clustered) {}},
		{"one cluster with values", func(c *Clustered) { c.Add(0, 5); c.Add(0, 7) }},
		{"negative value", func(c *Clustered) { c.Add(0, 5); c.Add(1, -1) }},
		{"value too large", func(c *Clustered) { c.Add(0, 5); c.Add(1, MaxClusteredValue+1) }},
		{"cluster out of range", func(c *Clustered) { c.Add(0, 5); c.Add(3, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClustered(3)
			tt.fill(c)
			ci := c.QuantileCIs([]float64{0.5}, 0.95, 100, 1)[0]
			if !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) {
				t.Errorf("got %v, want unknown", ci)
			}
		})
	}
}

// TestQuantileCIsCoverage: with clusters that share a random offset, the
// cluster bootstrap's 95 % interval for the median holds the true median
// roughly 95 % of the time (percentile intervals undercover a little at
// small sizes), where resampling single values would cover far less.
func TestQuantileCIsCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("coverage simulation")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const trials, clusters, per = 300, 40, 10
	// Value = cluster offset N(0, 1) + noise N(0, 0.5), scaled; the
	// population median is the centre.
	const centre = 1e6
	hit := 0
	for trial := range trials {
		c := NewClustered(clusters)
		for k := range clusters {
			off := rng.NormFloat64()
			for range per {
				c.Add(k, int64(centre+1e5*(off+0.5*rng.NormFloat64())))
			}
		}
		ci := c.QuantileCIs([]float64{0.5}, 0.95, 200, uint64(trial))[0]
		if ci.Lo <= centre && centre <= ci.Hi {
			hit++
		}
	}
	if cov := float64(hit) / trials; cov < 0.88 || cov > 0.99 {
		t.Errorf("coverage %.3f, want about 0.95", cov)
	}
}

func TestRatioCI(t *testing.T) {
	y := []float64{10, 12, 30, 8, 9, 40, 11}
	x := []float64{2, 3, 5, 2, 2, 6, 3}
	got := RatioCI(y, x, 0.95, 500, 9)
	// The same draws by hand.
	rng := splitMix64(9)
	var est []float64
	for range 500 {
		var sy, sx float64
		for range len(x) {
			k := rng.intn(len(x))
			sy, sx = sy+y[k], sx+x[k]
		}
		est = append(est, sy/sx)
	}
	if want := percentileInterval(est, 0.95); got != want {
		t.Errorf("RatioCI = %v, want %v", got, want)
	}
	if v := 120.0 / 23; !(got.Lo < v && v < got.Hi) {
		t.Errorf("RatioCI %v does not hold the estimate %v", got, v)
	}
	for _, bad := range [][2][]float64{{{1}, {1}}, {{1, 2}, {0, 0}}, {{1, 2, 3}, {1, 2}}} {
		if ci := RatioCI(bad[0], bad[1], 0.95, 100, 1); !math.IsNaN(ci.Lo) {
			t.Errorf("RatioCI(%v, %v) = %v, want unknown", bad[0], bad[1], ci)
		}
	}
}

// binomCDF is P(X <= k) for X ~ Binomial(n, p), summed term by term.
func binomCDF(k, n int64, p float64) float64 {
	s := 0.0
	for i := int64(0); i <= k; i++ {
		s += math.Exp(lchoose(n, i) + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return s
}

func TestClopperPearsonUpper(t *testing.T) {
	tests := []struct {
		k, n int64
		want float64 // 0: check the defining property only
	}{
		{0, 36000, 8.321133e-5},  // 1 - 0.05^(1/36000)
		{0, 1000, 0.00299124955}, // 1 - 0.05^(1/1000)
		{0, 1, 0.95},
		{3, 100, 0},
		{10, 1000, 0},
		{499, 1000, 0},
		{0, 0, 1},
		{5, 5, 1},
	}
	for _, tt := range tests {
		got := ClopperPearsonUpper(tt.k, tt.n, 0.95)
		if tt.want != 0 {
			if !near(got, tt.want, 1e-6*tt.want) {
				t.Errorf("ClopperPearsonUpper(%d, %d) = %.9g, want %.9g", tt.k, tt.n, got, tt.want)
			}
			continue
		}
		if p := binomCDF(tt.k, tt.n, got); !near(p, 0.05, 1e-9) {
			t.Errorf("ClopperPearsonUpper(%d, %d) = %v: P(X <= k) = %v, want 0.05", tt.k, tt.n, got, p)
		}
	}
	// The rule of three is the large-n approximation for k = 0.
	if got := ClopperPearsonUpper(0, 1e6, 0.95); !near(got, 3e-6, 0.01e-6) {
		t.Errorf("k = 0, n = 1e6: %v, want about 3/n", got)
	}
}

func TestRadixSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name string
		n    int
		gen  func() uint64
	}{
		{"small", 100, rng.Uint64},
		{"full width", 5000, rng.Uint64},
		{"packed latencies", 20000, func() uint64 { return uint64(rng.IntN(1<<34))<<clusterBits | uint64(rng.IntN(1000)) }},
		{"few distinct", 3000, func() uint64 { return uint64(rng.IntN(3)) << 40 }},
		{"all equal", 2000, func() uint64 { return 42 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := make([]uint64, tt.n)
			for i := range a {
				a[i] = tt.gen()
			}
			want := slices.Sorted(slices.Values(a))
			radixSort(a)
			if !slices.Equal(a, want) {
				t.Error("radixSort differs from slices.Sort")
			}
		})
	}
}
