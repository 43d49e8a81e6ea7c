// Package runner expands experiment specs into seeded runs, executes them on all cores and
// writes the results as a resumable, shardable set of Parquet parts.
//
// A spec (experiments/*.toml) names a base configuration, sweep axes and a number of seeds.
// Its grid is the cartesian product of the axes in the order the file lists them; each grid
// point is run once per replica, with a seed derived from the base seed, the point's
// parameter values and the replica, so that adding axis values or seeds leaves the runs that
// already existed unchanged. docs/experiments.md describes specs, docs/results.md the output.
package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// Duration is a TOML string such as "30ms", parsed by time.ParseDuration.
type Duration int64

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q: want a number with a unit such as \"30ms\" or \"1.5s\"", b)
	}
	*d = Duration(v)
	return nil
}

// Limits on the expanded grid: beyond them a spec is almost certainly a mistake, and the
// per-point bookkeeping would no longer be small.
const (
	maxPoints = 1_000_000
	maxRuns   = 1 << 32
)

// Spec is a decoded, validated experiment.
type Spec struct {
	Path        string // as given to Load
	Text        string // verbatim file contents
	Hash        string // SHA-256 hex of Text
	Name        string
	Description string
	Seeds       int // replicas per grid point
	BaseSeed    uint64
	Trace       trace.Level
	Base        sim.Config // every grid point starts from this
	Axes        []Axis     // in file order
	Points      []Point    // the grid, first axis varying slowest
}

// Axis is one swept parameter.
type Axis struct {
	Name   string // as the spec writes it, dotted for nested parameters
	Column string // the runs table column that holds it
	Kind   Kind
	Values []Value
}

// Point is one grid point.
type Point struct {
	Index int
	// Values has one entry per axis; an axis that the point's sweep group does not sweep
	// has the zero Value, and the point keeps the base value.
	Values []Value
	Config sim.Config
	// Mode is ModeSim or ModeCluster: what runs the point's configuration.
	Mode string
	// Hash identifies the point by its parameter values, not its index, leaving out the
	// mode.
	Hash uint64
}

// HasCluster reports whether any grid point runs on real nodes.
func (s *Spec) HasCluster() bool {
	return slices.ContainsFunc(s.Points, func(p Point) bool { return p.Mode == ModeCluster })
}

// Runs is the number of runs in the whole experiment.
func (s *Spec) Runs() int64 { return int64(len(s.Points)) * int64(s.Seeds) }

// Run returns what run id means: its grid point, replica and seed.
func (s *Spec) Run(id int64) (p *Point, replica int, seed uint64) {
	p = &s.Points[id/int64(s.Seeds)]
	replica = int(id % int64(s.Seeds))
	return p, replica, RunSeed(s.BaseSeed, p.Hash, replica)
}

// Describe prints a point's axis values as "name=value, ...".
func (s *Spec) Describe(p *Point) string {
	var b strings.Builder
	for i, a := range s.Axes {
		if p.Values[i].Kind == 0 {
			continue // not swept in this point's group
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Name)
		b.WriteByte('=')
		b.WriteString(p.Values[i].String())
	}
	return b.String()
}

// SpecError is a problem with a spec, located as precisely as the decoder allows.
type SpecError struct {
	File   string
	Line   int // 0 when the problem has no single place (a default value)
	Column int
	Key    string // dotted key, e.g. "base.delay.max" or "sweep.joiners"
	Msg    string
	// Context is the decoder's excerpt of the document around the problem, if any.
	Context string
}

func (e *SpecError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Key != "" {
		b.WriteString(": ")
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Context != "" {
		b.WriteString("\n")
		b.WriteString(strings.TrimRight(e.Context, "\n"))
	}
	return b.String()
}

// specFile is the top level of a spec. Unknown keys are errors (DisallowUnknownFields), except
// under [sweep], whose keys are checked against the parameter list while walking it in
// document order.
type specFile struct {
	Name        string    `toml:"name"`
	Description string    `toml:"description"`
	Seeds       int       `toml:"seeds"`
	BaseSeed    uint64    `toml:"base_seed"`
	Trace       string    `toml:"trace"`
	Base        baseTable `toml:"base"`
	Sweep       any       `toml:"sweep"` // a table, or an array of tables
}

type baseTable struct {
	Mode        string        `toml:"mode"`
	Scenario    string        `toml:"scenario"`
	Nodes       int           `toml:"nodes"`
	Joiners     int           `toml:"joiners"`
	JoinWindow  Duration      `toml:"join_window"`
	Bits        uint          `toml:"bits"`
	Protocol    string        `toml:"protocol"`
	Timing      string        `toml:"timing"`
	Unit        Duration      `toml:"unit"`
	Link        string        `toml:"link"`
	Horizon     Duration      `toml:"horizon"`
	MaxMessages int64         `toml:"max_messages"`
	Check       bool          `toml:"check"`
	Delay       delayTable    `toml:"delay"`
	Faults      faultsTable   `toml:"faults"`
	Timeout     Duration      `toml:"timeout"`
	Retries     int           `toml:"retries"`
	Workload    workloadTable `toml:"workload"`
	Leavers     int           `toml:"leavers"`
}

type workloadTable struct {
	Keys         int      `toml:"keys"`
	Rate         float64  `toml:"rate"`
	Lookup       float64  `toml:"lookup"`
	Get          float64  `toml:"get"`
	Put          float64  `toml:"put"`
	Popularity   string   `toml:"popularity"`
	ZipfS        float64  `toml:"zipf_s"`
	Before       Duration `toml:"before"`
	After        Duration `toml:"after"`
	FingerPeriod Duration `toml:"finger_period"`
	Fingers      string   `toml:"fingers"`
	HopBudget    int      `toml:"hop_budget"`
	OpTimeout    Duration `toml:"op_timeout"`
	Replicas     int      `toml:"replicas"`
}

type faultsTable struct {
	Loss              float64  `toml:"loss"`
	Duplicate         float64  `toml:"duplicate"`
	ReorderWindow     Duration `toml:"reorder_window"`
	SpikeProb         float64  `toml:"spike_prob"`
	Spike             Duration `toml:"spike"`
	CrashNode         string   `toml:"crash_node"`
	CrashAt           Duration `toml:"crash_at"`
	CrashAfter        string   `toml:"crash_after"`
	RestartAfter      Duration `toml:"restart_after"`
	PartitionFraction float64  `toml:"partition_fraction"`
	PartitionAt       Duration `toml:"partition_at"`
	HealAt            Duration `toml:"heal_at"`
}

type delayTable struct {
	Kind   string   `toml:"kind"`
	Value  Duration `toml:"value"`
	Min    Duration `toml:"min"`
	Max    Duration `toml:"max"`
	Step   Duration `toml:"step"`
	Mean   Duration `toml:"mean"`
	Median Duration `toml:"median"`
	Sigma  float64  `toml:"sigma"`
}

func baseFromConfig(c sim.Config) baseTable {
	w := &c.Workload
	return baseTable{
		Mode: ModeSim, Scenario: c.Scenario, Nodes: c.Nodes, Joiners: c.Joiners, JoinWindow: Duration(c.JoinWindow),
		Bits: c.Bits, Protocol: c.Protocol, Timing: c.Timing, Unit: Duration(c.Unit), Link: c.Link,
		Horizon: Duration(c.Horizon), MaxMessages: c.MaxMessages, Check: !c.NoCheck,
		Timeout: Duration(c.Timeout), Retries: c.Retries,
		Delay: delayTable{Kind: c.Delay.Kind, Value: Duration(c.Delay.Value), Min: Duration(c.Delay.Min),
			Max: Duration(c.Delay.Max), Step: Duration(c.Delay.Step), Mean: Duration(c.Delay.Mean),
			Median: Duration(c.Delay.Median), Sigma: c.Delay.Sigma},
		Faults: faultsTable{Loss: c.Faults.Loss, Duplicate: c.Faults.Duplicate,
			ReorderWindow: Duration(c.Faults.ReorderWindow), SpikeProb: c.Faults.SpikeProb,
			Spike: Duration(c.Faults.Spike), CrashNode: c.Faults.CrashNode, CrashAt: Duration(c.Faults.CrashAt),
			CrashAfter: c.Faults.CrashAfter, RestartAfter: Duration(c.Faults.RestartAfter),
			PartitionFraction: c.Faults.PartitionFraction, PartitionAt: Duration(c.Faults.PartitionAt),
			HealAt: Duration(c.Faults.HealAt)},
		Workload: workloadTable{Keys: w.Keys, Rate: w.Rate, Lookup: w.Lookup, Get: w.Get, Put: w.Put,
			Popularity: w.Popularity, ZipfS: w.ZipfS, Before: Duration(w.Before), After: Duration(w.After),
			FingerPeriod: Duration(w.FingerPeriod), Fingers: w.Fingers, HopBudget: w.HopBudget,
			OpTimeout: Duration(w.OpTimeout)},
	}
}

func (b baseTable) config() sim.Config {
	w := &b.Workload
	return sim.Config{
		Scenario: b.Scenario, Nodes: b.Nodes, Joiners: b.Joiners, JoinWindow: int64(b.JoinWindow),
		Bits: b.Bits, Protocol: b.Protocol, Timing: b.Timing, Unit: int64(b.Unit), Link: b.Link,
		Horizon: int64(b.Horizon), MaxMessages: b.MaxMessages, NoCheck: !b.Check,
		Timeout: int64(b.Timeout), Retries: b.Retries,
		Delay: sim.Delay{Kind: b.Delay.Kind, Value: int64(b.Delay.Value), Min: int64(b.Delay.Min),
			Max: int64(b.Delay.Max), Step: int64(b.Delay.Step), Mean: int64(b.Delay.Mean),
			Median: int64(b.Delay.Median), Sigma: b.Delay.Sigma},
		Faults: sim.Faults{Loss: b.Faults.Loss, Duplicate: b.Faults.Duplicate,
			ReorderWindow: int64(b.Faults.ReorderWindow), SpikeProb: b.Faults.SpikeProb,
			Spike: int64(b.Faults.Spike), CrashNode: b.Faults.CrashNode, CrashAt: int64(b.Faults.CrashAt),
			CrashAfter: b.Faults.CrashAfter, RestartAfter: int64(b.Faults.RestartAfter),
			PartitionFraction: b.Faults.PartitionFraction, PartitionAt: int64(b.Faults.PartitionAt),
			HealAt: int64(b.Faults.HealAt)},
		Workload: sim.Workload{Keys: w.Keys, Rate: w.Rate, Lookup: w.Lookup, Get: w.Get, Put: w.Put,
			Popularity: w.Popularity, ZipfS: w.ZipfS, Before: int64(w.Before), After: int64(w.After),
			FingerPeriod: int64(w.FingerPeriod), Fingers: w.Fingers, HopBudget: w.HopBudget,
			OpTimeout: int64(w.OpTimeout)},
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Load reads and validates a spec file.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse validates a spec. Every grid point's configuration is built and validated, so a spec
// that parses runs to the end unless the simulator itself fails.
func Parse(path string, data []byte) (*Spec, error) {
	// The walk comes first so that a parameter of the wrong TOML type is reported in the
	// same terms in [base] as in [sweep]; the decoder would store an integer in a Duration
	// as nanoseconds without a word. A document the walk cannot parse gets the decoder's
	// syntax error instead.
	doc, werr := walk(data)
	at := func(key, msg string) *SpecError {
		p := doc.keys[key].keyPos
		return &SpecError{File: path, Line: p.Line, Column: p.Column, Key: key, Msg: msg}
	}
	if werr == nil {
		for _, key := range doc.order {
			name, ok := strings.CutPrefix(key, "base.")
			p := lookupParam(name)
			if !ok || p == nil {
				continue
			}
			k := doc.keys[key]
			if _, err := scalarValue(k.kind, k.data, p.kind); err != nil {
				e := at(key, err.Error())
				e.Line, e.Column = k.pos.Line, k.pos.Column
				return nil, withExcerpt(e, data)
			}
		}
	}
	f := specFile{Seeds: 1, Trace: trace.LevelJoins.String(), Base: baseFromConfig(sim.DefaultConfig())}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, decodeError(path, err)
	}
	if werr != nil {
		return nil, &SpecError{File: path, Msg: werr.Error()}
	}
	fail := func(key, msg string) (*Spec, error) { return nil, withExcerpt(at(key, msg), data) }

	sum := sha256.Sum256(data)
	s := &Spec{Path: path, Text: string(data), Hash: hex.EncodeToString(sum[:]), Name: f.Name,
		Description: f.Description, Seeds: f.Seeds, BaseSeed: f.BaseSeed, Base: f.Base.config()}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if !nameRE.MatchString(s.Name) {
		return fail("name", fmt.Sprintf("%q cannot name a results folder: use letters, digits, '.', '-' and '_'", s.Name))
	}
	if s.Seeds < 1 {
		return fail("seeds", fmt.Sprintf("must be at least 1, got %d", s.Seeds))
	}
	var err error
	if s.Trace, err = trace.ParseLevel(f.Trace); err != nil {
		return fail("trace", err.Error())
	}
	if err := modeParam.set(nil, Value{Kind: KindString, Str: f.Base.Mode}); err != nil {
		return fail("base.mode", err.Error())
	}
	baseMode := f.Base.Mode
	sweepOK := true
	switch v := f.Sweep.(type) {
	case nil, map[string]any:
	case []any:
		for _, g := range v {
			if _, ok := g.(map[string]any); !ok {
				sweepOK = false
			}
		}
	default:
		sweepOK = false
	}
	if !sweepOK {
		return fail("sweep", "must be a table of axes, [sweep], or several, [[sweep]]")
	}

	// Each [[sweep]] table is a grid of its own; a single [sweep] table is one group.
	// Spec.Axes is the union of the groups' axes, in order of first appearance.
	groups := make([][]groupAxis, doc.groups)
	union := map[string]int{}
	for _, a := range doc.axes {
		key := "sweep." + a.name
		at := func(msg string, pos unstable.Position) (*Spec, error) {
			return nil, withExcerpt(&SpecError{File: path, Line: pos.Line, Column: pos.Column, Key: key, Msg: msg}, data)
		}
		p := lookupParam(a.name)
		switch {
		case p == nil:
			return at(fmt.Sprintf("unknown parameter %q (known: %s)", a.name, strings.Join(paramNames(), ", ")), a.keyPos)
		case slices.ContainsFunc(groups[a.group], func(g groupAxis) bool { return g.name == a.name }):
			return at("swept twice", a.keyPos)
		case a.kind != unstable.Array:
			return at("must be a list of values, e.g. [1, 2, 4]", a.keyPos)
		case len(a.values) == 0:
			return at("empty list: an axis needs at least one value", a.keyPos)
		}
		u, ok := union[a.name]
		if !ok {
			u = len(s.Axes)
			union[a.name] = u
			s.Axes = append(s.Axes, Axis{Name: a.name, Column: p.column, Kind: p.kind})
		}
		ax := &s.Axes[u]
		g := groupAxis{name: a.name, axis: u, keyPos: a.keyPos}
		for i, n := range a.values {
			v, err := scalarValue(n.kind, n.data, p.kind)
			if err == nil {
				err = p.set(&sim.Config{}, v)
			}
			if err != nil {
				return at(fmt.Sprintf("value %d: %v", i+1, err), n.pos)
			}
			for _, old := range g.values {
				if old.String() == v.String() {
					return at(fmt.Sprintf("value %s listed twice", v), n.pos)
				}
			}
			g.values = append(g.values, v)
			if !slices.ContainsFunc(ax.Values, func(old Value) bool { return old.String() == v.String() }) {
				ax.Values = append(ax.Values, v)
			}
		}
		groups[a.group] = append(groups[a.group], g)
	}
	if len(groups) == 0 {
		groups = [][]groupAxis{nil}
	}

	if err := s.expand(groups, baseMode, func(p *Point, group []groupAxis, msg string) error {
		names := blamedParams(msg, &p.Config)
		var e *SpecError
		for _, name := range names {
			k := slices.IndexFunc(group, func(g groupAxis) bool { return g.name == name || strings.HasPrefix(g.name, name+".") })
			if k >= 0 {
				pos := group[k].keyPos
				e = &SpecError{File: path, Line: pos.Line, Column: pos.Column, Key: "sweep." + group[k].name, Msg: strings.TrimPrefix(msg, name+": ")}
				break
			}
		}
		for _, name := range names {
			if e != nil {
				break
			}
			key := "base." + name
			if _, ok := doc.keys[key]; !ok {
				// A table set through dotted keys ([base] workload.rate = 5) has no header:
				// point at its first key.
				if i := slices.IndexFunc(doc.order, func(k string) bool { return strings.HasPrefix(k, key+".") }); i >= 0 {
					key = doc.order[i]
				}
			}
			if _, ok := doc.keys[key]; ok {
				e = at(key, strings.TrimPrefix(msg, name+": "))
			}
		}
		switch {
		case e != nil:
		case len(names) > 0:
			e = at("base."+names[0], strings.TrimPrefix(msg, names[0]+": ")+" (default value)")
		default:
			e = &SpecError{File: path, Key: "base", Msg: msg}
		}
		if len(s.Axes) > 0 {
			e.Msg += fmt.Sprintf(" (grid point %d: %s)", p.Index, s.Describe(p))
		}
		return withExcerpt(e, data)
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// groupAxis is one axis of one sweep group.
type groupAxis struct {
	name   string
	axis   int // index into Spec.Axes
	values []Value
	keyPos unstable.Position
}

// expand builds and validates every grid point, group after group; bad reports a point
// that fails validation.
func (s *Spec) expand(groups [][]groupAxis, baseMode string, bad func(p *Point, group []groupAxis, msg string) error) error {
	points := 0
	for _, g := range groups {
		n := 1
		for _, a := range g {
			n *= len(a.values)
			if n > maxPoints {
				break
			}
		}
		points += n
		if points > maxPoints {
			return &SpecError{File: s.Path, Key: "sweep", Msg: fmt.Sprintf("the grid has more than %d points", maxPoints)}
		}
	}
	if int64(points)*int64(s.Seeds) > maxRuns {
		return &SpecError{File: s.Path, Key: "seeds", Msg: fmt.Sprintf("%d points × %d seeds is more than %d runs", points, s.Seeds, int64(maxRuns))}
	}
	s.Points = make([]Point, 0, points)
	keys := map[string]int{}
	for _, g := range groups {
		n := 1
		for _, a := range g {
			n *= len(a.values)
		}
		for i := range n {
			p := Point{Index: len(s.Points), Values: make([]Value, len(s.Axes)), Config: s.Base, Mode: baseMode}
			// Mixed radix, last axis fastest, so the first axis in the file varies slowest.
			rem := i
			for k := len(g) - 1; k >= 0; k-- {
				a := &g[k]
				p.Values[a.axis] = a.values[rem%len(a.values)]
				rem /= len(a.values)
			}
			for _, a := range g {
				// Values were checked against their parameter while decoding.
				pp := lookupParam(a.name)
				_ = pp.set(&p.Config, p.Values[a.axis])
				if pp.point != nil {
					pp.point(&p, p.Values[a.axis])
				}
			}
			if err := p.Config.Validate(); err != nil {
				return bad(&p, g, err.Error())
			}
			if p.Mode == ModeCluster {
				if err := checkCluster(&p.Config); err != nil {
					return bad(&p, g, err.Error())
				}
			}
			key := pointKey(s.Axes, p.Values)
			if j, dup := keys[key]; dup {
				return &SpecError{File: s.Path, Key: "sweep", Msg: fmt.Sprintf("grid points %d and %d are the same (%s): sweep groups overlap", j, p.Index, s.Describe(&p))}
			}
			keys[key] = p.Index
			p.Hash = pointHash(s.Axes, p.Values)
			s.Points = append(s.Points, p)
		}
	}
	return nil
}

// decodeError turns go-toml's errors into SpecErrors that carry the file, line and key.
func decodeError(path string, err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) {
		errs := make([]error, len(sm.Errors))
		for i := range sm.Errors {
			de := &sm.Errors[i]
			line, col := de.Position()
			errs[i] = &SpecError{File: path, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
				Msg: "unknown key", Context: de.String()}
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		return &SpecError{File: path, Line: line, Column: col, Key: strings.Join(de.Key(), "."),
			Msg: typeMessage(strings.TrimPrefix(de.Error(), "toml: ")), Context: de.String()}
	}
	return &SpecError{File: path, Msg: err.Error()}
}

var typeErrorRE = regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)

// typeMessage says in spec terms what go-toml reports in Go terms.
func typeMessage(msg string) string {
	m := typeErrorRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"int": "an integer", "int64": "an integer", "uint": "an integer",
		"uint64": "an integer", "string": "a string", "bool": "a boolean", "float64": "a number",
		"runner.Duration": KindDuration.String()}[m[2]]
	if want == "" {
		want = "a table"
	}
	return fmt.Sprintf("want %s, got a TOML %s", want, m[1])
}

// rawAxis is a [sweep] entry as written. The parser reuses its nodes from one expression
// to the next, so values are copied out while walking.
type rawAxis struct {
	group  int
	keyPos unstable.Position
	name   string
	kind   unstable.Kind // of the entry's value; Array for a proper axis
	values []rawValue
}

type rawValue struct {
	kind   unstable.Kind
	data   []byte
	pos    unstable.Position // of the value, or of its key when the parser gives no range
	keyPos unstable.Position
}

// document is what walk learns about a spec that the struct decoder does not tell: where
// each key is, and the [sweep] entries in file order.
type document struct {
	groups int // [sweep] or [[sweep]] tables seen
	parser *unstable.Parser
	keys   map[string]rawValue // by dotted path, e.g. "base.delay.max"
	order  []string            // keys in document order
	axes   []rawAxis
}

// walk reads the document's expressions in order. The struct decoder has already accepted
// the document, so parse errors are not expected here.
func walk(data []byte) (*document, error) {
	d := &document{parser: &unstable.Parser{}, keys: map[string]rawValue{}}
	p := d.parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(e)
			it := e.Key()
			if it.Next() {
				path := strings.Join(table, ".")
				if _, seen := d.keys[path]; !seen {
					pos := d.parser.Shape(it.Node().Raw).Start
					d.keys[path] = rawValue{kind: e.Kind, pos: pos, keyPos: pos}
				}
			}
			if len(table) == 1 && table[0] == "sweep" {
				d.groups++
			}
		case unstable.KeyValue:
			d.keyValue(table, e)
		}
	}
	if err := p.Error(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *document) keyValue(table []string, e *unstable.Node) {
	parts := keyParts(e)
	full := append(append([]string(nil), table...), parts...)
	it := e.Key()
	it.Next()
	pos := d.parser.Shape(it.Node().Raw).Start
	v := e.Value()
	path := strings.Join(full, ".")
	rv := rawValue{kind: v.Kind, data: append([]byte(nil), v.Data...), pos: pos, keyPos: pos}
	if v.Raw.Length > 0 {
		rv.pos = d.parser.Shape(v.Raw).Start
	}
	d.keys[path] = rv
	d.order = append(d.order, path)
	if v.Kind == unstable.InlineTable {
		kids := v.Children()
		for kids.Next() {
			if kids.Node().Kind == unstable.KeyValue {
				d.keyValue(full, kids.Node())
			}
		}
		return
	}
	if len(full) < 2 || full[0] != "sweep" {
		return
	}
	a := rawAxis{group: max(d.groups-1, 0), keyPos: pos, name: strings.Join(full[1:], "."), kind: v.Kind}
	if v.Kind == unstable.Array {
		vals := v.Children()
		for vals.Next() {
			n := vals.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			rv := rawValue{kind: n.Kind, data: append([]byte(nil), n.Data...), pos: pos}
			if n.Raw.Length > 0 {
				rv.pos = d.parser.Shape(n.Raw).Start
			}
			a.values = append(a.values, rv)
		}
	}
	d.axes = append(d.axes, a)
}

// withExcerpt adds the offending line of the document, with a caret under the column, to an
// error that has a position but no decoder context.
func withExcerpt(e *SpecError, data []byte) *SpecError {
	if e.Line < 1 || e.Context != "" {
		return e
	}
	lines := strings.Split(string(data), "\n")
	if e.Line > len(lines) {
		return e
	}
	num := strconv.Itoa(e.Line)
	e.Context = fmt.Sprintf("%s| %s\n%s| %s^", num, strings.TrimRight(lines[e.Line-1], "\r"),
		strings.Repeat(" ", len(num)), strings.Repeat(" ", max(e.Column-1, 0)))
	return e
}

func keyParts(n *unstable.Node) []string {
	var parts []string
	it := n.Key()
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// scalarValue converts a TOML scalar of kind nk to a Value of kind k.
func scalarValue(nk unstable.Kind, raw []byte, k Kind) (Value, error) {
	data := string(raw)
	want := func() (Value, error) {
		return Value{}, fmt.Errorf("want %s, got %s", k, kindName(nk))
	}
	switch k {
	case KindString:
		if nk != unstable.String {
			return want()
		}
		return Value{Kind: k, Str: data}, nil
	case KindDuration:
		if nk != unstable.String {
			return want()
		}
		var d Duration
		if err := d.UnmarshalText(raw); err != nil {
			return Value{}, err
		}
		return Value{Kind: k, Int: int64(d)}, nil
	case KindBool:
		if nk != unstable.Bool {
			return want()
		}
		return Value{Kind: k, Bool: data == "true"}, nil
	case KindInt:
		if nk != unstable.Integer {
			return want()
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(data, "_", ""), 0, 64)
		if err != nil {
			return Value{}, fmt.Errorf("integer %s: %v", data, err)
		}
		return Value{Kind: k, Int: v}, nil
	case KindFloat:
		if nk != unstable.Float && nk != unstable.Integer {
			return want()
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(data, "_", ""), 64)
		if err != nil {
			return Value{}, fmt.Errorf("number %s: %v", data, err)
		}
		return Value{Kind: k, Float: v}, nil
	}
	return want()
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "a list"
	case unstable.InlineTable:
		return "a table"
	}
	return "a " + strings.ToLower(k.String())
}
