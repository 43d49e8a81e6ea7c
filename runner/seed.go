package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"strings"
)

const golden = 0x9e3779b97f4a7c15 // SplitMix64's increment

// mix64 is SplitMix64's output function: a bijection that spreads every input bit over the
// whole word.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// pointKey is the canonical text of a grid point: its axis values as "name=value" lines,
// sorted by name so that reordering the axes in a spec does not change it.
func pointKey(axes []Axis, values []Value) string { return axisLines(axes, values, true) }

// axisLines is pointKey, with or without the mode axis.
func axisLines(axes []Axis, values []Value, withMode bool) string {
	lines := make([]string, 0, len(axes))
	for i, a := range axes {
		if values[i].Kind != 0 && (withMode || a.Name != "mode") {
			lines = append(lines, a.Name+"="+values[i].String()+"\n")
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// pointHash identifies a grid point by its parameter values, never by its position in the
// grid, so that adding values to an axis leaves the other points' seeds alone. The mode is
// left out: the simulated and the real runs of one configuration get the same seeds, hence
// the same IDs, contacts and start times, so that the two modes are compared run by run.
func pointHash(axes []Axis, values []Value) uint64 {
	sum := sha256.Sum256([]byte(axisLines(axes, values, false)))
	return binary.LittleEndian.Uint64(sum[:8])
}

// RunSeed derives a run's seed: element replica of a SplitMix64 sequence whose start
// depends on the base seed and the point. Each run's seed is computed directly, so seeds
// do not depend on how many replicas there are or in which order runs execute.
func RunSeed(base, point uint64, replica int) uint64 {
	state := mix64(base) ^ point
	return mix64(state + uint64(replica+1)*golden)
}
