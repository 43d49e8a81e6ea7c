package sim

import (
	"context"

	"github.com/dhtexp/dhtexp/observe"
)

// cancelEvery is how many events a run executes between looks at its context: a look
// costs a few nanoseconds against the microseconds of 4096 events, and a run of millions
// of events still stops within milliseconds.
const cancelEvery = 4096

// RunContext is Run that gives up when ctx is done, returning ctx's error and no result. It
// looks at ctx only between events, so a run that is not cancelled is exactly Run's.
func RunContext(ctx context.Context, cfg Config, tracer observe.Tracer) (*Result, error) {
	s, err := New(cfg, tracer)
	if err != nil {
		return nil, err
	}
	return s.RunContext(ctx)
}

// RunContext is s.Run that gives up when ctx is done, as the function RunContext does; a Sim
// made by Reset runs under a context this way.
func (s *Sim) RunContext(ctx context.Context) (*Result, error) {
	// The context itself, not a closure over it: a closure cost every run of a sweep worker
	// an allocation.
	s.ctx = nil
	if ctx.Done() != nil {
		s.ctx = ctx
	}
	res := s.Run()
	s.ctx = nil
	if res == nil {
		return nil, context.Cause(ctx)
	}
	return res, nil
}
