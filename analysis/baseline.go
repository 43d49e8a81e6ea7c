package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/trace"
)

// BaselineFormat is the baseline file format this package writes and reads.
const BaselineFormat = 1

// Baseline records, per grid point, how many runs failed: what Check
// compares a later result set against.
type Baseline struct {
	Format      int             `json:"format"`
	Experiment  string          `json:"experiment"`
	SpecHash    string          `json:"spec_hash"`
	ToolVersion string          `json:"tool_version,omitempty"`
	VCSRevision string          `json:"vcs_revision,omitempty"`
	Points      []BaselinePoint `json:"points"`
}

// BaselinePoint is one grid point of a Baseline, identified by its
// parameters; Point is its index when the baseline was made, for people.
type BaselinePoint struct {
	Point    int          `json:"point"`
	Params   trace.Params `json:"params"`
	Runs     int64        `json:"runs"`
	Failures int64        `json:"failures"`
}

// Failures is the number of failed runs the baseline records, over all grid points.
func (b *Baseline) Failures() int64 {
	var n int64
	for _, p := range b.Points {
		n += p.Failures
	}
	return n
}

// NewBaseline records s's failure counts. Grid points without runs are
// left out: there is nothing to compare against.
func NewBaseline(s *Summary) *Baseline {
	m := s.Manifest
	b := &Baseline{Format: BaselineFormat, Experiment: m.Experiment, SpecHash: m.SpecHash,
		ToolVersion: m.ToolVersion, VCSRevision: m.VCSRevision, Points: []BaselinePoint{}}
	for _, p := range s.Points {
		if p.Runs == 0 {
			continue
		}
		b.Points = append(b.Points, BaselinePoint{Point: p.Index, Params: p.Params, Runs: p.Runs, Failures: p.Failed()})
	}
	return b
}

// WriteBaseline writes b as indented JSON to path, through a temporary file
// so that a failed write leaves no partial baseline.
func WriteBaseline(path string, b *Baseline) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return trace.WriteFileAtomic(path, append(data, '\n'))
}

// ReadBaseline reads and checks a baseline file.
func ReadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{Path: path, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Baseline
	if err := dec.Decode(&b); err != nil {
		return nil, inputErrorf(path, "not a baseline file: %v", err)
	}
	if b.Format != BaselineFormat {
		return nil, inputErrorf(path, "baseline format %d is not supported (this build reads format %d)", b.Format, BaselineFormat)
	}
	if b.SpecHash == "" {
		return nil, inputErrorf(path, "baseline has no spec_hash")
	}
	seen := map[string]bool{}
	for _, p := range b.Points {
		if p.Runs < 1 || p.Failures < 0 || p.Failures > p.Runs {
			return nil, inputErrorf(path, "grid point %s: %d failures out of %d runs", p.Params, p.Failures, p.Runs)
		}
		k := p.Params.Key()
		if seen[k] {
			return nil, inputErrorf(path, "grid point %s appears twice", p.Params)
		}
		seen[k] = true
	}
	return &b, nil
}

// CheckOptions sets the thresholds of Check; DefaultCheckOptions gives the
// defaults.
type CheckOptions struct {
	// Alpha is the family-wise significance level across grid points, in
	// (0, 1).
	Alpha float64
	// MinEffect is the smallest increase in failure rate worth failing on,
	// absolute, in [0, 1]: 0.05 is five percentage points.
	MinEffect float64
	// AllowSpecChange compares even when the spec hashes differ; grid
	// points are still matched by their parameters.
	AllowSpecChange bool
}

// Defaults of CheckOptions. Alpha 0.01 family-wise means a rerun with the
// failure rate unchanged fails the gate less than once in a hundred times,
// and the min-effect floor makes it rarer still; MinEffect 0.05 is an
// increase large enough to matter in a protocol study and still
// detectable with the few hundred runs per point a CI smoke sweep affords.
const (
	DefaultAlpha     = 0.01
	DefaultMinEffect = 0.05
)

// DefaultCheckOptions returns the default thresholds.
func DefaultCheckOptions() CheckOptions {
	return CheckOptions{Alpha: DefaultAlpha, MinEffect: DefaultMinEffect}
}

// Validate reports thresholds out of range.
func (o CheckOptions) Validate() error {
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return fmt.Errorf("alpha %g is not in (0, 1)", o.Alpha)
	}
	if !(o.MinEffect >= 0 && o.MinEffect <= 1) {
		return fmt.Errorf("min effect %g is not in [0, 1]", o.MinEffect)
	}
	return nil
}

// Comparison is the verdict on one grid point.
type Comparison struct {
	Params       trace.Params `json:"params"`
	BaseRuns     int64        `json:"baseline_runs"`
	BaseFailures int64        `json:"baseline_failures"`
	Runs         int64        `json:"runs"`
	Failures     int64        `json:"failures"`
	BaseRate     float64      `json:"baseline_rate"`
	Rate         float64      `json:"rate"`
	// Diff is Rate - BaseRate.
	Diff float64 `json:"diff"`
	// P is the one-sided Fisher exact p-value for an increase; PAdj is
	// after Holm's correction over all compared points.
	P         float64 `json:"p"`
	PAdj      float64 `json:"p_adjusted"`
	Regressed bool    `json:"regressed"`
}

// CheckResult is the outcome of Check.
type CheckResult struct {
	Alpha       float64      `json:"alpha"`
	MinEffect   float64      `json:"min_effect"`
	SpecChanged bool         `json:"spec_changed"`
	Points      []Comparison `json:"points"`
	// NotInBaseline lists grid points of the result set that the baseline
	// lacks (possible only with AllowSpecChange); they are not compared.
	NotInBaseline []trace.Params `json:"not_in_baseline"`
}

// Regressed returns the comparisons that failed.
func (r *CheckResult) Regressed() []Comparison {
	var out []Comparison
	for _, c := range r.Points {
		if c.Regressed {
			out = append(out, c)
		}
	}
	return out
}

// Check compares s with b grid point by grid point. A point regresses when
// its failure rate rose by at least MinEffect and a one-sided Fisher exact
// test finds the rise significant at Alpha after Holm's correction over all
// points. Both conditions are needed: significance alone would flag tiny
// rises once there are many runs, and the effect size alone would flag
// noise when there are few.
//
// Input errors (*InputError): a different spec hash without
// AllowSpecChange, or a baseline grid point that s lacks or has no runs
// for.
func Check(b *Baseline, s *Summary, opts CheckOptions) (*CheckResult, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m := s.Manifest
	res := &CheckResult{Alpha: opts.Alpha, MinEffect: opts.MinEffect, SpecChanged: b.SpecHash != m.SpecHash,
		Points: []Comparison{}, NotInBaseline: []trace.Params{}}
	if res.SpecChanged && !opts.AllowSpecChange {
		return nil, inputErrorf(filepath.Join(s.Dir, trace.ManifestName),
			"spec hash %s differs from the baseline's %s (experiment %q): the baseline is for another spec; regenerate it, or pass --allow-spec-change to compare grid points by their parameters",
			short(m.SpecHash), short(b.SpecHash), b.Experiment)
	}
	byKey := make(map[string]*Point, len(s.Points))
	for _, p := range s.Points {
		byKey[p.Params.Key()] = p
	}
	inBase := make(map[string]bool, len(b.Points))
	var missing []string
	for _, bp := range b.Points {
		k := bp.Params.Key()
		inBase[k] = true
		p, ok := byKey[k]
		if !ok || p.Runs == 0 {
			missing = append(missing, bp.Params.String())
			continue
		}
		c := Comparison{Params: p.Params, BaseRuns: bp.Runs, BaseFailures: bp.Failures, Runs: p.Runs, Failures: p.Failed()}
		c.BaseRate = float64(c.BaseFailures) / float64(c.BaseRuns)
		c.Rate = float64(c.Failures) / float64(c.Runs)
		c.Diff = c.Rate - c.BaseRate
		c.P = stats.FisherGreater(c.BaseFailures, c.BaseRuns, c.Failures, c.Runs)
		res.Points = append(res.Points, c)
	}
	if len(missing) > 0 {
		return nil, inputErrorf(s.Dir, "%d grid point(s) of the baseline have no runs in this result set: %s",
			len(missing), strings.Join(missing, "; "))
	}
	for _, p := range s.Points {
		if !inBase[p.Params.Key()] {
			res.NotInBaseline = append(res.NotInBaseline, p.Params)
		}
	}
	ps := make([]float64, len(res.Points))
	for i := range res.Points {
		ps[i] = res.Points[i].P
	}
	adj := stats.Holm(ps)
	for i := range res.Points {
		c := &res.Points[i]
		c.PAdj = adj[i]
		// A hair of tolerance so that an increase of exactly MinEffect,
		// computed in floating point, counts.
		c.Regressed = c.PAdj <= opts.Alpha && c.Diff >= opts.MinEffect-1e-12
	}
	return res, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// WriteCheck writes a verdict line and, when any grid point regressed, a
// table of those points.
func WriteCheck(w io.Writer, r *CheckResult) error {
	reg := r.Regressed()
	var b strings.Builder
	if r.SpecChanged {
		b.WriteString("warning: the spec changed since the baseline; grid points matched by their parameters\n")
	}
	if len(r.NotInBaseline) > 0 {
		fmt.Fprintf(&b, "note: %d grid point(s) not in the baseline were not checked\n", len(r.NotInBaseline))
	}
	if len(reg) == 0 {
		fmt.Fprintf(&b, "ok: no grid point's failure rate rose significantly (%d points; one-sided Fisher exact test, Holm-corrected alpha %g, min effect %g)\n",
			len(r.Points), r.Alpha, r.MinEffect)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "FAIL: %d of %d grid point(s) have a significantly higher failure rate (one-sided Fisher exact test, Holm-corrected alpha %g, min effect %g)\n\n",
		len(reg), len(r.Points), r.Alpha, r.MinEffect)
	sort.SliceStable(reg, func(i, j int) bool { return reg[i].PAdj < reg[j].PAdj })
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "params\tbaseline\tcurrent\tdiff\tp\tp (Holm)")
	for _, c := range reg {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%+.1f pp\t%s\t%s\n", c.Params,
			fmtFail(c.BaseFailures, c.BaseRuns), fmtFail(c.Failures, c.Runs),
			100*c.Diff, fmtP(c.P), fmtP(c.PAdj))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtFail(k, n int64) string {
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(k)/float64(n), k, n)
}

func fmtP(p float64) string {
	if p < 1e-4 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}
