package runner

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
	"github.com/pelletier/go-toml/v2/unstable"
)

// roundTripBase is a small ring on which most parameters are legal; every case may change
// it. Keys are [base] keys, values TOML literals.
var roundTripBase = map[string]string{
	"scenario": `"random"`, "nodes": "8", "joiners": "2", "protocol": `"predlock"`, "timing": `"async"`,
	"horizon": `"5s"`, "delay.kind": `"uniform"`, "delay.min": `"1ms"`, "delay.max": `"3ms"`,
}

var (
	workloadOn = map[string]string{"workload.keys": "10", "workload.rate": "200.0", "workload.after": `"5ms"`}
	crashOn    = map[string]string{"faults.crash_node": `"member"`, "faults.crash_at": `"1ms"`}
	partOn     = map[string]string{"faults.partition_fraction": "0.25", "faults.partition_at": `"1ms"`}
	churnOn    = map[string]string{"churn.session": `"exponential"`, "churn.median": `"2s"`, "churn.warmup": `"1s"`,
		"churn.duration": `"1s"`, "churn.settle": `"1s"`, "joiners": "0", "protocol": `"predlock-retry"`}
)

// roundTripCases gives every parameter a value that is not its default, and what else the
// configuration needs for that value to be legal and in effect.
var roundTripCases = map[string]struct {
	value string
	with  map[string]string
}{
	"mode":                      {`"cluster"`, nil},
	"scenario":                  {`"advanced"`, nil},
	"protocol":                  {`"predlock-retry"`, nil},
	"timing":                    {`"async"`, nil},
	"link":                      {`"reorder"`, nil},
	"delay.kind":                {`"exponential"`, map[string]string{"delay.mean": `"2ms"`}},
	"nodes":                     {"9", nil},
	"joiners":                   {"3", nil},
	"bits":                      {"12", nil},
	"max_messages":              {"500000", nil},
	"check":                     {"false", nil},
	"join_window":               {`"3ms"`, nil},
	"unit":                      {`"2ms"`, nil},
	"horizon":                   {`"7s"`, nil},
	"delay.value":               {`"4ms"`, map[string]string{"delay.kind": `"constant"`}},
	"delay.min":                 {`"2ms"`, nil},
	"delay.max":                 {`"4ms"`, nil},
	"delay.step":                {`"2ms"`, map[string]string{"delay.kind": `"uniform-int"`, "delay.max": `"5ms"`}},
	"delay.mean":                {`"4ms"`, map[string]string{"delay.kind": `"exponential"`}},
	"delay.median":              {`"4ms"`, map[string]string{"delay.kind": `"lognormal"`, "delay.sigma": "0.5"}},
	"delay.sigma":               {"0.7", map[string]string{"delay.kind": `"lognormal"`, "delay.median": `"2ms"`}},
	"faults.loss":               {"0.01", nil},
	"faults.duplicate":          {"0.01", nil},
	"faults.reorder_window":     {`"1ms"`, nil},
	"faults.spike_prob":         {"0.1", map[string]string{"faults.spike": `"1ms"`}},
	"faults.spike":              {`"2ms"`, map[string]string{"faults.spike_prob": "0.1"}},
	"faults.crash_node":         {`"joiner"`, nil},
	"faults.crash_at":           {`"2ms"`, map[string]string{"faults.crash_node": `"member"`}},
	"faults.crash_after":        {`"connect"`, map[string]string{"faults.crash_node": `"joiner"`}},
	"faults.restart_after":      {`"2ms"`, crashOn},
	"faults.partition_fraction": {"0.25", nil},
	"faults.partition_at":       {`"2ms"`, map[string]string{"faults.partition_fraction": "0.25"}},
	"faults.heal_at":            {`"3ms"`, partOn},
	"timeout":                   {`"20ms"`, map[string]string{"protocol": `"predlock-retry"`}},
	"retries":                   {"3", map[string]string{"protocol": `"predlock-retry"`}},
	"workload.keys":             {"20", map[string]string{"workload.rate": "200.0"}},
	"workload.rate":             {"300.0", map[string]string{"workload.keys": "10"}},
	"workload.lookup":           {"2.0", workloadOn},
	"workload.get":              {"2.0", workloadOn},
	"workload.put":              {"0.5", workloadOn},
	"workload.popularity":       {`"zipf"`, workloadOn},
	"workload.zipf_s":           {"1.5", with(workloadOn, "workload.popularity", `"zipf"`)},
	"workload.before":           {`"2ms"`, workloadOn},
	"workload.after":            {`"4ms"`, workloadOn},
	"workload.finger_period":    {`"20ms"`, workloadOn},
	"workload.fingers":          {`"empty"`, workloadOn},
	"workload.hop_budget":       {"100", workloadOn},
	"workload.op_timeout":       {`"1s"`, workloadOn},
	"workload.replicas":         {"2", workloadOn},
	"leavers":                   {"2", nil},
	"layout":                    {`"clustered"`, nil},
	"contacts":                  {`"gap-left"`, nil},
	"starts":                    {`"same"`, map[string]string{"join_window": `"3ms"`}},
	"leave_target":              {`"adjacent"`, map[string]string{"leavers": "2"}},
	"join_routing":              {`"fingers"`, nil},
	"stabilize":                 {`"500ms"`, nil},
	"churn.session":             {`"weibull"`, with(churnOn, "churn.shape", "0.8")},
	"churn.median":              {`"3s"`, churnOn},
	"churn.shape":               {"1.5", with(churnOn, "churn.session", `"pareto"`)},
	"churn.crash_fraction":      {"0.5", churnOn},
	"churn.warmup":              {`"500ms"`, churnOn},
	"churn.duration":            {`"1.5s"`, churnOn},
	"churn.settle":              {`"2s"`, churnOn},
	"churn.crash_guard":         {"8", churnOn},
}

func with(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	out[k] = v
	return out
}

// TestParamsRoundTrip sets every parameter once in [base] and once in [sweep], runs one seed
// through the sweep and reads the value back from the runs table: a parameter that one of
// the two tables accepts and then drops shows up as its default.
func TestParamsRoundTrip(t *testing.T) {
	for _, p := range registered() {
		tc, ok := roundTripCases[p.name]
		if !ok {
			t.Errorf("parameter %s has no round-trip case", p.name)
			continue
		}
		for _, where := range []string{"base", "sweep"} {
			t.Run(p.name+"/"+where, func(t *testing.T) {
				base := maps.Clone(roundTripBase)
				maps.Copy(base, tc.with)
				delete(base, p.name)
				var b strings.Builder
				b.WriteString("seeds = 1\ntrace = \"none\"\n[base]\n")
				for _, k := range slices.Sorted(maps.Keys(base)) {
					fmt.Fprintf(&b, "%s = %s\n", k, base[k])
				}
				if where == "base" {
					fmt.Fprintf(&b, "%s = %s\n", p.name, tc.value)
				} else {
					fmt.Fprintf(&b, "[sweep]\n%q = [%s]\n", p.name, tc.value)
				}
				want := literal(t, tc.value, p.kind)
				spec, err := Parse(p.name+".toml", []byte(b.String()))
				if err != nil {
					t.Fatalf("%v\n%s", err, b.String())
				}
				dir := filepath.Join(t.TempDir(), "out")
				f := &fakeReal{seeds: map[uint64]sim.Config{}}
				if _, err := Sweep(context.Background(), spec, Options{Dir: dir, Workers: 1, Real: RealFunc(f.run)}); err != nil {
					t.Fatal(err)
				}
				m, err := trace.ReadManifest(dir)
				if err != nil {
					t.Fatal(err)
				}
				rows := 0
				for _, part := range m.Parts {
					err := trace.ForEachRowGroup(filepath.Join(dir, trace.TableRuns, part), nil, func(c *trace.Chunk) error {
						for i := range c.NumRows() {
							rows++
							if got := cell(c, p.column, p.kind, i); got != want.String() {
								return fmt.Errorf("column %s is %s, want %s", p.column, got, want)
							}
						}
						return nil
					})
					if err != nil {
						t.Errorf("%v\n%s", err, b.String())
					}
				}
				if rows != 1 {
					t.Errorf("%d rows, want 1", rows)
				}
			})
		}
	}
}

// literal parses a TOML literal as the parameter's kind.
func literal(t *testing.T, lit string, k Kind) Value {
	t.Helper()
	nk := unstable.Integer
	switch {
	case strings.HasPrefix(lit, `"`):
		nk, lit = unstable.String, strings.Trim(lit, `"`)
	case lit == "true" || lit == "false":
		nk = unstable.Bool
	case strings.Contains(lit, "."):
		nk = unstable.Float
	}
	v, err := scalarValue(nk, []byte(lit), k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cell is row i of a runs table column in Value.String's form.
func cell(c *trace.Chunk, column string, k Kind, i int) string {
	switch k {
	case KindString:
		return c.String(column)[i]
	case KindBool:
		return Value{Kind: k, Bool: c.Bool(column)[i]}.String()
	case KindFloat:
		return Value{Kind: k, Float: c.Float64(column)[i]}.String()
	}
	return Value{Kind: k, Int: c.Int64(column)[i]}.String()
}

type registeredParam struct {
	name, column string
	kind         Kind
}

func registered() []registeredParam {
	var out []registeredParam
	for _, p := range params.All {
		out = append(out, registeredParam{p.Name, p.Column, p.Kind})
	}
	return out
}
