package stats

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func TestWilson(t *testing.T) {
	// Reference values from R: binom::binom.wilson(x, n) (equivalently
	// prop.test(x, n, correct = FALSE)$conf.int).
	tests := []struct {
		x, n   int64
		lo, hi float64
	}{
		{5, 10, 0.2365931, 0.7634069},
		{0, 10, 0, 0.2775328},
		{10, 10, 0.7224672, 1},
		{1, 1, 0.2065493, 1},
		{760, 1000, 0.7325666, 0.7854435}, // by hand from the formula
		{0, 0, 0, 1},
	}
	for _, tt := range tests {
		got := Wilson(tt.x, tt.n, Z95)
		if !near(got.Lo, tt.lo, 1e-6) || !near(got.Hi, tt.hi, 1e-6) {
			t.Errorf("Wilson(%d, %d) = [%.7f, %.7f], want [%.7f, %.7f]", tt.x, tt.n, got.Lo, got.Hi, tt.lo, tt.hi)
		}
	}
}

// fisherExact is the one-sided Fisher p-value in exact rational arithmetic:
// sum over k >= x1 of C(n1,k)·C(n0,m-k) / C(n0+n1,m).
func fisherExact(x0, n0, x1, n1 int64) float64 {
	m := x0 + x1
	num := new(big.Int)
	for k := x1; k <= min(n1, m); k++ {
		if m-k > n0 {
			continue
		}
		term := new(big.Int).Binomial(n1, k)
		term.Mul(term, new(big.Int).Binomial(n0, m-k))
		num.Add(num, term)
	}
	f, _ := new(big.Rat).SetFrac(num, new(big.Int).Binomial(n0+n1, m)).Float64()
	return f
}

func TestFisherGreater(t *testing.T) {
	tests := []struct {
		name           string
		x0, n0, x1, n1 int64
		want           float64
	}{
		// Fisher's tea-tasting table [[3,1],[1,3]]: 17/70 (R fisher.test,
		// alternative = "greater", reports 0.2429).
		{"tea", 1, 4, 3, 4, 17.0 / 70},
		// [[8,2],[1,5]]: (C(9,8)C(7,2) + C(9,9)C(7,1)) / C(16,10) = 196/8008.
		{"8of10 vs 1of6", 1, 6, 8, 10, 196.0 / 8008},
		// No failures before, five now out of 1000 each: every failure must
		// fall in the current sample, C(1000,5)/C(2000,5).
		{"0 vs 5 of 1000", 0, 1000, 5, 1000, 1000.0 * 999 * 998 * 997 * 996 / (2000.0 * 1999 * 1998 * 1997 * 1996)},
		{"no failures", 0, 100, 0, 100, 1},
		{"fewer now", 30, 100, 10, 100, fisherExact(30, 100, 10, 100)},
		{"all fail", 10, 10, 20, 20, 1},
		{"same rate", 24, 100, 24, 100, fisherExact(24, 100, 24, 100)},
		{"doubled", 24, 100, 48, 100, fisherExact(24, 100, 48, 100)},
		{"unequal n", 3, 50, 40, 400, fisherExact(3, 50, 40, 400)},
		{"large", 2400, 10000, 2500, 10000, fisherExact(2400, 10000, 2500, 10000)},
		{"empty current", 5, 10, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FisherGreater(tt.x0, tt.n0, tt.x1, tt.n1)
			if !near(got, tt.want, 1e-9*math.Max(1, tt.want)) || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("FisherGreater(%d/%d, %d/%d) = %.12g, want %.12g", tt.x0, tt.n0, tt.x1, tt.n1, got, tt.want)
			}
		})
	}
	if !math.IsNaN(FisherGreater(5, 4, 1, 4)) {
		t.Error("FisherGreater with more events than trials should be NaN")
	}
}

func TestHolm(t *testing.T) {
	// R: p.adjust(c(.01, .04, .03, .005), "holm") = 0.03 0.06 0.06 0.02.
	tests := []struct {
		in, want []float64
	}{
		{[]float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		{[]float64{0.5}, []float64{0.5}},
		{[]float64{0.5, 0.9}, []float64{1, 1}},
		{[]float64{math.NaN(), 0.02}, []float64{math.NaN(), 0.02}},
		{nil, []float64{}},
	}
	for _, tt := range tests {
		got := Holm(tt.in)
		if len(got) != len(tt.want) {
			t.Fatalf("Holm(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for i := range got {
			if !near(got[i], tt.want[i], 1e-12) {
				t.Errorf("Holm(%v) = %v, want %v", tt.in, got, tt.want)
				break
			}
		}
	}
}

func TestQuantileNearestRank(t *testing.T) {
	one := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	// The worked example of the nearest-rank method.
	wiki := []int64{50, 15, 40, 20, 35}
	tests := []struct {
		vals []int64
		q    float64
		want float64
	}{
		{one, 0.5, 5},
		{one, 0.9, 9},
		{one, 0.99, 10},
		{one, 0.1, 1},
		{one, 0, 1},
		{one, 1, 10},
		{wiki, 0.05, 15},
		{wiki, 0.30, 20},
		{wiki, 0.40, 20},
		{wiki, 0.50, 35},
		{wiki, 1, 50},
		{[]int64{7}, 0.5, 7},
		{[]int64{-3, 4}, 0.5, 0},
	}
	for _, tt := range tests {
		var d Dist
		for _, v := range tt.vals {
			d.Add(v)
		}
		if got := d.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v, %g) = %g, want %g", tt.vals, tt.q, got, tt.want)
		}
	}
	var empty Dist
	if !math.IsNaN(empty.Quantile(0.5)) || !math.IsNaN(empty.Mean()) || empty.CDF(10) != nil {
		t.Error("an empty Dist should report NaN quantiles and no CDF")
	}
}

func TestDistHistogramAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var big Dist
	small := Dist{Cap: 100}
	var parts [4]Dist
	for i := range parts {
		parts[i].Cap = 1000
	}
	var ref Dist
	ref.Cap = 1 << 20
	for i := 0; i < 50000; i++ {
		v := int64(math.Exp(r.NormFloat64()*1.5 + 15)) // log-normal, ~ms in ns
		big.Add(v)
		small.Add(v)
		parts[i%4].Add(v)
		ref.Add(v)
	}
	if !ref.Exact() || small.Exact() {
		t.Fatalf("Exact: ref %v small %v", ref.Exact(), small.Exact())
	}
	var merged Dist
	merged.Cap = 1000
	for i := range parts {
		merged.Merge(&parts[i])
	}
	for _, d := range []*Dist{&big, &small, &merged} {
		if d.N() != ref.N() || d.Max() != ref.Max() || d.Min() != ref.Min() || !near(d.Mean(), ref.Mean(), 1e-6*ref.Mean()) {
			t.Errorf("N/min/max/mean = %d/%d/%d/%g, want %d/%d/%d/%g", d.N(), d.Min(), d.Max(), d.Mean(), ref.N(), ref.Min(), ref.Max(), ref.Mean())
		}
		for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
			want := ref.Quantile(q)
			if got := d.Quantile(q); math.Abs(got-want) > 0.01*want {
				t.Errorf("Quantile(%g) = %g, want %g within 1%%", q, got, want)
			}
		}
		cdf := d.CDF(200)
		if len(cdf) == 0 || len(cdf) > 200 || cdf[len(cdf)-1].P != 1 {
			t.Errorf("CDF: %d points, last %v", len(cdf), cdf[len(cdf)-1])
		}
		for i := 1; i < len(cdf); i++ {
			if cdf[i].X < cdf[i-1].X || cdf[i].P < cdf[i-1].P {
				t.Fatalf("CDF not monotone at %d: %v %v", i, cdf[i-1], cdf[i])
			}
		}
	}
}

func TestDistMergeExact(t *testing.T) {
	var a, b Dist
	for _, v := range []int64{5, 1, 3} {
		a.Add(v)
	}
	for _, v := range []int64{4, 2} {
		b.Add(v)
	}
	a.Merge(&b)
	if !a.Exact() || a.N() != 5 || a.Quantile(0.5) != 3 || a.Min() != 1 || a.Max() != 5 {
		t.Errorf("merged: exact %v n %d p50 %g min %d max %d", a.Exact(), a.N(), a.Quantile(0.5), a.Min(), a.Max())
	}
	want := []CDFPoint{{1, 0.2}, {2, 0.4}, {3, 0.6}, {4, 0.8}, {5, 1}}
	got := a.CDF(0)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("CDF = %v, want %v", got, want)
		}
	}
}
