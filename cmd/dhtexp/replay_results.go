package main

import (
	"strconv"

	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// configFromResults rebuilds a sweep run's configuration from the spec recorded in its
// result set's manifest: the run id names the grid point and replica, and the seed follows
// from them exactly as the sweep derived it.
func configFromResults(dir, runID string) (sim.Config, error) {
	id, err := strconv.ParseInt(runID, 10, 64)
	if err != nil || id < 0 {
		return sim.Config{}, usagef("RUN_ID %q is not a run id (a non-negative integer)", runID)
	}
	m, err := trace.ReadManifest(dir)
	if err != nil {
		return sim.Config{}, usagef("%v", err)
	}
	spec, err := runner.Parse(m.SpecPath, []byte(m.Spec))
	if err != nil {
		return sim.Config{}, usagef("%s: the spec recorded in its manifest: %v", dir, err)
	}
	if id >= spec.Runs() {
		return sim.Config{}, usagef("%s has runs 0..%d; there is no run %d", dir, spec.Runs()-1, id)
	}
	p, _, seed := spec.Run(id)
	cfg := p.Config
	cfg.Seed = seed
	return cfg, nil
}
