package analysis

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// InputError is an error caused by the input rather than by this program
// or the machine: a folder that is not a result set, an unreadable part, a
// baseline that does not fit. Path names the file or folder concerned.
type InputError struct {
	Path string
	Err  error
}

func (e *InputError) Error() string {
	msg := e.Err.Error()
	if e.Path == "" || strings.Contains(msg, e.Path) {
		return msg
	}
	return e.Path + ": " + msg
}

func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(path, format string, args ...any) error {
	return &InputError{Path: path, Err: fmt.Errorf(format, args...)}
}

// IsInputError reports whether err is, or wraps, an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// ResultSet is an opened result set folder: its manifest and the paths of
// its parts, sorted by name.
type ResultSet struct {
	Dir      string
	Manifest *trace.Manifest
	Runs     []string
	Joins    []string
	Events   []string
	// Ops are the DHT operation tables (schema dhtexp.ops), if any; see
	// findOps for where they are looked for.
	Ops []string
}

// Load opens and analyses the result set in dir.
func Load(dir string, opts Options) (*Summary, error) {
	rs, err := Open(dir)
	if err != nil {
		return nil, err
	}
	return Analyze(rs, opts)
}

// Open reads dir/manifest.json and lists the parts of each table. It
// checks that the folder is a result set and that the manifest is usable,
// but reads no Parquet data; Analyze does that.
func Open(dir string) (*ResultSet, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, inputErrorf(dir, "no such result set folder")
	}
	if err != nil {
		return nil, &InputError{Path: dir, Err: err}
	}
	if !st.IsDir() {
		return nil, inputErrorf(dir, "not a result set: not a folder")
	}
	m, err := trace.ReadManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, inputErrorf(dir, "not a result set: no %s", trace.ManifestName)
	}
	if err != nil {
		return nil, &InputError{Path: filepath.Join(dir, trace.ManifestName), Err: err}
	}
	rs := &ResultSet{Dir: dir, Manifest: m}
	// Early manifests have no parts field: their parts are whatever files are present.
	listed := m.Parts != nil
	if listed {
		err = rs.listedParts()
	} else {
		err = rs.globParts()
	}
	if err != nil {
		return nil, err
	}
	if len(rs.Runs) == 0 {
		return nil, inputErrorf(filepath.Join(dir, trace.TableRuns), "no part-*.parquet files listed in manifest.json or present: not a result set, or the sweep has committed no runs yet")
	}
	if rs.Ops, err = rs.findOps(listed); err != nil {
		return nil, err
	}
	return rs, nil
}

// findOps lists the ops tables. They are expected under ops/ with the part
// names the manifest lists, as joins are; a part whose runs had no workload
// has none, so a listed part without one is not an error. The
// finder also takes, so that another naming still works, every *.parquet
// under ops/ when the manifest lists no parts or none of its part names is
// there, and ops.parquet or ops-*.parquet in the result set folder itself.
// Reading the same run's operations from two files is refused (Analyze
// checks), so a wider net cannot count anything twice.
func (rs *ResultSet) findOps(listed bool) ([]string, error) {
	dir := filepath.Join(rs.Dir, trace.TableOps)
	var found []string
	if listed {
		for _, p := range rs.Manifest.Parts {
			path := filepath.Join(dir, filepath.Base(p))
			if _, err := os.Stat(path); err == nil {
				found = append(found, path)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, &InputError{Path: path, Err: err}
			}
		}
	}
	if len(found) == 0 {
		all, err := listFiles(dir, "", ".parquet")
		if err != nil {
			return nil, err
		}
		found = all
	}
	top, err := listFiles(rs.Dir, "ops", ".parquet")
	if err != nil {
		return nil, err
	}
	for _, p := range top {
		if b := filepath.Base(p); b == "ops.parquet" || strings.HasPrefix(b, "ops-") {
			found = append(found, p)
		}
	}
	return found, nil
}

// listedParts takes the parts the manifest lists. The manifest is the
// commit point of a sweep: a part file it does not list is left over from
// an interrupted sweep and is not part of the result set, while a listed
// part that is missing means an incomplete copy or merge.
func (rs *ResultSet) listedParts() error {
	// ReadManifest has checked the level.
	level, _ := rs.Manifest.Level()
	want := level.Tables()
	for _, p := range rs.Manifest.Parts {
		name := filepath.Base(p)
		for _, t := range []struct {
			table string
			dst   *[]string
		}{{trace.TableRuns, &rs.Runs}, {trace.TableJoins, &rs.Joins}, {trace.TableEvents, &rs.Events}} {
			path := filepath.Join(rs.Dir, t.table, name)
			_, err := os.Stat(path)
			required := slices.Contains(want, t.table)
			switch {
			case err == nil:
				*t.dst = append(*t.dst, path)
			case errors.Is(err, fs.ErrNotExist) && !required:
			case errors.Is(err, fs.ErrNotExist):
				return inputErrorf(path, "listed in manifest.json but missing")
			default:
				return &InputError{Path: path, Err: err}
			}
		}
	}
	return nil
}

// globParts takes every part file present, for result sets whose manifest
// does not list its parts.
func (rs *ResultSet) globParts() error {
	var err error
	for _, t := range []struct {
		name string
		dst  *[]string
	}{{trace.TableRuns, &rs.Runs}, {trace.TableJoins, &rs.Joins}, {trace.TableEvents, &rs.Events}} {
		if *t.dst, err = listParts(filepath.Join(rs.Dir, t.name)); err != nil {
			return err
		}
	}
	return nil
}

func listParts(dir string) ([]string, error) { return listFiles(dir, "part-", ".parquet") }

// listFiles lists the files in dir whose names have the prefix and suffix,
// sorted; a missing dir holds none. Temporary files (name.tmp-random) do not
// end in .parquet and are never taken.
func listFiles(dir, prefix, suffix string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &InputError{Path: dir, Err: err}
	}
	var parts []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		parts = append(parts, filepath.Join(dir, name))
	}
	sort.Strings(parts)
	return parts, nil
}
