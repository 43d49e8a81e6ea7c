package trace

import (
	"os"

	"golang.org/x/sys/unix"
)

// uncache drops f's pages from the page cache once they are on disk. A sweep streams its
// tables, gigabytes of them with every event kept, and each file is read, if ever, long
// after: through the page cache they filled memory with pages the kernel then had to
// reclaim, or took fresh memory, which a virtual machine may have handed back to its host.
// Writing 11 GB of events that way cost 24 s of system time in a sweep of the concurrency
// spec, against 5.4 s with the pages of each synced file let go, since the next file
// reuses them. It is advice: an error changes nothing.
func uncache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
