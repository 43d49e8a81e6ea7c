package runner

import (
	"fmt"
	"strconv"

	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// RunConfig rebuilds the configuration of run id of the result set in dir from the spec
// its manifest records: the id names the grid point and replica, and the seed follows
// from them exactly as the sweep derived it.
func RunConfig(dir string, id int64) (sim.Config, error) {
	m, err := trace.ReadManifest(dir)
	if err != nil {
		return sim.Config{}, err
	}
	spec, err := Parse(m.SpecPath, []byte(m.Spec))
	if err != nil {
		return sim.Config{}, fmt.Errorf("%s: the spec recorded in its manifest: %w", dir, err)
	}
	if id < 0 || id >= spec.Runs() {
		return sim.Config{}, fmt.Errorf("%s has runs 0..%d; there is no run %d", dir, spec.Runs()-1, id)
	}
	p, _, seed := spec.Run(id)
	cfg := p.Config
	cfg.Seed = seed
	return cfg, nil
}

// RunConfigArg is RunConfig of a run id as written on a command line.
func RunConfigArg(dir, id string) (sim.Config, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		return sim.Config{}, fmt.Errorf("RUN_ID %q is not a run id (a non-negative integer)", id)
	}
	return RunConfig(dir, n)
}
