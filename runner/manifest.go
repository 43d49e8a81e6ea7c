package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// ManifestName is the manifest's file name inside a result set.
const ManifestName = "manifest.json"

// manifestFormat is bumped whenever the manifest's layout changes meaning.
const manifestFormat = 1

// Manifest describes a result set. Writing it (to a temporary name, then renaming) is the
// commit point of every part: a part that the manifest does not list does not exist.
type Manifest struct {
	Format      int         `json:"format"`
	Experiment  string      `json:"experiment"`
	Description string      `json:"description,omitempty"`
	SpecPath    string      `json:"spec_path"`
	Spec        string      `json:"spec"`
	SpecHash    string      `json:"spec_hash"`
	Axes        []AxisInfo  `json:"axes"`
	Seeds       int         `json:"seeds"`
	BaseSeed    uint64      `json:"base_seed"`
	Trace       string      `json:"trace"`
	Grid        []GridPoint `json:"grid"`
	RunsTotal   int64       `json:"runs_total"`
	Shard       ShardInfo   `json:"shard"`
	// ShardRuns is the number of runs this result set holds when complete.
	ShardRuns   int64  `json:"shard_runs"`
	ToolVersion string `json:"tool_version"`
	VCSRevision string `json:"vcs_revision"`
	GoVersion   string `json:"go_version"`
	Started     string `json:"started"`
	Finished    string `json:"finished"`
	// Parts lists the committed part files (the same name under runs/, joins/ and events/,
	// as far as the trace level writes them, and under ops/ when the part holds operations),
	// in the order they were written.
	Parts []string `json:"parts"`
	// Done says which runs each part holds, in the order of Parts.
	Done []PartInfo `json:"done"`
	// MergedFrom lists the shard folders a merged result set was built from.
	MergedFrom []string `json:"merged_from,omitempty"`
}

// AxisInfo is one sweep axis.
type AxisInfo struct {
	Name   string `json:"name"`
	Column string `json:"column"`
	Values []any  `json:"values"`
}

// GridPoint is one point of the grid with its axis values.
type GridPoint struct {
	Point  int    `json:"point"`
	Params Params `json:"params"`
}

// Param is one axis value of a grid point.
type Param struct {
	Name  string
	Value any
}

// Params is a JSON object whose keys keep the spec's axis order.
type Params []Param

// MarshalJSON writes the params as an object in axis order.
func (p Params) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads an object, keeping its key order.
func (p *Params) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("params: want an object")
	}
	*p = (*p)[:0]
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*p = append(*p, Param{Name: t.(string), Value: v})
	}
	_, err := dec.Token()
	return err
}

// ShardInfo says which slice of the experiment a result set holds. Runs are dealt to shards
// in blocks of BlockRuns consecutive run ids, round robin, so that every shard gets a fair
// share of cheap and expensive grid points.
type ShardInfo struct {
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

// Level is the manifest's trace level.
func (m *Manifest) Level() (Level, error) { return ParseLevel(m.Trace) }

func newManifest(spec *Spec, level Level, shard ShardInfo, shardRuns int64, started string) *Manifest {
	m := &Manifest{
		Format: manifestFormat, Experiment: spec.Name, Description: spec.Description,
		SpecPath: spec.Path, Spec: spec.Text, SpecHash: spec.Hash, Seeds: spec.Seeds,
		BaseSeed: spec.BaseSeed, Trace: level.String(), RunsTotal: spec.Runs(), Shard: shard,
		ShardRuns: shardRuns, GoVersion: runtime.Version(), Started: started,
		Parts: []string{}, Done: []PartInfo{}, Axes: []AxisInfo{},
	}
	m.ToolVersion, m.VCSRevision = buildVersion()
	for _, a := range spec.Axes {
		ai := AxisInfo{Name: a.Name, Column: a.Column}
		for _, v := range a.Values {
			ai.Values = append(ai.Values, v.JSON())
		}
		m.Axes = append(m.Axes, ai)
	}
	m.Grid = make([]GridPoint, len(spec.Points))
	for i := range spec.Points {
		p := &spec.Points[i]
		gp := GridPoint{Point: p.Index, Params: Params{}}
		for k, a := range spec.Axes {
			if p.Values[k].Kind != 0 {
				gp.Params = append(gp.Params, Param{Name: a.Name, Value: p.Values[k].JSON()})
			}
		}
		m.Grid[i] = gp
	}
	return m
}

func buildVersion() (version, revision string) {
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

// ReadManifest reads dir's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Format != manifestFormat {
		return nil, fmt.Errorf("%s: manifest format %d, this build reads %d", filepath.Join(dir, ManifestName), m.Format, manifestFormat)
	}
	if len(m.Done) != len(m.Parts) {
		return nil, fmt.Errorf("%s: %d parts but %d done entries", filepath.Join(dir, ManifestName), len(m.Parts), len(m.Done))
	}
	return &m, nil
}

// writeManifest replaces dir's manifest atomically: a crash leaves either the old or the new
// one, never a mix.
func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return trace.WriteFileAtomic(filepath.Join(dir, ManifestName), append(data, '\n'))
}

// Tables a result set may hold, each in its own folder.
const (
	tableRuns   = "runs"
	tableJoins  = "joins"
	tableEvents = "events"
	// tableOps is written at trace levels joins and messages, for parts that hold
	// operations; tables does not list it for that reason.
	tableOps = "ops"
)

// tables lists the folders a trace level writes.
func tables(l Level) []string {
	switch l {
	case LevelJoins:
		return []string{tableRuns, tableJoins}
	case LevelMessages:
		return []string{tableRuns, tableJoins, tableEvents}
	}
	return []string{tableRuns}
}

func partName(n int) string { return fmt.Sprintf("part-%06d.parquet", n) }

// partNumber parses a name made by partName.
func partNumber(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".parquet")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// cleanStrays removes what a killed sweep may have left: temporary files and parts the
// manifest does not list. Files that are neither are not ours and stay.
func cleanStrays(dir string, m *Manifest) error {
	listed := map[string]bool{}
	for _, p := range m.Parts {
		listed[p] = true
	}
	clean := func(sub string, keep func(name string) bool) error {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || keep(name) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, sub, name)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := clean("", func(name string) bool { return !strings.HasPrefix(name, ManifestName+".tmp-") }); err != nil {
		return err
	}
	for _, t := range []string{tableRuns, tableJoins, tableOps, tableEvents} {
		if err := clean(t, func(name string) bool {
			return !strings.HasPrefix(name, "part-") || listed[name]
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkParts confirms that every committed part is where the manifest says.
func checkParts(dir string, m *Manifest, level Level) error {
	for _, p := range m.Done {
		for _, t := range partTables(level, &p) {
			if _, err := os.Stat(filepath.Join(dir, t, p.Part)); err != nil {
				return fmt.Errorf("%s lists %s, which is missing: %w", filepath.Join(dir, ManifestName), filepath.Join(t, p.Part), err)
			}
		}
	}
	return nil
}

// partTables lists the folders that hold a file of a committed part.
func partTables(level Level, p *PartInfo) []string {
	ts := tables(level)
	if p.Ops > 0 {
		ts = append(ts[:len(ts):len(ts)], tableOps)
	}
	return ts
}

// doneRanges gathers the committed run ranges, sorted, and fails if any run is listed twice.
func doneRanges(parts []PartInfo) ([][2]int64, error) {
	var all [][2]int64
	for _, p := range parts {
		all = append(all, p.Runs...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i][0] < all[j][0] })
	for i := 1; i < len(all); i++ {
		if all[i][0] <= all[i-1][1] {
			return nil, fmt.Errorf("runs %d..%d are committed more than once", all[i][0], min(all[i][1], all[i-1][1]))
		}
	}
	return all, nil
}
