package runner

import (
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress reports a sweep's progress on w: a progress bar when w is a terminal, otherwise
// a plain line every interval, which suits log files and batch schedulers. Counts are
// published through atomics and drawn by a goroutine of its own, so reporting costs the
// writer nothing.
func NewProgress(w io.Writer, name string, terminal bool, interval time.Duration) Progress {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &progress{w: w, name: name, terminal: terminal, interval: interval}
}

type progress struct {
	w        io.Writer
	name     string
	terminal bool
	interval time.Duration

	total, skipped int64
	done, failed   atomic.Int64
	start          time.Time
	samples        []sample // recent (time, done) pairs for the plain lines' rate
	etaMu          sync.Mutex
	eta            etaEstimator // nil toGo: no plan, the ETA comes from the rate
	bar            *progressbar.ProgressBar
	stop           chan struct{}
	wg             sync.WaitGroup
}

func (p *progress) Start(total, skipped int64) {
	p.total, p.skipped, p.start = total, skipped, time.Now()
	if skipped > 0 {
		fmt.Fprintf(p.w, "%s: %d of %d runs already done, %d to go\n", p.name, skipped, total, total-skipped)
	}
	if skipped == total {
		return
	}
	every := p.interval
	if p.terminal {
		every = 200 * time.Millisecond
		p.bar = progressbar.NewOptions64(total-skipped,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("runs"),
			// The bar's own prediction counts runs, which differ in cost by orders of
			// magnitude between grid points; the description carries etaEstimator's.
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.render()
			case <-p.stop:
				return
			}
		}
	}()
}

func (p *progress) Update(done, failed int64) {
	p.done.Store(done)
	p.failed.Store(failed)
}

// Plan implements PointProgress.
func (p *progress) Plan(toGo []int64, keys [][]string) {
	p.etaMu.Lock()
	defer p.etaMu.Unlock()
	p.eta.plan(toGo, keys)
}

// Ran implements PointProgress.
func (p *progress) Ran(point int, runs int64, wall time.Duration) {
	p.etaMu.Lock()
	defer p.etaMu.Unlock()
	p.eta.ran(point, runs, wall)
}

// etaString is the estimated time left, or "" when there is no estimate yet; planned tells
// whether Plan was called.
func (p *progress) etaString(now time.Time) (eta string, planned bool) {
	p.etaMu.Lock()
	defer p.etaMu.Unlock()
	d, ok := p.eta.estimate(now, now.Sub(p.start))
	if !ok {
		return "", p.eta.toGo != nil
	}
	return d.Round(time.Second).String(), true
}

func (p *progress) render() {
	done, failed := p.done.Load(), p.failed.Load()
	if p.bar != nil {
		desc := fmt.Sprintf("%s (%d not ok)", p.name, failed)
		if eta, _ := p.etaString(time.Now()); eta != "" {
			desc = fmt.Sprintf("%s (%d not ok, ETA %s)", p.name, failed, eta)
		}
		p.bar.Describe(desc)
		_ = p.bar.Set64(done)
		return
	}
	fmt.Fprintln(p.w, p.line(done, failed))
}

type sample struct {
	at   time.Time
	done int64
}

// rateWindow is how far back the plain lines' rate looks. Grids often put their costly
// points last, so the rate since the start would promise an early end.
const rateWindow = time.Minute

// line is the plain progress report.
func (p *progress) line(done, failed int64) string {
	now := time.Now()
	p.samples = append(p.samples, sample{now, done})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= rateWindow {
		p.samples = p.samples[1:]
	}
	from := sample{p.start, 0}
	if now.Sub(p.start) > rateWindow && len(p.samples) > 1 {
		from = p.samples[0]
	}
	rate := float64(done-from.done) / now.Sub(from.at).Seconds()
	left := p.total - p.skipped - done
	eta, planned := p.etaString(now)
	switch {
	case eta != "":
	case left == 0:
		eta = "0s"
	case rate > 0 && !planned:
		// Without a plan per grid point (a Progress driven by hand), the rate is all there is.
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	default:
		eta = "unknown"
	}
	return fmt.Sprintf("%s: %d/%d runs (%.1f%%), %.0f runs/s, %d not ok, ETA %s",
		p.name, p.skipped+done, p.total, 100*float64(p.skipped+done)/float64(max(p.total, 1)), rate, failed, eta)
}

func (p *progress) Finish(interrupted bool) {
	if p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	done, failed := p.done.Load(), p.failed.Load()
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s (%d not ok)", p.name, failed))
		_ = p.bar.Set64(done)
		if !interrupted {
			_ = p.bar.Finish()
		}
		fmt.Fprintln(p.w)
		return
	}
	fmt.Fprintln(p.w, p.line(done, failed))
}

// PointProgress is a Progress that also learns the plan and cost of each grid point, from
// which it estimates the time left. Sweep calls Plan once after Start, and Ran, from the
// goroutine that calls Update, before each Update.
type PointProgress interface {
	Progress
	// Plan gives the runs still to do of each grid point, and its axis values (one string
	// per axis), by which a point not seen yet is likened to those seen.
	Plan(toGo []int64, keys [][]string)
	// Ran says that runs more runs of a grid point are done, which took wall in all.
	Ran(point int, runs int64, wall time.Duration)
}

// etaSmoothing is the time constant of the ETA's exponential smoothing when the estimate
// grows: long enough that one slow unit does not swing it, short enough that the cost of a
// newly seen grid point shows within half a minute. It shrinks four times faster.
const etaSmoothing = 10 * time.Second

// etaEstimator estimates a sweep's time left from the work left at each grid point. Runs of
// one grid point cost alike, while grid points differ by orders of magnitude (a run of 256
// simultaneous joiners costs a thousand of a lone joiner's), so the runs left are priced at
// the mean wall time per run of their own grid point. A point not seen yet is priced by a
// model fitted to the points seen, the log of a run's price being a sum of one effect per
// axis value (without axis values, at the mean over the points seen). Wall time is summed
// over workers; it becomes time left at the rate the sweep has been accumulating it.
type etaEstimator struct {
	toGo []int64    // runs not yet done, per grid point
	keys [][]string // axis values, per grid point
	runs []int64    // runs done by this sweep, per grid point
	wall []float64  // their wall time in seconds, per grid point
	// mu and effects model the log price of a run (fit), valid until another point is first
	// seen.
	mu          float64
	effects     []map[string]float64
	priorsValid bool
	// costSum is the sum, and seen the number, of the per-run costs of the points seen.
	costSum  float64
	seen     int
	wallDone float64 // seconds of wall time of every run done

	smoothed float64 // seconds left, smoothed
	at       time.Time
	has      bool
}

// maxLikenPoints bounds the grids whose unseen points are priced by their axis values: a fit
// costs backfitRounds × points × axes², at most once per progress report.
const maxLikenPoints = 2048

func (e *etaEstimator) plan(toGo []int64, keys [][]string) {
	e.toGo = append([]int64(nil), toGo...)
	e.runs = make([]int64, len(toGo))
	e.wall = make([]float64, len(toGo))
	if len(keys) == len(toGo) && len(toGo) <= maxLikenPoints {
		e.keys = keys
	}
}

// backfitRounds is how often fit sweeps over the axes: enough for the effects of a grid seen
// in part, whose seen points do not balance one axis's values against another's, to settle.
const backfitRounds = 8

// prior prices a run of unseen point p, given the mean price over the points seen.
func (e *etaEstimator) prior(p int, mean float64) float64 {
	if e.keys == nil {
		return mean
	}
	if !e.priorsValid {
		e.fit()
		e.priorsValid = true
	}
	if e.effects == nil {
		return mean
	}
	lc := e.mu
	for a, v := range e.keys[p] {
		if a < len(e.effects) {
			lc += e.effects[a][v] // 0 for a value not seen
		}
	}
	return math.Exp(lc)
}

// fit models the log of a run's price at the points seen as a sum of one effect per axis
// value (main effects, fitted by backfitting): a point not seen yet is priced by its own
// axis values, so that the joiner count that makes the first variant's last points dear
// makes the next variant's dear as well.
func (e *etaEstimator) fit() {
	var seen []int
	var y []float64
	for q, r := range e.runs {
		if r > 0 && e.wall[q] > 0 {
			seen = append(seen, q)
			y = append(y, math.Log(e.wall[q]/float64(r)))
		}
	}
	e.mu, e.effects = 0, nil
	if len(seen) == 0 {
		return
	}
	for _, v := range y {
		e.mu += v
	}
	e.mu /= float64(len(y))
	axes := len(e.keys[seen[0]])
	e.effects = make([]map[string]float64, axes)
	for a := range e.effects {
		e.effects[a] = map[string]float64{}
	}
	sum, n := map[string]float64{}, map[string]int{}
	for range backfitRounds {
		for a := range axes {
			clear(sum)
			clear(n)
			for i, q := range seen {
				r := y[i] - e.mu
				for b, v := range e.keys[q] {
					if b != a && b < axes {
						r -= e.effects[b][v]
					}
				}
				if a < len(e.keys[q]) {
					sum[e.keys[q][a]] += r
					n[e.keys[q][a]]++
				}
			}
			for v, t := range sum {
				e.effects[a][v] = t / float64(n[v])
			}
		}
	}
}

func (e *etaEstimator) ran(point int, runs int64, wall time.Duration) {
	if point < 0 || point >= len(e.toGo) || runs <= 0 {
		return
	}
	w := wall.Seconds()
	if e.runs[point] > 0 {
		e.costSum -= e.wall[point] / float64(e.runs[point])
	} else {
		e.seen++
		e.priorsValid = false
	}
	e.runs[point] += runs
	e.wall[point] += w
	e.costSum += e.wall[point] / float64(e.runs[point])
	e.toGo[point] = max(e.toGo[point]-runs, 0)
	e.wallDone += w
}

// estimate returns the smoothed time left at now, elapsed into the sweep; false until the
// first runs are done.
func (e *etaEstimator) estimate(now time.Time, elapsed time.Duration) (time.Duration, bool) {
	if e.seen == 0 || e.wallDone <= 0 || elapsed <= 0 {
		return 0, false
	}
	mean := e.costSum / float64(e.seen)
	var work float64
	for p, n := range e.toGo {
		if n == 0 {
			continue
		}
		var cost float64
		if e.runs[p] > 0 {
			cost = e.wall[p] / float64(e.runs[p])
		} else {
			cost = e.prior(p, mean)
		}
		work += float64(n) * cost
	}
	// Wall time accumulated per second of the sweep: the workers' effective parallelism.
	speed := e.wallDone / elapsed.Seconds()
	raw := work / speed
	if !e.has || work == 0 {
		e.smoothed, e.at, e.has = raw, now, true
		return seconds(raw), true
	}
	// The previous estimate, aged by the time since, moves toward the new one by a share
	// that depends on that time, so that the estimate does not depend on how often it is
	// asked for.
	dt := now.Sub(e.at).Seconds()
	aged := max(e.smoothed-dt, 0)
	tau := etaSmoothing.Seconds()
	if raw < aged {
		// Dear points priced before they were seen often turn out cheap; an estimate that
		// is too long is corrected sooner than one that is too short is let to grow.
		tau /= 4
	}
	alpha := 1 - math.Exp(-dt/tau)
	e.smoothed, e.at = aged+alpha*(raw-aged), now
	return seconds(e.smoothed), true
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
