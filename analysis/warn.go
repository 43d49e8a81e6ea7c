package analysis

import (
	"fmt"
	"io"
)

// WarnIncomplete writes a line to w when the result set at dir lacks planned runs, and
// reports whether it does: the report and the check of a stopped sweep otherwise look like
// those of the whole experiment.
func WarnIncomplete(w io.Writer, dir string, s *Summary) bool {
	b := CompletenessOf(s).Banner()
	if b == "" {
		return false
	}
	fmt.Fprintf(w, "warning: %s is an incomplete result set: %s\n", dir, b)
	return true
}

// WarnPartialBaseline writes a line to w when the result set at dir, about to become a
// baseline, lacks some of its expected runs.
func WarnPartialBaseline(w io.Writer, dir string, s *Summary) {
	if want := s.Manifest.ExpectedRuns(); s.Runs < want {
		fmt.Fprintf(w, "warning: %s has %d of %d runs; the baseline records what is there\n", dir, s.Runs, want)
	}
}
