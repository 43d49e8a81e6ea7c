package analysis

import (
	"bytes"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

func TestBaselineRoundTrip(t *testing.T) {
	s := analyze(t, writeSet(t, smallSet()), Options{})
	b := NewBaseline(s)
	if len(b.Points) != 6 || b.Points[2].Failures != 2 || b.Points[2].Runs != 4 || b.SpecHash != s.Manifest.SpecHash {
		t.Fatalf("baseline %+v", b)
	}
	var failed int64
	for _, p := range b.Points {
		failed += p.Failures
	}
	if b.Failures() != failed {
		t.Fatalf("Failures %d, points sum to %d", b.Failures(), failed)
	}
	path := filepath.Join(t.TempDir(), "base.json")
	if err := WriteBaseline(path, b); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Points[2].Params.Key() != b.Points[2].Params.Key() || got.Points[2].Failures != 2 {
		t.Errorf("read back %+v", got.Points[2])
	}
	// Comparing a result set with its own baseline finds nothing.
	res, err := Check(got, s, DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Regressed()) != 0 || len(res.Points) != 6 {
		t.Errorf("self-check: %d regressed of %d", len(res.Regressed()), len(res.Points))
	}
}

// Failure rates for the gate tests: with 500 runs a point, a rise from
// 15% to 30% is unmistakable, and 15% against 15% must never fail.
const (
	gateSeeds = 500
	baseRate  = 0.15
)

func TestCheckDoubledFailureRateFails(t *testing.T) {
	base := NewBaseline(analyze(t, writeSet(t, randomSet(100, gateSeeds, func(int) float64 { return baseRate })), Options{}))
	// Only grid point 4 gets worse.
	cur := analyze(t, writeSet(t, randomSet(7, gateSeeds, func(p int) float64 {
		if p == 4 {
			return 2 * baseRate
		}
		return baseRate
	})), Options{})
	res, err := Check(base, cur, DefaultCheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	reg := res.Regressed()
	if len(reg) != 1 || reg[0].Params.String() != "joiners=32, delay.max=1ms" {
		t.Fatalf("regressed %+v, want only joiners=32, delay.max=1ms", reg)
	}
	if reg[0].PAdj > 1e-4 || reg[0].Diff < 0.1 {
		t.Errorf("regression p %g diff %g", reg[0].PAdj, reg[0].Diff)
	}
	var out bytes.Buffer
	if err := WriteCheck(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL: 1 of 6", "joiners=32, delay.max=1ms", "p (Holm)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestCheckSameRateNeverFails reruns the same failure rate with 20
// different seeds: the gate must pass every time.
func TestCheckSameRateNeverFails(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 21 result sets")
	}
	base := NewBaseline(analyze(t, writeSet(t, randomSet(100, gateSeeds, func(int) float64 { return baseRate })), Options{}))
	maxDiff := 0.0
	for seed := uint64(1); seed <= 20; seed++ {
		cur := analyze(t, writeSet(t, randomSet(seed, gateSeeds, func(int) float64 { return baseRate })), Options{})
		res, err := Check(base, cur, DefaultCheckOptions())
		if err != nil {
			t.Fatal(err)
		}
		if reg := res.Regressed(); len(reg) != 0 {
			t.Errorf("seed %d: same failure rate flagged as a regression: %+v", seed, reg)
		}
		for _, c := range res.Points {
			maxDiff = math.Max(maxDiff, c.Diff)
		}
	}
	t.Logf("largest rise in failure rate seen by chance: %.3f", maxDiff)
}

func TestCheckThresholds(t *testing.T) {
	mk := func(fails, runs int64) (*Baseline, *Summary) {
		s := &Summary{Manifest: &trace.Manifest{SpecHash: "h"}}
		p := &Point{Params: trace.Params{{Name: "joiners", Value: trace.NumberValue(4)}}, Runs: runs, RunsOK: runs - fails}
		s.Points = []*Point{p}
		return &Baseline{SpecHash: "h", Points: []BaselinePoint{{Params: p.Params}}}, s
	}
	tests := []struct {
		name           string
		bf, bn, cf, cn int64
		opts           CheckOptions
		want           bool
	}{
		// 10/1000 → 30/1000 is highly significant but only +2 points.
		{"significant but small", 10, 1000, 30, 1000, DefaultCheckOptions(), false},
		{"significant, small effect allowed", 10, 1000, 30, 1000, CheckOptions{Alpha: DefaultAlpha, MinEffect: 0.01}, true},
		// 0/10 → 3/10 is +30 points but p = 0.105.
		{"large but not significant", 0, 10, 3, 10, DefaultCheckOptions(), false},
		{"large and significant", 0, 100, 30, 100, DefaultCheckOptions(), true},
		{"fewer failures", 30, 100, 0, 100, DefaultCheckOptions(), false},
		{"lenient alpha", 0, 10, 3, 10, CheckOptions{Alpha: 0.2, MinEffect: DefaultMinEffect}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, s := mk(tt.cf, tt.cn)
			b.Points[0].Failures, b.Points[0].Runs = tt.bf, tt.bn
			res, err := Check(b, s, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Points[0].Regressed; got != tt.want {
				t.Errorf("regressed = %v (p %g diff %g), want %v", got, res.Points[0].P, res.Points[0].Diff, tt.want)
			}
		})
	}
}

// TestCheckHolm: with many grid points a p-value that would pass alone
// does not pass once corrected.
func TestCheckHolm(t *testing.T) {
	s := &Summary{Manifest: &trace.Manifest{SpecHash: "h"}}
	b := &Baseline{SpecHash: "h"}
	for i := 0; i < 20; i++ {
		p := &Point{Index: i, Params: trace.Params{{Name: "joiners", Value: trace.NumberValue(float64(i))}}, Runs: 100, RunsOK: 90}
		if i == 0 {
			// 10/100 → 20/100: one-sided p ≈ 0.036, alone significant at
			// 0.05 but not after multiplying by 20.
			p.RunsOK = 80
		}
		s.Points = append(s.Points, p)
		b.Points = append(b.Points, BaselinePoint{Point: i, Params: p.Params, Runs: 100, Failures: 10})
	}
	res, err := Check(b, s, CheckOptions{Alpha: 0.05, MinEffect: DefaultMinEffect})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Points[0]
	if c.P > 0.05 || c.PAdj < 0.5 || c.Regressed {
		t.Errorf("p %g adjusted %g regressed %v", c.P, c.PAdj, c.Regressed)
	}
}

func TestCheckUnusableInput(t *testing.T) {
	set := smallSet()
	s := analyze(t, writeSet(t, set), Options{})
	b := NewBaseline(s)

	other := *b
	other.SpecHash = "0123456789abcdef"
	if _, err := Check(&other, s, DefaultCheckOptions()); err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "another spec") || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("other spec: %v", err)
	}
	res, err := Check(&other, s, CheckOptions{Alpha: DefaultAlpha, MinEffect: DefaultMinEffect, AllowSpecChange: true})
	if err != nil || !res.SpecChanged {
		t.Errorf("allowed spec change: %v %+v", err, res)
	}

	set.Skip = func(point, _ int) bool { return point == 5 }
	partial := analyze(t, writeSet(t, set), Options{})
	if _, err := Check(b, partial, DefaultCheckOptions()); err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "protocol=locked, joiners=16") {
		t.Errorf("missing grid point: %v", err)
	}
	// The other way round: a point the baseline lacks is noted, not an error.
	res, err = Check(NewBaseline(partial), s, DefaultCheckOptions())
	if err != nil || len(res.NotInBaseline) != 1 {
		t.Errorf("extra grid point: %v %+v", err, res)
	}
}

func TestReadBaselineErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"not json", "nope", "not a baseline file"},
		{"unknown field", `{"format":1,"spec_hash":"x","points":[],"extra":1}`, "unknown field"},
		{"format", `{"format":2,"spec_hash":"x","points":[]}`, "format 2"},
		{"no hash", `{"format":1,"points":[]}`, "no spec_hash"},
		{"bad counts", `{"format":1,"spec_hash":"x","points":[{"params":{"a":1},"runs":3,"failures":4}]}`, "4 failures out of 3"},
		{"duplicate", `{"format":1,"spec_hash":"x","points":[{"params":{"a":1},"runs":3,"failures":1},{"params":{"a":1},"runs":3,"failures":1}]}`, "twice"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name+".json")
		if err := trace.WriteFileAtomic(path, []byte(tt.body)); err != nil {
			t.Fatal(err)
		}
		_, err := ReadBaseline(path)
		if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an InputError naming %s saying %q", tt.name, err, path, tt.want)
		}
	}
	if _, err := ReadBaseline(filepath.Join(dir, "missing.json")); err == nil || !IsInputError(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParamsKey(t *testing.T) {
	a := trace.Params{{Name: "joiners", Value: trace.NumberValue(4)}, {Name: "delay.max", Value: trace.StringValue("10ms")}}
	b := trace.Params{{Name: "delay.max", Value: trace.StringValue("10ms")}, {Name: "joiners", Value: trace.NumberValue(4)}}
	if a.Key() != b.Key() {
		t.Errorf("keys differ by order: %q %q", a.Key(), b.Key())
	}
	var back trace.Params
	data, _ := a.MarshalJSON()
	if err := back.UnmarshalJSON(data); err != nil || back.Key() != a.Key() {
		t.Errorf("round trip %s: %v %q", data, err, back.Key())
	}
	if v := trace.StringValue("10ms"); v.Kind != trace.KindDuration || v.Num != 1e7 {
		t.Errorf("duration %+v", v)
	}
	if !reflect.DeepEqual(trace.StringValue("seed"), trace.Value{Kind: trace.KindString, Text: "seed"}) {
		t.Errorf("string %+v", trace.StringValue("seed"))
	}
}
