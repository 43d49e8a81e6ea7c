//go:build unix

package sim

import "syscall"

// processCPU returns the CPU time used by the process so far, in ns, so that
// benchmarks can report CPU cost per run: on a shared machine wall time
// says more about the neighbours than about the code.
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

// peakRSS returns the process's peak resident set size so far, in bytes (Linux reports
// ru_maxrss in KiB).
func peakRSS() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return int64(ru.Maxrss) * 1024, true
}
