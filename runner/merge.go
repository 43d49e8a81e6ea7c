package runner

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// Merge combines the result sets of a sharded sweep into one at out. It checks that the
// shards come from the same spec and trace level, that together they hold every run exactly
// once, and that each runs part holds exactly the runs its manifest says. The result set is
// built in a temporary folder next to out and renamed into place, so on error nothing is
// left at out. Part files are hard-linked where possible, copied otherwise.
func Merge(out string, dirs []string) (*trace.Manifest, error) {
	if len(dirs) == 0 {
		return nil, inputErrorf("merge: no shard folders given")
	}
	ms := make([]*trace.Manifest, len(dirs))
	for i, d := range dirs {
		m, err := readManifest(d)
		if err != nil {
			return nil, inputErrorf("merge: %s: %v", d, err)
		}
		ms[i] = m
	}
	for _, m := range ms {
		m.SpecHash = UpgradeSpecHash(m.SpecPath, m.Spec, m.SpecHash)
	}
	first := ms[0]
	level, err := first.Level()
	if err != nil {
		return nil, inputErrorf("merge: %s: %v", dirs[0], err)
	}
	for i, m := range ms {
		switch {
		case m.SpecHash != first.SpecHash:
			return nil, inputErrorf("merge: %s was written by another spec than %s (spec_hash %.12s… vs %.12s…)", dirs[i], dirs[0], m.SpecHash, first.SpecHash)
		case m.Trace != first.Trace:
			return nil, inputErrorf("merge: %s has trace level %s, %s has %s", dirs[i], m.Trace, dirs[0], first.Trace)
		case m.Shard.BlockRuns != first.Shard.BlockRuns:
			return nil, inputErrorf("merge: %s deals runs to shards in blocks of %d, %s in blocks of %d", dirs[i], m.Shard.BlockRuns, dirs[0], first.Shard.BlockRuns)
		case !m.Complete():
			return nil, inputErrorf("merge: %s (shard %d/%d) is incomplete: %d of %d runs done; finish it with --resume first", dirs[i], m.Shard.Index, m.Shard.Count, m.RunsDone(), m.ShardRuns)
		}
		if err := checkParts(dirs[i], m, level); err != nil {
			return nil, inputErrorf("merge: %v", err)
		}
	}

	// Named before the run ranges are compared: "runs 0..63 are in none of the shards" does
	// not say that the shard left out is 0/N, which is the one missed when counting from 1.
	if n := first.Shard.Count; n > 1 {
		have := make([]int, len(ms))
		for i, m := range ms {
			if m.Shard.Count != n {
				return nil, inputErrorf("merge: %s is shard %d/%d, %s is shard %d/%d: shards of different counts do not mix", dirs[i], m.Shard.Index, m.Shard.Count, dirs[0], first.Shard.Index, n)
			}
			have[i] = m.Shard.Index
		}
		if missing := MissingShards(n, have); len(missing) > 0 {
			names := make([]string, len(missing))
			for i, k := range missing {
				names[i] = Shard{k, n}.Human()
			}
			return nil, inputErrorf("merge: missing shard %s: shards count from 0, so %d shards are 0/%d..%d/%d; sweep the missing ones with --shard and merge again", strings.Join(names, ", "), n, n, n-1, n)
		}
	}

	type src struct {
		dir  string
		part trace.PartInfo
	}
	var parts []src
	for i, m := range ms {
		for _, p := range m.Done {
			if len(p.Runs) == 0 {
				continue
			}
			parts = append(parts, src{dirs[i], p})
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].part.Runs[0][0] < parts[j].part.Runs[0][0] })
	var all []trace.PartInfo
	for _, p := range parts {
		all = append(all, p.part)
	}
	ranges, err := doneRanges(all)
	if err != nil {
		return nil, inputErrorf("merge: %v", err)
	}
	var next int64
	for _, r := range ranges {
		if r[0] != next {
			return nil, inputErrorf("merge: runs %d..%d are in none of the shards", next, r[0]-1)
		}
		next = r[1] + 1
	}
	if next != first.RunsTotal {
		return nil, inputErrorf("merge: runs %d..%d are in none of the shards", next, first.RunsTotal-1)
	}
	version, versionDir := 0, ""
	for _, p := range parts {
		path := filepath.Join(p.dir, trace.TableRuns, p.part.Part)
		v, err := runsVersion(path)
		if err != nil {
			return nil, inputErrorf("merge: %v", err)
		}
		if version == 0 {
			version, versionDir = v, p.dir
		} else if v != version {
			return nil, inputErrorf("merge: %s holds runs table version %d, %s version %d: shards written by different builds do not mix", path, v, versionDir, version)
		}
		if err := checkRunIDs(path, p.part); err != nil {
			return nil, inputErrorf("merge: %v", err)
		}
		if p.part.Ops > 0 {
			if err := checkOpRunIDs(filepath.Join(p.dir, trace.TableOps, p.part.Part), p.part); err != nil {
				return nil, inputErrorf("merge: %v", err)
			}
		}
	}

	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return nil, inputErrorf("merge: output folder %s is not empty", out)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, inputErrorf("merge: output folder %s: %v", out, err)
	}
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, inputErrorf("merge: %v", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".merge-*")
	if err != nil {
		return nil, inputErrorf("merge: cannot write next to %s: %v", out, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(tmp)
		}
	}()

	m := *first
	m.Shard = trace.Shard{Index: 0, Count: 1, BlockRuns: first.Shard.BlockRuns}
	m.ShardRuns = first.RunsTotal
	m.Parts, m.Done, m.MergedFrom = []string{}, []trace.PartInfo{}, nil
	for i, s := range ms {
		if s.Started < m.Started {
			m.Started = s.Started
		}
		if s.Finished > m.Finished {
			m.Finished = s.Finished
		}
		m.MergedFrom = append(m.MergedFrom, dirs[i])
	}
	folders := level.Tables()
	if slices.ContainsFunc(parts, func(p src) bool { return p.part.Ops > 0 }) {
		folders = append(folders, trace.TableOps)
	}
	for _, t := range folders {
		if err := os.Mkdir(filepath.Join(tmp, t), 0o755); err != nil {
			return nil, err
		}
	}
	for i, p := range parts {
		name := partName(i)
		for _, t := range level.PartTables(&p.part) {
			if err := linkOrCopy(filepath.Join(p.dir, t, p.part.Part), filepath.Join(tmp, t, name)); err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
		}
		info := p.part
		info.Part = name
		m.Parts = append(m.Parts, name)
		m.Done = append(m.Done, info)
	}
	if err := trace.WriteManifest(tmp, &m); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	// An empty folder at out is replaced; anything else was refused above.
	_ = os.Remove(out)
	if err := os.Rename(tmp, out); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	trace.SyncDir(parent)
	ok = true
	return &m, nil
}

// checkRunIDs reads a runs part's run_id column and compares it with the manifest's ranges.
func checkRunIDs(path string, p trace.PartInfo) error {
	ri, want := 0, int64(-1)
	if len(p.Runs) > 0 {
		want = p.Runs[0][0]
	}
	var rows int64
	err := trace.ForEachRowGroup(path, []string{"run_id"}, func(c *trace.Chunk) error {
		for _, id := range c.Int64("run_id") {
			if ri >= len(p.Runs) || id != want {
				return fmt.Errorf("%s: row %d has run %d, the manifest says otherwise", path, rows, id)
			}
			rows++
			if want == p.Runs[ri][1] {
				ri++
				if ri < len(p.Runs) {
					want = p.Runs[ri][0]
				}
			} else {
				want++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ri != len(p.Runs) || rows != p.Rows {
		return fmt.Errorf("%s: holds %d runs, the manifest lists %d", path, rows, p.Rows)
	}
	return nil
}

// checkOpRunIDs reads an ops part's run_id column and checks that it holds as many rows as
// the manifest says, each of a run of the part, in run order.
func checkOpRunIDs(path string, p trace.PartInfo) error {
	var rows, last int64
	ri := 0
	err := trace.ForEachRowGroup(path, []string{"run_id"}, func(c *trace.Chunk) error {
		for _, id := range c.Int64("run_id") {
			for ri < len(p.Runs) && id > p.Runs[ri][1] {
				ri++
			}
			if ri == len(p.Runs) || id < p.Runs[ri][0] || id < last {
				return fmt.Errorf("%s: row %d has run %d, which the manifest does not list for this part or lists earlier", path, rows, id)
			}
			last = id
			rows++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rows != p.Ops {
		return fmt.Errorf("%s: holds %d operations, the manifest lists %d", path, rows, p.Ops)
	}
	return nil
}

// runsVersion is the schema version of a runs part.
func runsVersion(path string) (int, error) {
	s, err := runsSchema(path)
	return s.Version, err
}

// runsSchema is the schema of a runs part.
func runsSchema(path string) (trace.Schema, error) {
	r, err := trace.Open(path)
	if err != nil {
		return trace.Schema{}, err
	}
	defer r.Close()
	s := r.Schema()
	if s.Name != RunSchema.Name {
		return trace.Schema{}, fmt.Errorf("%s: schema is %s, not %s", path, s.Name, RunSchema.Name)
	}
	return s, nil
}

// sameColumns says how a file's columns differ from a schema's, if they do.
func sameColumns(file, want trace.Schema) error {
	for i, c := range want.Columns {
		switch {
		case i >= len(file.Columns):
			return fmt.Errorf("lacks column %s", c.Name)
		case file.Columns[i].Name != c.Name || file.Columns[i].Type != c.Type || file.Columns[i].Nullable != c.Nullable:
			f := file.Columns[i]
			return fmt.Errorf("has column %d %s (%s), where this build writes %s (%s)", i, f.Name, f.Type, c.Name, c.Type)
		}
	}
	if len(file.Columns) > len(want.Columns) {
		return fmt.Errorf("has column %s, which this build does not write", file.Columns[len(want.Columns)].Name)
	}
	return nil
}

func linkOrCopy(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	outf, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(outf, in); err != nil {
		outf.Close()
		return err
	}
	if err := outf.Sync(); err != nil {
		outf.Close()
		return err
	}
	return outf.Close()
}
