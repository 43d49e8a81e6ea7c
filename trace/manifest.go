package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ManifestName is the manifest's file name inside a result set.
const ManifestName = "manifest.json"

// ManifestFormat is the manifest layout this build writes and the newest it reads. Bump it
// whenever a field is removed, renamed or changes meaning, and teach ReadManifest to read
// the older formats that are still worth reading; adding a field that old readers may
// ignore needs no bump.
const ManifestFormat = 1

// Manifest describes a result set (docs/results.md). Writing it is the commit point of
// every part: a part that the manifest does not list does not exist.
type Manifest struct {
	Format      int    `json:"format"`
	Experiment  string `json:"experiment"`
	Description string `json:"description,omitempty"`
	SpecPath    string `json:"spec_path"`
	// Spec is the spec file verbatim, so that any run can be reproduced from the result set
	// alone; SpecHash is its SHA-256 in hex.
	Spec      string      `json:"spec"`
	SpecHash  string      `json:"spec_hash"`
	Axes      []Axis      `json:"axes"`
	Seeds     int         `json:"seeds"`
	BaseSeed  uint64      `json:"base_seed"`
	Trace     string      `json:"trace"`
	Grid      []GridPoint `json:"grid"`
	RunsTotal int64       `json:"runs_total"`
	Shard     Shard       `json:"shard"`
	// ShardRuns is the number of runs this result set holds when complete: less than
	// RunsTotal for one shard of a sharded sweep; 0 if not recorded.
	ShardRuns   int64  `json:"shard_runs"`
	ToolVersion string `json:"tool_version"`
	VCSRevision string `json:"vcs_revision"`
	GoVersion   string `json:"go_version"`
	Started     string `json:"started"`
	Finished    string `json:"finished"`
	// Parts lists the committed part files (the same name under each table folder that
	// Level.PartTables names), in the order they were written. Nil when the manifest has no
	// parts field: readers then take every part file present.
	Parts []string `json:"parts"`
	// Done says which runs each part holds, in the order of Parts. Nil when the manifest
	// has no done field.
	Done []PartInfo `json:"done"`
	// MergedFrom lists the shard folders a merged result set was built from.
	MergedFrom []string `json:"merged_from,omitempty"`
}

// Axis is one sweep axis: its name as the spec writes it, its runs table column, and its
// values in spec order.
type Axis struct {
	Name   string  `json:"name"`
	Column string  `json:"column"`
	Values []Value `json:"values"`
}

// Numeric reports whether every value of the axis is a number or every value is a
// duration, so that it can be an x axis with a scale.
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

// GridPoint is one point of the grid. With several sweep groups, Params holds only the axes
// of the point's own group; the other parameters have the spec's base values.
type GridPoint struct {
	Point  int    `json:"point"`
	Params Params `json:"params"`
}

// Shard says which slice of the experiment a result set holds. Runs are dealt to shards in
// blocks of BlockRuns consecutive run ids, round robin, so that every shard gets a fair
// share of cheap and expensive grid points.
type Shard struct {
	Index     int   `json:"index"`
	Count     int   `json:"count"`
	BlockRuns int64 `json:"block_runs"`
}

// PartInfo records the runs a committed part holds and its row counts.
type PartInfo struct {
	Part string `json:"part"`
	// Runs are inclusive [first, last] run id ranges, ascending.
	Runs   [][2]int64 `json:"runs"`
	Rows   int64      `json:"rows"`
	Joins  int64      `json:"joins"`
	Events int64      `json:"events"`
	// Ops is the number of DHT operations in the part's ops file; the file exists exactly
	// when Ops > 0, since a part of runs without a workload has none.
	Ops int64 `json:"ops"`
}

// RunsDone is the number of runs the committed parts hold.
func (m *Manifest) RunsDone() int64 {
	var n int64
	for _, p := range m.Done {
		n += p.Rows
	}
	return n
}

// Complete reports whether every run of the result set is committed.
func (m *Manifest) Complete() bool { return m.RunsDone() == m.ShardRuns }

// ExpectedRuns is how many runs the result set holds when complete: ShardRuns when
// recorded, else RunsTotal.
func (m *Manifest) ExpectedRuns() int64 {
	if m.ShardRuns > 0 {
		return m.ShardRuns
	}
	return m.RunsTotal
}

// Level is the manifest's trace level.
func (m *Manifest) Level() (Level, error) { return ParseLevel(m.Trace) }

// Params returns grid point i's parameters in axis order.
func (m *Manifest) Params(i int) Params { return m.Grid[i].Params.ordered(m.Axes) }

// Axis returns the named axis.
func (m *Manifest) Axis(name string) (*Axis, bool) {
	for i := range m.Axes {
		if m.Axes[i].Name == name {
			return &m.Axes[i], true
		}
	}
	return nil, false
}

// BuildVersion returns the running binary's module version and VCS revision, the revision
// marked -dirty when the tree had local changes, for Manifest.ToolVersion and VCSRevision.
func BuildVersion() (version, revision string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", ""
	}
	version = bi.Main.Version
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && revision != "" {
		revision += "-dirty"
	}
	return version, revision
}

// WriteManifest stamps m with ManifestFormat and replaces dir's manifest atomically: a crash
// leaves either the old or the new one, never a mix.
func WriteManifest(dir string, m *Manifest) error {
	st, err := StageManifest(dir, m)
	if err != nil {
		return err
	}
	return st.Commit()
}

// StageManifest is WriteManifest up to the rename, which the Staged's Commit makes: a sweep
// writes and syncs its next manifest while the files it lists are being completed, and
// renames it into place once they are.
func StageManifest(dir string, m *Manifest) (*Staged, error) {
	m.Format = ManifestFormat
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	return StageFile(filepath.Join(dir, ManifestName), append(data, '\n'))
}

// IsManifestTemp reports whether name is a temporary manifest that a writer killed before
// its rename left behind: WriteManifest's (".manifest.json.tmp-*", see WriteFileAtomic) or
// older writers' ("manifest.json.tmp-*", "manifest.json.tmp"). Such a file never holds a
// committed manifest, so it may be deleted.
func IsManifestTemp(name string) bool {
	return strings.HasPrefix(name, "."+ManifestName+".tmp-") || strings.HasPrefix(name, ManifestName+".tmp-") ||
		name == ManifestName+".tmp"
}

// ReadManifest reads and checks dir's manifest. An error that wraps fs.ErrNotExist means
// there is none; any other error names the file and, where it can, the field.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeManifest(path, data)
}

// DecodeManifest decodes and checks a manifest read from path, which names it in errors.
func DecodeManifest(path string, data []byte) (*Manifest, error) {
	// The format comes first and alone: a newer format may have changed what the other
	// fields mean, so they are not decoded until it is known.
	var head struct {
		Format *json.RawMessage `json:"format"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%s: not a result set manifest: %v", path, jsonError(err))
	}
	if head.Format == nil {
		return nil, fmt.Errorf("%s: not a result set manifest: no format field", path)
	}
	var format int
	if err := json.Unmarshal(*head.Format, &format); err != nil || format < 1 {
		return nil, fmt.Errorf("%s: field format is %s, want a manifest format number >= 1", path, *head.Format)
	}
	if format > ManifestFormat {
		return nil, fmt.Errorf("%s: manifest format %d is newer than this build reads (format %d and older): read it with a newer dhtexp", path, format, ManifestFormat)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not a result set manifest: %v", path, jsonError(err))
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// jsonError names the field a type mismatch is in, rather than the Go struct it would go to.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %s: a JSON %s where %s is wanted", te.Field, te.Value, te.Type)
	}
	return err
}

// validate checks what readers rely on.
func (m *Manifest) validate() error {
	if _, err := m.Level(); err != nil {
		return fmt.Errorf("field trace: %w", err)
	}
	if len(m.Grid) == 0 {
		return errors.New("field grid: the grid is empty")
	}
	if m.Seeds < 1 {
		return fmt.Errorf("field seeds is %d, want >= 1", m.Seeds)
	}
	if m.Done != nil && len(m.Done) != len(m.Parts) {
		return fmt.Errorf("field done has %d entries for %d parts", len(m.Done), len(m.Parts))
	}
	for i, p := range m.Done {
		if p.Part != m.Parts[i] {
			return fmt.Errorf("field done: entry %d is part %q, parts lists %q", i, p.Part, m.Parts[i])
		}
	}
	names := make(map[string]bool, len(m.Axes))
	for _, a := range m.Axes {
		if a.Name == "" {
			return errors.New("field axes: an axis has no name")
		}
		if names[a.Name] {
			return fmt.Errorf("field axes: axis %q appears twice", a.Name)
		}
		names[a.Name] = true
	}
	keys := make(map[string]int, len(m.Grid))
	for i, g := range m.Grid {
		if g.Point != i {
			return fmt.Errorf("field grid: entry %d has point %d; points must be numbered 0, 1, ... in order", i, g.Point)
		}
		k := g.Params.Key()
		if j, dup := keys[k]; dup {
			return fmt.Errorf("field grid: points %d and %d have the same parameters", j, i)
		}
		keys[k] = i
	}
	return nil
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

// Value is a sweep axis value as the manifest writes it: a JSON number, string or bool.
// Strings that parse as Go durations are durations, so that an axis such as delay.max can
// be plotted on a numeric scale.
type Value struct {
	Kind ValueKind
	// Text is the value as people read it: the number in shortest form, the string itself,
	// true or false. Baselines key grid points by it.
	Text string
	// Num is the number, the duration in nanoseconds, or 1 for true.
	Num float64
}

// NumberValue returns a number Value.
func NumberValue(f float64) Value {
	return Value{Kind: KindNumber, Num: f, Text: strconv.FormatFloat(f, 'g', -1, 64)}
}

// StringValue returns the Value of a JSON string: a duration when s parses as one,
// otherwise a string.
func StringValue(s string) Value {
	// A bare "0" parses as a duration but is more likely a label.
	if d, err := time.ParseDuration(s); err == nil && strings.ContainsAny(s, "nuµmsh") {
		return Value{Kind: KindDuration, Num: float64(d), Text: s}
	}
	return Value{Kind: KindString, Text: s}
}

// BoolValue returns a bool Value.
func BoolValue(b bool) Value {
	v := Value{Kind: KindBool, Text: strconv.FormatBool(b)}
	if b {
		v.Num = 1
	}
	return v
}

// ValueOf returns the Value of a Go number, string, bool or nil, as a writer of manifests
// holds them.
func ValueOf(x any) (Value, error) {
	switch x := x.(type) {
	case nil:
		return Value{Kind: KindNull, Text: "null"}, nil
	case int:
		return NumberValue(float64(x)), nil
	case int64:
		return NumberValue(float64(x)), nil
	case uint64:
		return NumberValue(float64(x)), nil
	case float64:
		return NumberValue(x), nil
	case string:
		return StringValue(x), nil
	case bool:
		return BoolValue(x), nil
	}
	return Value{}, fmt.Errorf("parameter value %v is a %T, not a number, string or bool", x, x)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = Value{Kind: KindNull, Text: "null"}
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*v = BoolValue(b[0] == 't')
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

// MarshalJSON implements json.Marshaler. Whole numbers are written without an exponent, as
// the integers they usually were in the spec.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Kind {
	case KindNull:
		return []byte("null"), nil
	case KindNumber:
		switch f := v.Num; {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return []byte("null"), nil
		case f == math.Trunc(f) && math.Abs(f) < 1<<53:
			return strconv.AppendInt(nil, int64(f), 10), nil
		}
		return json.Marshal(v.Num)
	case KindBool:
		return strconv.AppendBool(nil, v.Text == "true"), nil
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

// Params are a grid point's parameters, a JSON object whose key order is kept.
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

// String writes the parameters as "name=value, name=value" in their order.
func (ps Params) String() string { return ps.join(", ") }

// Key identifies a grid point by its parameters, independent of their order and of the
// point's index, so that baselines survive a spec edit that reorders the grid.
func (ps Params) Key() string {
	s := append(Params(nil), ps...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s.join("\x1f")
}

// join writes the parameters as name=value in their order, sep between them.
func (ps Params) join(sep string) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		b.WriteString(p.Value.Text)
	}
	return b.String()
}

// ordered returns the parameters in axis order, then those of no axis by name.
func (ps Params) ordered(axes []Axis) Params {
	out := make(Params, 0, len(ps))
	seen := make(map[string]bool, len(axes))
	for _, a := range axes {
		if v, ok := ps.Get(a.Name); ok && !seen[a.Name] {
			out = append(out, Param{a.Name, v})
			seen[a.Name] = true
		}
	}
	var rest Params
	for _, p := range ps {
		if !seen[p.Name] {
			rest = append(rest, p)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	return append(out, rest...)
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
		return errors.New("parameters must be a JSON object")
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
