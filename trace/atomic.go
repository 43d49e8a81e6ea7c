package trace

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that path only ever holds a complete file: it
// writes a temporary file in the same folder, syncs it, renames it into place and syncs the
// folder. On error nothing is left at path that was not there before. Manifests, baselines
// and diagrams use it; Parquet files get the same treatment from Writer.Close.
func WriteFileAtomic(path string, data []byte) error {
	st, err := StageFile(path, data)
	if err != nil {
		return err
	}
	return st.Commit()
}

// Staged is a file written and synced under a temporary name beside its path, waiting to be
// renamed into place. Staging is the slow half of WriteFileAtomic (the data's sync), so a
// caller can do it while it completes the files that path must not name before they exist.
type Staged struct {
	tmp, path string
}

// StageFile writes and syncs data under a temporary name beside path. Commit puts it at
// path; Discard removes it. On error nothing is left behind.
func StageFile(path string, data []byte) (*Staged, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes files private; a result file is as readable as any other.
		err = os.Chmod(tmp, 0o644)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	return &Staged{tmp: tmp, path: path}, nil
}

// Commit renames the staged file into place and syncs its folder.
func (s *Staged) Commit() error {
	if err := os.Rename(s.tmp, s.path); err != nil {
		_ = os.Remove(s.tmp)
		return err
	}
	SyncDir(filepath.Dir(s.path))
	return nil
}

// Discard removes the staged file.
func (s *Staged) Discard() { _ = os.Remove(s.tmp) }

// SyncDir persists renames in dir. Not every filesystem can sync a directory, so failure is
// ignored: the rename itself is what makes a file appear whole.
func SyncDir(dir string) {
	if dir == "" {
		dir = "."
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
