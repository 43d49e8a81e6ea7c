//go:build !unix

package sim

func processCPU() (int64, bool) { return 0, false }

func peakRSS() (int64, bool) { return 0, false }
