package stats

import "testing"

func TestNearestRank(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	for _, tc := range []struct {
		name   string
		sorted []int64
		pct    int
		want   int64
	}{
		{"empty", nil, 50, -1},
		{"one", []int64{7}, 50, 7},
		{"one p0", []int64{7}, 0, 7},
		{"two p50", []int64{1, 2}, 50, 1},
		{"two p99", []int64{1, 2}, 99, 2},
		{"three p50", []int64{1, 2, 3}, 50, 2},
		{"hundred p50", hundred, 50, 50},
		{"hundred p99", hundred, 99, 99},
		{"hundred p100", hundred, 100, 100},
		{"hundred p0", hundred, 0, 1},
		{"ten p99", []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 99, 100},
		{"ten p50", []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 50, 50},
	} {
		if got := NearestRank(tc.sorted, tc.pct); got != tc.want {
			t.Errorf("%s: NearestRank(.., %d) = %d, want %d", tc.name, tc.pct, got, tc.want)
		}
	}
}
