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
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
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
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	SyncDir(dir)
	return nil
}

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
