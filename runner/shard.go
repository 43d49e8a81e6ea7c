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
	switch {
	case s.Count < 1:
		return fmt.Errorf("shard %d/%d: the shard count must be at least 1", s.Index, s.Count)
	case s.Index < 0 || s.Index >= s.Count:
		// The usual slip is counting from 1: name the valid range and both spellings of
		// the last shard, so that the fix is in the message.
		return fmt.Errorf("shard %d/%d: shards count from 0, so with %d shards the index is 0..%d (the last one is %d/%d, or %d-of-%d counting from 1)",
			s.Index, s.Count, s.Count, s.Count-1, s.Count-1, s.Count, s.Count, s.Count)
	}
	return nil
}

// Human names the shard counting from 1, for messages read next to a 1-based job array.
func (s Shard) Human() string {
	return fmt.Sprintf("%d/%d (%d-of-%d counting from 1)", s.Index, s.Count, s.Index+1, s.Count)
}

// ParseShard reads "I/N", I counting from 0 (0/3, 1/3, 2/3), or "K-of-N", K counting from 1
// (1-of-3, 2-of-3, 3-of-3). The two spellings differ so that neither can be mistaken for
// the other: a 1-based "3/3" is refused with the valid range rather than run as nothing.
func ParseShard(v string) (Shard, error) {
	if ks, ns, ok := strings.Cut(v, "-of-"); ok {
		k, err1 := strconv.Atoi(strings.TrimSpace(ks))
		n, err2 := strconv.Atoi(strings.TrimSpace(ns))
		if err1 != nil || err2 != nil {
			return Shard{}, fmt.Errorf("shard %q: want K-of-N counting from 1 (1-of-8 .. 8-of-8) or I/N counting from 0 (0/8 .. 7/8)", v)
		}
		if n < 1 || k < 1 || k > n {
			return Shard{}, fmt.Errorf("shard %q: K-of-N counts from 1, so with %d shards K is 1..%d", v, n, max(n, 1))
		}
		return Shard{k - 1, n}, nil
	}
	is, ns, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if !ok || err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N counting from 0 (0/8 .. 7/8) or K-of-N counting from 1 (1-of-8 .. 8-of-8)", v)
	}
	s := Shard{i, n}
	return s, s.validate()
}

// MissingShards lists, in order, the indexes below count that are not in have.
func MissingShards(count int, have []int) []int {
	seen := make([]bool, count)
	for _, i := range have {
		if i >= 0 && i < count {
			seen[i] = true
		}
	}
	var missing []int
	for i, ok := range seen {
		if !ok {
			missing = append(missing, i)
		}
	}
	return missing
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

// runs counts the shard's runs out of total. In closed form: a grid of billions of runs has
// tens of millions of blocks, and counting them one by one delays the sweep's start by
// seconds, during which Ctrl-C is not looked at.
func (s Shard) runs(total int64) int64 {
	blocks := (total + BlockRuns - 1) / BlockRuns
	if int64(s.Index) >= blocks {
		return 0
	}
	k := (blocks-1-int64(s.Index))/int64(s.Count) + 1 // the shard's blocks
	n := k * BlockRuns
	if last := int64(s.Index) + (k-1)*int64(s.Count); last == blocks-1 {
		n -= blocks*BlockRuns - total // the last block is short
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
	c := s.cursor(total, done)
	for u, ok := c.next(); ok && fn(u); u, ok = c.next() {
	}
}

// unitCursor hands out eachUnit's units one at a time, so that workers can take their next
// unit themselves rather than wait for a goroutine that deals them.
type unitCursor struct {
	s      Shard
	total  int64
	done   [][2]int64
	blocks int64
	b      int64 // the block being walked
	lo, hi int64 // its runs not handed out yet
	d      int   // the first range of done that may still matter
	seq    int64
}

func (s Shard) cursor(total int64, done [][2]int64) *unitCursor {
	blocks := (total + BlockRuns - 1) / BlockRuns
	c := &unitCursor{s: s, total: total, done: done, blocks: blocks, b: int64(s.Index)}
	if c.b < blocks {
		c.lo, c.hi = c.b*BlockRuns, min((c.b+1)*BlockRuns, total)
	}
	return c
}

// next returns the next unit, or false once the shard's runs are all handed out.
func (c *unitCursor) next() (unit, bool) {
	for c.b < c.blocks {
		if c.lo >= c.hi {
			c.b += int64(c.s.Count)
			if c.b < c.blocks {
				c.lo, c.hi = c.b*BlockRuns, min((c.b+1)*BlockRuns, c.total)
			}
			continue
		}
		for c.d < len(c.done) && c.done[c.d][1] < c.lo {
			c.d++
		}
		if c.d < len(c.done) && c.done[c.d][0] <= c.lo {
			c.lo = c.done[c.d][1] + 1
			continue
		}
		end := c.hi
		if c.d < len(c.done) && c.done[c.d][0] < c.hi {
			end = c.done[c.d][0]
		}
		u := unit{seq: c.seq, lo: c.lo, hi: end}
		c.seq++
		c.lo = end
		return u, true
	}
	return unit{}, false
}
