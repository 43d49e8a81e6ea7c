package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ManifestFormat is the manifest.json format this package reads.
const ManifestFormat = 1

// Manifest is a result set's manifest.json (docs/results.md).
type Manifest struct {
	Format      int         `json:"format"`
	Experiment  string      `json:"experiment"`
	SpecPath    string      `json:"spec_path"`
	Spec        string      `json:"spec"`
	SpecHash    string      `json:"spec_hash"`
	Axes        []Axis      `json:"axes"`
	Seeds       int64       `json:"seeds"`
	BaseSeed    json.Number `json:"base_seed"`
	Description string      `json:"description"`
	Trace       string      `json:"trace"`
	Grid        []GridPoint `json:"grid"`
	RunsTotal   int64       `json:"runs_total"`
	Shard       Shard       `json:"shard"`
	// ShardRuns is how many runs the result set holds when complete: less
	// than RunsTotal for one shard of a sharded sweep; 0 if not recorded.
	ShardRuns   int64    `json:"shard_runs"`
	ToolVersion string   `json:"tool_version"`
	VCSRevision string   `json:"vcs_revision"`
	GoVersion   string   `json:"go_version"`
	Started     string   `json:"started"`
	Finished    string   `json:"finished"`
	Parts       []string `json:"parts"`
}

// Axis is one sweep axis: its name as the spec writes it, its runs-table
// column, and its values in spec order.
type Axis struct {
	Name   string  `json:"name"`
	Column string  `json:"column"`
	Values []Value `json:"values"`
}

// Numeric reports whether every value of the axis is a number or every
// value is a duration, so that it can be an x axis with a scale.
func (a *Axis) Numeric() bool {
	if len(a.Values) == 0 {
		return false
	}
	k := a.Values[0].Kind
	if k != KindNumber && k != KindDuration {
		return false
	}
	for _, v := range a.Values {
		if v.Kind != k {
			return false
		}
	}
	return true
}

// GridPoint is one entry of the manifest grid. With several sweep groups,
// Params holds only the axes of the point's own group; the other
// parameters have the spec's base values.
type GridPoint struct {
	Point  int              `json:"point"`
	Params map[string]Value `json:"params"`
}

// Shard says which slice of the grid × seeds a sweep ran.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// ValueKind classifies a parameter value.
type ValueKind uint8

// Kinds of Value.
const (
	KindNull ValueKind = iota
	KindNumber
	KindDuration // a Go duration string such as "10ms"
	KindString
	KindBool
)

// Value is a sweep axis value as the manifest writes it: a JSON number,
// string or bool. Strings that parse as Go durations are durations, so that
// an axis such as delay.max can be plotted on a numeric scale.
type Value struct {
	Kind ValueKind
	// Text is the value as people read it: the number in shortest form,
	// the string itself, true or false.
	Text string
	// Num is the number, or the duration in nanoseconds.
	Num float64
}

// NumberValue returns a number Value.
func NumberValue(f float64) Value {
	return Value{Kind: KindNumber, Num: f, Text: strconv.FormatFloat(f, 'g', -1, 64)}
}

// StringValue returns the Value of a JSON string: a duration when s parses
// as one, otherwise a string.
func StringValue(s string) Value {
	// A bare "0" parses as a duration but is more likely a label.
	if d, err := time.ParseDuration(s); err == nil && strings.ContainsAny(s, "nuµmsh") {
		return Value{Kind: KindDuration, Num: float64(d), Text: s}
	}
	return Value{Kind: KindString, Text: s}
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = Value{Kind: KindNull, Text: "null"}
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*v = Value{Kind: KindBool, Text: string(b)}
		if b[0] == 't' {
			v.Num = 1
		}
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = StringValue(s)
	default:
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("parameter value %s is not a number, string or bool", b)
		}
		*v = NumberValue(f)
	}
	return nil
}

// MarshalJSON implements json.Marshaler, writing the value in the form it
// was read.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case KindNull:
		return []byte("null"), nil
	case KindNumber:
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return []byte("null"), nil
		}
		return []byte(v.Text), nil
	case KindBool:
		return []byte(v.Text), nil
	default:
		return json.Marshal(v.Text)
	}
}

func (v Value) String() string { return v.Text }

// Param is one named parameter value of a grid point.
type Param struct {
	Name  string
	Value Value
}

// Params are a grid point's parameters in axis order.
type Params []Param

// Get returns the value of the named parameter.
func (ps Params) Get(name string) (Value, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return Value{}, false
}

// String writes the parameters as "name=value, name=value" in axis order.
func (ps Params) String() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value.Text)
	}
	return b.String()
}

// Key identifies a grid point by its parameters, independent of their
// order and of the point's index, so that baselines survive a spec edit
// that reorders the grid.
func (ps Params) Key() string {
	s := append(Params(nil), ps...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	var b strings.Builder
	for i, p := range s {
		if i > 0 {
			b.WriteByte('\x1f')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value.Text)
	}
	return b.String()
}

// MarshalJSON writes the parameters as a JSON object in their order.
func (ps Params) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(p.Name)
		if err != nil {
			return nil, err
		}
		v, err := p.Value.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads a JSON object, keeping its key order.
func (ps *Params) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("parameters must be a JSON object")
	}
	out := Params{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v Value
		if err := dec.Decode(&v); err != nil {
			return err
		}
		out = append(out, Param{Name: t.(string), Value: v})
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	*ps = out
	return nil
}

// paramsFromMap orders m by the axes first, then by name.
func paramsFromMap(m map[string]Value, axes []Axis) Params {
	ps := make(Params, 0, len(m))
	seen := make(map[string]bool, len(axes))
	for _, a := range axes {
		if v, ok := m[a.Name]; ok {
			ps = append(ps, Param{a.Name, v})
			seen[a.Name] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		ps = append(ps, Param{k, m[k]})
	}
	return ps
}

// validate checks what Analyze relies on.
func (m *Manifest) validate() error {
	if m.Format != ManifestFormat {
		return fmt.Errorf("format %d is not supported (this build reads format %d)", m.Format, ManifestFormat)
	}
	if len(m.Grid) == 0 {
		return fmt.Errorf("the grid is empty")
	}
	if m.Seeds < 1 {
		return fmt.Errorf("seeds is %d, want >= 1", m.Seeds)
	}
	names := make(map[string]bool, len(m.Axes))
	for _, a := range m.Axes {
		if a.Name == "" {
			return fmt.Errorf("an axis has no name")
		}
		if names[a.Name] {
			return fmt.Errorf("axis %q appears twice", a.Name)
		}
		names[a.Name] = true
	}
	keys := make(map[string]int, len(m.Grid))
	for i, g := range m.Grid {
		if g.Point != i {
			return fmt.Errorf("grid entry %d has point %d; points must be numbered 0, 1, ... in order", i, g.Point)
		}
		k := paramsFromMap(g.Params, m.Axes).Key()
		if j, dup := keys[k]; dup {
			return fmt.Errorf("grid points %d and %d have the same parameters", j, i)
		}
		keys[k] = i
	}
	return nil
}

// ExpectedRuns is how many runs the result set holds when complete:
// ShardRuns when recorded, else RunsTotal.
func (m *Manifest) ExpectedRuns() int64 {
	if m.ShardRuns > 0 {
		return m.ShardRuns
	}
	return m.RunsTotal
}

// Params returns grid point i's parameters in axis order.
func (m *Manifest) Params(i int) Params { return paramsFromMap(m.Grid[i].Params, m.Axes) }

// Axis returns the named axis.
func (m *Manifest) Axis(name string) (*Axis, bool) {
	for i := range m.Axes {
		if m.Axes[i].Name == name {
			return &m.Axes[i], true
		}
	}
	return nil, false
}
