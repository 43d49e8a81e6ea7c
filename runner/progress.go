package runner

import (
	"fmt"
	"io"
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
			progressbar.OptionSetPredictTime(true),
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

func (p *progress) render() {
	done, failed := p.done.Load(), p.failed.Load()
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s (%d not ok)", p.name, failed))
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
	eta := "unknown"
	if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
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
