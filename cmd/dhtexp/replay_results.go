package main

import (
	"github.com/dhtexp/dhtexp/sim"
)

// configFromResults rebuilds a sweep run's configuration from its result set.
func configFromResults(dir, runID string) (sim.Config, error) {
	return sim.Config{}, usagef("replaying from a result set (%s run %s) needs the sweep runner", dir, runID)
}
