//go:build !unix

package trace

func processCPU() (int64, bool) { return 0, false }
