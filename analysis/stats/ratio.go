package stats

import "math"

// Ratio estimates a ratio of totals, Σy / Σx, from independent clusters
// (runs) that each contribute a y and an x, such as forwarding hops over
// successful lookups. Its interval comes from the spread between clusters,
// not between the items inside them: items of one run share a ring and a
// schedule, so treating them as independent would make the interval far too
// narrow.
//
// It keeps only means and centred co-moments (Welford's update), so memory
// does not grow with the clusters, sums of squares of large values do not
// cancel, and two Ratios merge exactly (Chan's formula) whatever order the
// clusters arrive in.
type Ratio struct {
	n             int64
	mx, my        float64
	sxx, syy, sxy float64
}

// Add records one cluster's y and x.
func (r *Ratio) Add(y, x float64) {
	r.n++
	n := float64(r.n)
	dx, dy := x-r.mx, y-r.my
	r.mx += dx / n
	r.my += dy / n
	// One old and one new deviation give the exact co-moment update.
	r.sxx += dx * (x - r.mx)
	r.syy += dy * (y - r.my)
	r.sxy += dx * (y - r.my)
}

// Merge adds o's clusters to r.
func (r *Ratio) Merge(o *Ratio) {
	if o.n == 0 {
		return
	}
	if r.n == 0 {
		*r = *o
		return
	}
	na, nb := float64(r.n), float64(o.n)
	n := na + nb
	dx, dy := o.mx-r.mx, o.my-r.my
	r.sxx += o.sxx + dx*dx*na*nb/n
	r.syy += o.syy + dy*dy*na*nb/n
	r.sxy += o.sxy + dx*dy*na*nb/n
	r.mx += dx * nb / n
	r.my += dy * nb / n
	r.n += o.n
}

// N returns the number of clusters.
func (r *Ratio) N() int64 { return r.n }

// Value returns Σy / Σx, or NaN when Σx is 0.
func (r *Ratio) Value() float64 {
	if r.n == 0 || r.mx == 0 {
		return math.NaN()
	}
	return r.my / r.mx
}

// CI returns a two-sided interval at confidence level conf (0.95 for 95%)
// for the ratio: the linearised (delta-method) standard error of a ratio
// estimator, s_e / (√n · x̄) with s_e² = Σ(y - R·x)² / (n-1), times the
// Student t quantile with n-1 degrees of freedom. The t quantile matters
// for sweeps with few seeds, where the normal quantile undercovers. With
// fewer than two clusters, or Σx = 0, the interval is unknown (NaN).
func (r *Ratio) CI(conf float64) Interval {
	v := r.Value()
	if r.n < 2 || math.IsNaN(v) {
		return Interval{math.NaN(), math.NaN()}
	}
	n := float64(r.n)
	// Σ(y - R·x)² from the centred moments; the mean residual is 0
	// because R = ȳ / x̄.
	ss := math.Max(0, r.syy-2*v*r.sxy+v*v*r.sxx)
	se := math.Sqrt(ss/(n-1)/n) / math.Abs(r.mx)
	h := TQuantile((1+conf)/2, n-1) * se
	return Interval{v - h, v + h}
}

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df > 0, not necessarily an integer), found by
// bisection on the distribution function to within 1e-12 relative.
func TQuantile(p, df float64) float64 {
	switch {
	case math.IsNaN(p) || math.IsNaN(df) || df <= 0 || p <= 0 || p >= 1:
		return math.NaN()
	case p == 0.5:
		return 0
	case p < 0.5:
		return -TQuantile(1-p, df)
	}
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p {
		lo, hi = hi, 2*hi
	}
	for i := 0; i < 200 && hi-lo > 1e-12*hi; i++ {
		mid := (lo + hi) / 2
		if tCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is P(T <= t) for t >= 0.
func tCDF(t, df float64) float64 {
	return 1 - 0.5*regIncBeta(df/2, 0.5, df/(df+t*t))
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), from
// its continued fraction (modified Lentz), using the symmetry
// I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x > (a+1)/(a+b+2) {
		return 1 - front*betaCF(b, a, 1-x)/b
	}
	return front * betaCF(a, b, x) / a
}

func betaCF(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	c, d := 1.0, 1-(a+b)*x/(a+1)
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1.0; m <= 10000; m++ {
		m2 := 2 * m
		num := m * (b - m) * x / ((a + m2 - 1) * (a + m2))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
