package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// readManifest reads dir's manifest for resuming or merging, which need to know what each
// part holds: a manifest without a done list is refused.
func readManifest(dir string) (*trace.Manifest, error) {
	m, err := trace.ReadManifest(dir)
	if err == nil && m.Done == nil && len(m.Parts) > 0 {
		err = fmt.Errorf("%s: field done is missing: the runs of each part are not known", filepath.Join(dir, trace.ManifestName))
	}
	return m, err
}

func newManifest(spec *Spec, level trace.Level, shard trace.Shard, shardRuns int64, started string) (*trace.Manifest, error) {
	m := &trace.Manifest{
		Format: trace.ManifestFormat, Experiment: spec.Name, Description: spec.Description,
		SpecPath: spec.Path, Spec: spec.Text, SpecHash: spec.Hash, Seeds: spec.Seeds,
		BaseSeed: spec.BaseSeed, Trace: level.String(), RunsTotal: spec.Runs(), Shard: shard,
		ShardRuns: shardRuns, GoVersion: runtime.Version(), Started: started,
		Parts: []string{}, Done: []trace.PartInfo{}, Axes: []trace.Axis{},
	}
	m.ToolVersion, m.VCSRevision = trace.BuildVersion()
	for _, a := range spec.Axes {
		ai := trace.Axis{Name: a.Name, Column: a.Column, Values: []trace.Value{}}
		for _, v := range a.Values {
			tv, err := trace.ValueOf(v.JSON())
			if err != nil {
				return nil, fmt.Errorf("axis %s: %w", a.Name, err)
			}
			ai.Values = append(ai.Values, tv)
		}
		m.Axes = append(m.Axes, ai)
	}
	m.Grid = make([]trace.GridPoint, len(spec.Points))
	for i := range spec.Points {
		p := &spec.Points[i]
		gp := trace.GridPoint{Point: p.Index, Params: trace.Params{}}
		for k, a := range spec.Axes {
			if p.Values[k].Kind != 0 {
				tv, err := trace.ValueOf(p.Values[k].JSON())
				if err != nil {
					return nil, fmt.Errorf("axis %s: %w", a.Name, err)
				}
				gp.Params = append(gp.Params, trace.Param{Name: a.Name, Value: tv})
			}
		}
		m.Grid[i] = gp
	}
	return m, nil
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
func cleanStrays(dir string, m *trace.Manifest) error {
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
	if err := clean("", func(name string) bool { return !trace.IsManifestTemp(name) }); err != nil {
		return err
	}
	for _, t := range []string{trace.TableRuns, trace.TableJoins, trace.TableOps, trace.TableEvents} {
		if err := clean(t, func(name string) bool {
			return !strings.HasPrefix(name, "part-") || listed[name]
		}); err != nil {
			return err
		}
	}
	return nil
}

// checkParts confirms that every committed part is where the manifest says.
func checkParts(dir string, m *trace.Manifest, level trace.Level) error {
	for _, p := range m.Done {
		for _, t := range level.PartTables(&p) {
			if _, err := os.Stat(filepath.Join(dir, t, p.Part)); err != nil {
				return fmt.Errorf("%s lists %s, which is missing: %w", filepath.Join(dir, trace.ManifestName), filepath.Join(t, p.Part), err)
			}
		}
	}
	return nil
}

// doneRanges gathers the committed run ranges, sorted, and fails if any run is listed twice.
func doneRanges(parts []trace.PartInfo) ([][2]int64, error) {
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

// CanonicalSpecHashes brings the spec hash a result set's manifest records, and each hash
// in others (a baseline's), to this build's hash of the parsed spec, so that those
// recorded by earlier builds, which hashed the spec file's bytes, compare by meaning too.
// A baseline records no spec text; one with the file hash of the result set's spec text
// was made from that very spec.
func CanonicalSpecHashes(m *trace.Manifest, others ...*string) {
	for _, h := range others {
		*h = UpgradeSpecHash(m.SpecPath, m.Spec, *h)
	}
	m.SpecHash = UpgradeSpecHash(m.SpecPath, m.Spec, m.SpecHash)
}
