package runner

import (
	"slices"
	"testing"
)

// TestUnitSize: sweeps of at least 16 blocks keep block-sized units; smaller ones are cut so
// that there are about 16 units to share among the workers, and never an empty one.
func TestUnitSize(t *testing.T) {
	for _, tc := range []struct{ runs, want int64 }{
		{108_000, BlockRuns}, {16 * BlockRuns, BlockRuns}, {16*BlockRuns - 1, BlockRuns - 1},
		{54, 3}, {16, 1}, {3, 1}, {0, 1},
	} {
		if got := unitSize(tc.runs); got != tc.want {
			t.Errorf("unitSize(%d) = %d, want %d", tc.runs, got, tc.want)
		}
	}
}

// TestUnitQueueTail: the units of a shard cover its runs in order, once each; a shard of
// at least 16 blocks deals its last two blocks in eighths and the rest in whole blocks,
// and a smaller one deals every unit at the same size.
func TestUnitQueueTail(t *testing.T) {
	for _, tc := range []struct {
		shard Shard
		total int64
		done  [][2]int64
		tail  bool
	}{
		{Whole, 108_000, nil, true},
		{Shard{0, 10}, 108_000, nil, true},
		{Shard{9, 10}, 108_000, nil, true},
		{Shard{3, 7}, 108_000 - 5, nil, true}, // the total's last block is short
		{Shard{9, 10}, 108_000, [][2]int64{{0, 50_000}, {107_900, 107_950}}, true},
		{Whole, 16*BlockRuns - 1, nil, false},
		{Shard{1, 3}, 1000, nil, false},
	} {
		q := newUnitQueue(tc.shard, tc.total, tc.done)
		var want []int64 // the shard's runs, less those done
		tc.shard.eachUnit(tc.total, tc.done, func(u unit) bool {
			for id := u.lo; id < u.hi; id++ {
				want = append(want, id)
			}
			return true
		})
		// The shard's last two blocks, whether done or not.
		var shardBlocks []int64
		tc.shard.eachUnit(tc.total, nil, func(u unit) bool {
			shardBlocks = append(shardBlocks, u.lo/BlockRuns)
			return true
		})
		shardBlocks = slices.Compact(shardBlocks)
		tailBlocks := shardBlocks[len(shardBlocks)-2:]
		var got, lastBlocks []int64
		for seq := int64(0); ; seq++ {
			u, ok := q.take()
			if !ok {
				break
			}
			if u.seq != seq || u.hi <= u.lo {
				t.Fatalf("%v of %d: unit %+v after %d units", tc.shard, tc.total, u, seq)
			}
			for id := u.lo; id < u.hi; id++ {
				got = append(got, id)
			}
			size, wantSize := u.hi-u.lo, unitSize(tc.shard.runs(tc.total))
			if tc.tail && slices.Contains(tailBlocks, u.lo/BlockRuns) {
				wantSize = BlockRuns / tailSplit
				lastBlocks = append(lastBlocks, u.lo/BlockRuns)
			}
			// A unit ends early only where the shard's runs do: at a block's end or a done range.
			if size > wantSize || size < wantSize && u.hi%BlockRuns != 0 && u.hi != tc.total && !doneAt(tc.done, u.hi) {
				t.Errorf("%v of %d: unit [%d, %d) has %d runs, want %d", tc.shard, tc.total, u.lo, u.hi, size, wantSize)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v of %d: units cover %d runs, want the shard's %d in order", tc.shard, tc.total, len(got), len(want))
		}
		if distinct := len(slices.Compact(lastBlocks)); tc.tail && distinct != 2 || !tc.tail && distinct != 0 {
			t.Errorf("%v of %d: the tail's units span %d blocks, want %d", tc.shard, tc.total, distinct, map[bool]int{true: 2}[tc.tail])
		}
	}
}

// doneAt reports whether run id is the first of a done range.
func doneAt(done [][2]int64, id int64) bool {
	for _, d := range done {
		if d[0] == id {
			return true
		}
	}
	return false
}
