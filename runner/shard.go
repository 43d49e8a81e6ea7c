package runner

import (
	"fmt"
	"strconv"
	"strings"
)

// BlockRuns is the number of consecutive run ids dealt to a shard at a time, and the unit of
// work a worker takes. Large enough that handing out work costs nothing next to the runs,
// small enough that shards get an even mix of grid points.
const BlockRuns = 64

// Shard selects a slice of an experiment: the blocks b with b mod Count == Index.
type Shard struct {
	Index, Count int
}

// Whole is the shard that holds every run.
var Whole = Shard{0, 1}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

func (s Shard) validate() error {
	if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("shard %d/%d: want 0 <= index < count", s.Index, s.Count)
	}
	return nil
}

// ParseShard reads "i/n".
func ParseShard(v string) (Shard, error) {
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want INDEX/COUNT, e.g. 2/8", v)
	}
	s := Shard{i, n}
	return s, s.validate()
}

// ShardFromEnv finds the shard a batch scheduler assigned, or Whole when there is none.
// Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX but not the completion count, which must
// then come from count (a flag) or DHTEXP_SHARDS. Slurm job arrays set SLURM_ARRAY_TASK_ID
// and SLURM_ARRAY_TASK_COUNT; SLURM_ARRAY_TASK_MIN, when set, is subtracted from the id so
// that arrays need not start at 0.
func ShardFromEnv(getenv func(string) string, count int) (Shard, string, error) {
	if count == 0 {
		if v := getenv("DHTEXP_SHARDS"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return Shard{}, "", fmt.Errorf("DHTEXP_SHARDS=%q: want a number", v)
			}
			count = n
		}
	}
	if v := getenv("JOB_COMPLETION_INDEX"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil {
			return Shard{}, "", fmt.Errorf("JOB_COMPLETION_INDEX=%q: want a number", v)
		}
		if count == 0 {
			return Shard{}, "", fmt.Errorf("JOB_COMPLETION_INDEX is set but the shard count is not: pass --shard-count or set DHTEXP_SHARDS to the Job's completions")
		}
		s := Shard{i, count}
		return s, "JOB_COMPLETION_INDEX", s.validate()
	}
	if v := getenv("SLURM_ARRAY_TASK_ID"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil {
			return Shard{}, "", fmt.Errorf("SLURM_ARRAY_TASK_ID=%q: want a number", v)
		}
		if m := getenv("SLURM_ARRAY_TASK_MIN"); m != "" {
			lo, err := strconv.Atoi(m)
			if err != nil {
				return Shard{}, "", fmt.Errorf("SLURM_ARRAY_TASK_MIN=%q: want a number", m)
			}
			i -= lo
		}
		if count == 0 {
			c := getenv("SLURM_ARRAY_TASK_COUNT")
			n, err := strconv.Atoi(c)
			if err != nil {
				return Shard{}, "", fmt.Errorf("SLURM_ARRAY_TASK_COUNT=%q: want a number", c)
			}
			count = n
		}
		s := Shard{i, count}
		return s, "SLURM_ARRAY_TASK_ID", s.validate()
	}
	if count > 1 {
		return Shard{}, "", fmt.Errorf("a shard count of %d is set but no shard index (--shard, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)", count)
	}
	return Whole, "", nil
}

// runs counts the shard's runs out of total.
func (s Shard) runs(total int64) int64 {
	blocks := (total + BlockRuns - 1) / BlockRuns
	var n int64
	for b := int64(s.Index); b < blocks; b += int64(s.Count) {
		n += min((b+1)*BlockRuns, total) - b*BlockRuns
	}
	return n
}

// unit is a batch of consecutive runs [lo, hi) that one worker executes; seq orders units
// as the writer must write them.
type unit struct {
	seq    int64
	lo, hi int64
}

// eachUnit calls fn, in run id order, with units covering the shard's runs that done
// (sorted, disjoint, inclusive ranges) does not cover, until fn returns false.
func (s Shard) eachUnit(total int64, done [][2]int64, fn func(unit) bool) {
	blocks := (total + BlockRuns - 1) / BlockRuns
	d := 0
	var seq int64
	for b := int64(s.Index); b < blocks; b += int64(s.Count) {
		lo, hi := b*BlockRuns, min((b+1)*BlockRuns, total)
		for lo < hi {
			for d < len(done) && done[d][1] < lo {
				d++
			}
			if d < len(done) && done[d][0] <= lo {
				lo = done[d][1] + 1
				continue
			}
			end := hi
			if d < len(done) && done[d][0] < hi {
				end = done[d][0]
			}
			if !fn(unit{seq: seq, lo: lo, hi: end}) {
				return
			}
			seq++
			lo = end
		}
	}
}
