package analysis

import (
	"bytes"
	"testing"

	"github.com/dhtexp/dhtexp/trace"
)

func TestWarnings(t *testing.T) {
	summary := func(runs int64) *Summary {
		m := &trace.Manifest{Seeds: 2, RunsTotal: 2, Shard: trace.Shard{Count: 1}, Finished: "2025-01-01T00:00:00Z",
			Grid: []trace.GridPoint{{Point: 0}}}
		return &Summary{Manifest: m, Runs: runs, Points: []*Point{{Index: 0, Runs: runs}}}
	}
	for _, tc := range []struct {
		runs                 int64
		incomplete, baseline string
	}{
		{2, "", ""},
		{1, "warning: res is an incomplete result set: 1 of 2 planned runs present",
			"warning: res has 1 of 2 runs; the baseline records what is there\n"},
	} {
		var w bytes.Buffer
		got := WarnIncomplete(&w, "res", summary(tc.runs))
		if got != (tc.incomplete != "") || !bytes.HasPrefix(w.Bytes(), []byte(tc.incomplete)) {
			t.Errorf("%d runs: WarnIncomplete %v, wrote %q; want %q", tc.runs, got, w.String(), tc.incomplete)
		}
		w.Reset()
		if WarnPartialBaseline(&w, "res", summary(tc.runs)); w.String() != tc.baseline {
			t.Errorf("%d runs: WarnPartialBaseline wrote %q, want %q", tc.runs, w.String(), tc.baseline)
		}
	}
}
