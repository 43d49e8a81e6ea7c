package sim

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"
)

// DelayKinds lists the supported message delay distributions.
var DelayKinds = []string{"constant", "uniform", "uniform-int", "exponential", "lognormal"}

// Delay describes a message delay distribution. All durations are nanoseconds.
type Delay struct {
	Kind   string  // one of DelayKinds
	Value  int64   // constant: the delay
	Min    int64   // uniform, uniform-int: smallest delay (inclusive)
	Max    int64   // uniform, uniform-int: largest delay (inclusive)
	Step   int64   // uniform-int: granularity; zero means the timing unit
	Mean   int64   // exponential: mean delay
	Median int64   // lognormal: median delay (e^mu)
	Sigma  float64 // lognormal: shape
}

// Validate names the first impossible parameter.
func (d Delay) Validate() error {
	switch d.Kind {
	case "constant":
		if d.Value <= 0 {
			return fmt.Errorf("delay.value must be positive for a constant delay")
		}
	case "uniform", "uniform-int":
		if d.Min <= 0 {
			return fmt.Errorf("delay.min must be positive, got %s", time.Duration(d.Min))
		}
		if d.Max < d.Min {
			return fmt.Errorf("delay.max (%s) must not be below delay.min (%s)", time.Duration(d.Max), time.Duration(d.Min))
		}
		if d.Step < 0 {
			return fmt.Errorf("delay.step must not be negative")
		}
	case "exponential":
		if d.Mean <= 0 {
			return fmt.Errorf("delay.mean must be positive for an exponential delay")
		}
	case "lognormal":
		if d.Median <= 0 {
			return fmt.Errorf("delay.median must be positive for a log-normal delay")
		}
		if d.Sigma <= 0 || math.IsNaN(d.Sigma) || d.Sigma > 10 {
			return fmt.Errorf("delay.sigma must be in (0, 10], got %g", d.Sigma)
		}
	default:
		return fmt.Errorf("unknown delay distribution %q (known: %v)", d.Kind, DelayKinds)
	}
	return nil
}

// String is a compact description for logs and summaries.
func (d Delay) String() string {
	switch d.Kind {
	case "constant":
		return fmt.Sprintf("constant(%s)", time.Duration(d.Value))
	case "uniform", "uniform-int":
		return fmt.Sprintf("%s(%s..%s)", d.Kind, time.Duration(d.Min), time.Duration(d.Max))
	case "exponential":
		return fmt.Sprintf("exponential(mean %s)", time.Duration(d.Mean))
	case "lognormal":
		return fmt.Sprintf("lognormal(median %s, sigma %g)", time.Duration(d.Median), d.Sigma)
	}
	return d.Kind
}

// sampler draws delays; it is built once per run so the hot path does no string compares.
type sampler struct {
	kind     uint8
	d        Delay
	step     int64
	steps    int64 // uniform-int: number of possible values
	mu       float64
	maxDelay float64
	// unit is the timing unit that drawUnits counts in; minUnits and stepUnits are Min and
	// the step in units when a uniform-int delay is whole units (0 otherwise).
	unit                int64
	minUnits, stepUnits int64
}

const (
	sConstant uint8 = iota
	sUniform
	sUniformInt
	sExponential
	sLognormal
)

// stepInEffect is the uniform-int granularity a run uses: the unit when the spec leaves it 0.
func (d Delay) stepInEffect(unit int64) int64 {
	if d.Step <= 0 {
		return unit
	}
	return d.Step
}

// inEffect keeps only the parameters the distribution reads, with the step settled, so that
// a run's record shows a parameter exactly when it mattered.
func (d Delay) inEffect(unit int64) Delay {
	out := Delay{Kind: d.Kind}
	switch d.Kind {
	case "constant":
		out.Value = d.Value
	case "uniform":
		out.Min, out.Max = d.Min, d.Max
	case "uniform-int":
		out.Min, out.Max, out.Step = d.Min, d.Max, d.stepInEffect(unit)
	case "exponential":
		out.Mean = d.Mean
	case "lognormal":
		out.Median, out.Sigma = d.Median, d.Sigma
	}
	return out
}

func newSampler(d Delay, unit int64) sampler {
	s := sampler{d: d, maxDelay: float64(math.MaxInt64 / 4), unit: unit}
	switch d.Kind {
	case "constant":
		s.kind = sConstant
	case "uniform":
		s.kind = sUniform
	case "uniform-int":
		s.kind = sUniformInt
		s.step = d.stepInEffect(unit)
		s.steps = (d.Max-d.Min)/s.step + 1
		if unit > 0 && d.Min%unit == 0 && s.step%unit == 0 {
			s.minUnits, s.stepUnits = d.Min/unit, s.step/unit
		}
	case "exponential":
		s.kind = sExponential
	case "lognormal":
		s.kind = sLognormal
		s.mu = math.Log(float64(d.Median))
	}
	return s
}

// draw returns a delay of at least one nanosecond.
func (s *sampler) draw(r *rand.Rand) int64 {
	var v int64
	switch s.kind {
	case sConstant:
		v = s.d.Value
	case sUniform:
		v = s.d.Min + r.Int64N(s.d.Max-s.d.Min+1)
	case sUniformInt:
		v = s.d.Min + s.step*r.Int64N(s.steps)
	case sExponential:
		v = int64(math.Min(r.ExpFloat64()*float64(s.d.Mean), s.maxDelay))
	case sLognormal:
		v = int64(math.Min(math.Exp(s.mu+s.d.Sigma*r.NormFloat64()), s.maxDelay))
	}
	if v < 1 {
		v = 1
	}
	return v
}

// drawUnits is draw rounded up to whole units, as the seed timing model's blocking send
// takes it: the same draw from r, and the same result. A uniform-int delay in whole units
// gives its units without a division, which cost a noticeable share of every send.
// src is r's source, which the shortcut draws from directly (int64N).
func (s *sampler) drawUnits(r *rand.Rand, src *rand.PCG) int64 {
	if s.kind == sUniformInt && s.stepUnits > 0 {
		return s.minUnits + s.stepUnits*int64N(r, src, s.steps)
	}
	return (s.draw(r) + s.unit - 1) / s.unit
}

// int64N is r.Int64N(n) for r = rand.New(src), drawn from src itself: math/rand/v2's
// algorithm on 64-bit platforms, the same values from the same stream, without a call through
// r's Source interface for every draw, which was a noticeable share of every send.
func int64N(r *rand.Rand, src *rand.PCG, n int64) int64 {
	if bits.UintSize != 64 || n <= 0 {
		return r.Int64N(n)
	}
	u := uint64(n)
	if u&(u-1) == 0 {
		return int64(src.Uint64() & (u - 1))
	}
	hi, lo := bits.Mul64(src.Uint64(), u)
	if lo < u {
		thresh := -u % u
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), u)
		}
	}
	return int64(hi)
}
