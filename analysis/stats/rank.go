package stats

// NearestRank is the smallest of sorted values with at least pct percent of them at or
// below it, for pct in 0..100; -1 when there are no values. Integer arithmetic keeps the
// rank exact where q·n in floating point can land just above a whole number.
func NearestRank(sorted []int64, pct int) int64 {
	if len(sorted) == 0 {
		return -1
	}
	k := (pct*len(sorted) + 99) / 100
	return sorted[min(max(k, 1), len(sorted))-1]
}
