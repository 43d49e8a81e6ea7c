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
	"sync"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

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
	Hash        string // identifies the experiment, not the file: see canonicalHash
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
// under [base] and [sweep], whose keys are checked against the parameters while walking them
// in document order.
type specFile struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Seeds       int    `toml:"seeds"`
	BaseSeed    uint64 `toml:"base_seed"`
	Trace       string `toml:"trace"`
	Base        any    `toml:"base"`
	Sweep       any    `toml:"sweep"` // a table, or an array of tables
}

// nameRE and typeErrorRE are compiled at their first use, not at every command's start.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`) })

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
	// The walk gives positions and the [base] and [sweep] entries in document order; a
	// document it cannot parse gets the decoder's syntax error instead.
	doc, werr := walk(data)
	f := specFile{Seeds: 1, Trace: trace.LevelJoins.String()}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, decodeError(path, err)
	}
	if werr != nil {
		return nil, &SpecError{File: path, Msg: werr.Error()}
	}
	at := func(key, msg string) *SpecError {
		p := doc.keys[key].keyPos
		return &SpecError{File: path, Line: p.Line, Column: p.Column, Key: key, Msg: msg}
	}
	fail := func(key, msg string) (*Spec, error) { return nil, withExcerpt(at(key, msg), data) }
	base, err := doc.base(path, data)
	if err != nil {
		return nil, err
	}

	s := &Spec{Path: path, Text: string(data), Name: f.Name, Description: f.Description, Seeds: f.Seeds,
		BaseSeed: f.BaseSeed, Base: base.Config}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if !nameRE().MatchString(s.Name) {
		return fail("name", fmt.Sprintf("%q cannot name a results folder: use letters, digits, '.', '-' and '_'", s.Name))
	}
	if s.Seeds < 1 {
		return fail("seeds", fmt.Sprintf("must be at least 1, got %d", s.Seeds))
	}
	if s.Trace, err = trace.ParseLevel(f.Trace); err != nil {
		return fail("trace", err.Error())
	}
	baseMode := base.Mode
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
		p := params.Lookup(a.name)
		switch {
		case p == nil:
			return at(fmt.Sprintf("unknown parameter %q (known: %s)", a.name, strings.Join(params.Names(), ", ")), a.keyPos)
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
			s.Axes = append(s.Axes, Axis{Name: a.name, Column: p.Column, Kind: p.Kind})
		}
		ax := &s.Axes[u]
		g := groupAxis{name: a.name, axis: u, keyPos: a.keyPos}
		for i, n := range a.values {
			v, err := scalarValue(n.kind, n.data, p.Kind)
			if err == nil {
				r := params.Default()
				err = p.Set(&r, v)
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
	s.Hash = s.canonicalHash(base, groups)
	return s, nil
}

// canonicalHash is the SHA-256 of what the spec means: its name, seeds, base seed and trace
// level, every [base] parameter whose value differs from the build's default, and each sweep
// group's axes with their values, in order. Values are in canonical form, so comments, the
// order of keys within a table, the spelling of a value ("10ms" or "10000us") and writing a
// default out do not enter it. Neither does a parameter a later build adds, whose default
// keeps the old behaviour, so a new build can still --resume and check older result sets.
// Defaults are the build's, like its protocol code: result sets record the VCS revision for
// that. The description does not enter either: rewording it neither changes an experiment
// nor blocks its --resume.
func (s *Spec) canonicalHash(base params.Run, groups [][]groupAxis) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dhtexp spec 3\nname=%q\nseeds=%d\nbase_seed=%d\ntrace=%s\n", s.Name, s.Seeds, s.BaseSeed, s.Trace)
	def := params.Default()
	for i := range params.All {
		p := &params.All[i]
		if v := p.Get(&base); v != p.Get(&def) {
			fmt.Fprintf(&b, "base.%s=%q\n", p.Name, v.String())
		}
	}
	for i, g := range groups {
		fmt.Fprintf(&b, "sweep %d\n", i)
		for _, a := range g {
			fmt.Fprintf(&b, "%s=", a.name)
			for k, v := range a.values {
				if k > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%q", v.String())
			}
			b.WriteByte('\n')
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// UpgradeSpecHash is the hash a result set or baseline records for the spec text, in this
// build's terms: builds before Spec.Hash meant the parsed spec recorded the SHA-256 of the
// file's bytes, which becomes the hash of text parsed. Any other hash, or text that does not
// parse, is returned as it is.
func UpgradeSpecHash(path, text, hash string) string {
	sum := sha256.Sum256([]byte(text))
	if hash != hex.EncodeToString(sum[:]) {
		return hash
	}
	s, err := Parse(path, []byte(text))
	if err != nil {
		return hash
	}
	return s.Hash
}

// base builds the [base] configuration by walking its keys in document order through the
// same setters as [sweep] values: a key that is not a parameter, or not of its kind, is an
// error at its line.
func (d *document) base(path string, data []byte) (params.Run, error) {
	r := params.Default()
	tables := params.Tables()
	var errs []error
	bad := func(key string, pos unstable.Position, msg string) {
		errs = append(errs, withExcerpt(&SpecError{File: path, Line: pos.Line, Column: pos.Column, Key: key, Msg: msg}, data))
	}
	if k, ok := d.keys["base"]; ok && k.kind != unstable.Table && k.kind != unstable.InlineTable {
		bad("base", k.keyPos, "must be a table of parameters, [base]")
	}
	for _, key := range d.tables {
		name, ok := strings.CutPrefix(key, "base.")
		if !ok {
			continue
		}
		if k := d.keys[key]; k.kind != unstable.Table || !slices.Contains(tables, name) {
			bad(key, k.keyPos, "unknown key")
		}
	}
	for _, key := range d.order {
		name, ok := strings.CutPrefix(key, "base.")
		if !ok {
			continue
		}
		k := d.keys[key]
		p := params.Lookup(name)
		switch {
		case p != nil:
			v, err := scalarValue(k.kind, k.data, p.Kind)
			if err == nil {
				err = p.Set(&r, v)
			}
			if err != nil {
				bad(key, k.pos, err.Error())
			}
		case slices.Contains(tables, name):
			if k.kind != unstable.InlineTable {
				bad(key, k.pos, fmt.Sprintf("want a table, got %s", kindName(k.kind)))
			}
		default:
			bad(key, k.keyPos, "unknown key")
		}
	}
	return r, errors.Join(errs...)
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
			r := params.Run{Mode: baseMode, Config: s.Base}
			for _, a := range g {
				// Values were checked against their parameter while decoding.
				_ = params.Lookup(a.name).Set(&r, p.Values[a.axis])
			}
			p.Mode, p.Config = r.Mode, r.Config
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

var typeErrorRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^cannot decode TOML (\w+) into struct field \S+ of type (\S+)$`)
})

// typeMessage says in spec terms what go-toml reports in Go terms.
func typeMessage(msg string) string {
	m := typeErrorRE().FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{"int": "an integer", "int64": "an integer", "uint": "an integer",
		"uint64": "an integer", "string": "a string", "bool": "a boolean", "float64": "a number"}[m[2]]
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
	tables []string            // table headers in document order, first sight only
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
					d.tables = append(d.tables, path)
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
		d, err := params.ParseDuration(data)
		if err != nil {
			return Value{}, err
		}
		return Value{Kind: k, Int: d}, nil
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
