package trace

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages counts the pages of the file at path that are in the page cache.
func residentPages(t *testing.T, path string) (resident, pages int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	vec := make([]byte, (len(data)+os.Getpagesize()-1)/os.Getpagesize())
	// x/sys has no wrapper for mincore(2).
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(data))), uintptr(len(data)),
		uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident, len(vec)
}

// A closed file leaves the page cache: the pages it wrote are no longer resident, while
// those of a file written and synced as usual are.
func TestCloseLeavesPageCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary folder is in memory (tmpfs), whose pages are the files")
	}
	path := filepath.Join(dir, "events.parquet")
	ew, err := CreateEvents(path, ClockVirtual, Options{})
	if err != nil {
		t.Fatal(err)
	}
	events := genEvents(1<<17, 7)
	for i := range events {
		if err := ew.WriteEvent(&events[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if resident, pages := residentPages(t, path); pages < 64 || resident > pages/8 {
		t.Errorf("%d of the closed file's %d pages are in the page cache", resident, pages)
	}

	// The control: the same bytes written and synced without the advice stay cached, so
	// the check above can fail.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if resident, pages := residentPages(t, plain); resident < pages/2 {
		t.Skipf("a file written without the advice has only %d of %d pages cached: the page cache cannot be observed here", resident, pages)
	}
}
