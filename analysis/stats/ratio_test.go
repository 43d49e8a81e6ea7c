package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestTQuantile(t *testing.T) {
	// Reference values from R: qt(p, df).
	tests := []struct{ p, df, want float64 }{
		{0.975, 1, 12.7062047361747},
		{0.975, 2, 4.30265272974946},
		{0.975, 3, 3.18244630528371},
		{0.975, 5, 2.57058183563631},
		{0.975, 10, 2.22813885198627},
		{0.975, 30, 2.04227245630124},
		{0.975, 100, 1.98397151852119},
		{0.995, 4, 4.60409487134999},
		{0.9, 1, 3.07768353717525},
		{0.025, 5, -2.57058183563631},
		{0.5, 7, 0},
	}
	for _, tt := range tests {
		if got := TQuantile(tt.p, tt.df); !near(got, tt.want, 1e-9*math.Max(1, math.Abs(tt.want))) {
			t.Errorf("TQuantile(%v, %v) = %.12f, want %.12f", tt.p, tt.df, got, tt.want)
		}
	}
	// Many degrees of freedom: the normal quantile.
	if got := TQuantile(0.975, 1e7); !near(got, Z95, 1e-6) {
		t.Errorf("TQuantile(0.975, 1e7) = %v, want about %v", got, Z95)
	}
	for _, bad := range [][2]float64{{0, 3}, {1, 3}, {0.9, 0}, {math.NaN(), 2}} {
		if got := TQuantile(bad[0], bad[1]); !math.IsNaN(got) {
			t.Errorf("TQuantile(%v, %v) = %v, want NaN", bad[0], bad[1], got)
		}
	}
}

func TestRatio(t *testing.T) {
	// Three runs: (y, x) = (4, 2), (9, 3), (10, 5). R = 23/10 = 2.3;
	// residuals y - R·x = -0.6, 2.1, -1.5, Σ² = 7.02, s² = 3.51;
	// se = √(3.51/3) / (10/3) = 0.32450; t(0.975, 2) = 4.30265.
	var r Ratio
	for _, c := range [][2]float64{{4, 2}, {9, 3}, {10, 5}} {
		r.Add(c[0], c[1])
	}
	if r.N() != 3 || !near(r.Value(), 2.3, 1e-12) {
		t.Fatalf("n %d value %v, want 3 2.3", r.N(), r.Value())
	}
	ci := r.CI(0.95)
	if !near(ci.Lo, 0.9037908466, 1e-8) || !near(ci.Hi, 3.6962091534, 1e-8) {
		t.Errorf("CI [%.10f, %.10f], want [0.9037908466, 3.6962091534]", ci.Lo, ci.Hi)
	}

	// Runs with the same ratio leave no doubt about it.
	var same Ratio
	same.Add(6, 2)
	same.Add(30, 10)
	if ci := same.CI(0.95); !near(ci.Lo, 3, 1e-9) || !near(ci.Hi, 3, 1e-9) {
		t.Errorf("equal ratios: CI %v", ci)
	}
	// One run says nothing about the spread between runs.
	var one Ratio
	one.Add(5, 2)
	if ci := one.CI(0.95); !math.IsNaN(ci.Lo) || !math.IsNaN(ci.Hi) || one.Value() != 2.5 {
		t.Errorf("one run: value %v CI %v", one.Value(), ci)
	}
	var zero Ratio
	zero.Add(0, 0)
	zero.Add(0, 0)
	if !math.IsNaN(zero.Value()) || !math.IsNaN(zero.CI(0.95).Lo) {
		t.Errorf("no x: value %v", zero.Value())
	}
}

// TestRatioMerge: merging partial Ratios equals adding every cluster to
// one, in any order.
func TestRatioMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var all, a, b, c Ratio
	for i := range 1000 {
		x := float64(1 + rng.IntN(50))
		y := x*3.5 + rng.NormFloat64()*4 + 1e6 // a large offset tests stability
		all.Add(y, x)
		switch i % 3 {
		case 0:
			a.Add(y, x)
		case 1:
			b.Add(y, x)
		default:
			c.Add(y, x)
		}
	}
	var m Ratio
	m.Merge(&c)
	m.Merge(&a)
	m.Merge(&Ratio{})
	m.Merge(&b)
	if m.N() != all.N() || !near(m.Value(), all.Value(), 1e-9*all.Value()) {
		t.Fatalf("merged n %d value %v, want %d %v", m.N(), m.Value(), all.N(), all.Value())
	}
	got, want := m.CI(0.95), all.CI(0.95)
	if !near(got.Lo, want.Lo, 1e-6*want.Lo) || !near(got.Hi, want.Hi, 1e-6*want.Hi) {
		t.Errorf("merged CI %v, want %v", got, want)
	}
}

// TestRatioCoverage: over many simulated sweeps of 10 runs, the 95%
// interval holds the true ratio about 95% of the time.
func TestRatioCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const trials, truth = 2000, 2.5
	hit := 0
	for range trials {
		var r Ratio
		for range 10 {
			x := float64(20 + rng.IntN(40))
			// Runs differ: each has its own mean, as rings do.
			runMean := truth + rng.NormFloat64()*0.4
			r.Add(runMean*x+rng.NormFloat64()*math.Sqrt(x), x)
		}
		if ci := r.CI(0.95); ci.Lo <= truth && truth <= ci.Hi {
			hit++
		}
	}
	if cov := float64(hit) / trials; cov < 0.92 || cov > 0.975 {
		t.Errorf("coverage %.3f, want about 0.95", cov)
	}
}
