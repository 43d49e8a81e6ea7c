package sim

import (
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
)

func faultConfig() Config {
	c := DefaultConfig()
	c.Scenario, c.Nodes, c.Joiners, c.Timing, c.Protocol = "random", 8, 8, "async", "predlock"
	c.Horizon = 10e9
	return c
}

// Faults come from their own stream and show up in the trace; the same seed gives the same
// faults.
func TestFaultsAreTracedAndDeterministic(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		detail string
	}{
		{"loss", Faults{Loss: 0.2}, "loss"},
		{"duplicate", Faults{Duplicate: 0.3}, "duplicate"},
		{"spike", Faults{SpikeProb: 0.3, Spike: 50e6}, "spike"},
		{"crash at a time", Faults{CrashNode: "member", CrashAt: 2e6}, "crash"},
		{"crash after a step", Faults{CrashNode: "random", CrashAfter: "welcome"}, "crash"},
		{"crash and restart", Faults{CrashNode: "joiner", CrashAt: 1e6, RestartAfter: 5e6}, "restart"},
		{"partition", Faults{PartitionFraction: 0.5, PartitionAt: 1e6, HealAt: 30e6}, "heal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := faultConfig()
			c.Faults = tt.faults
			c.Seed = 5
			var log []string
			trace := observe.TracerFunc(func(e *observe.Event) {
				if e.Kind == observe.KindFault {
					log = append(log, e.Detail)
				}
			})
			if _, err := Run(c, trace); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(log, ","), tt.detail) {
				t.Fatalf("no %q fault event in %v", tt.detail, log)
			}
			first, second := hashRun(t, c), hashRun(t, c)
			if first != second {
				t.Fatal("same seed, different faulty runs")
			}
		})
	}
}

func TestCrashedNodesLeaveTheFinalCheck(t *testing.T) {
	c := faultConfig()
	c.Joiners = 1
	c.Faults = Faults{CrashNode: "joiner", CrashAt: 0}
	r, err := Run(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Crashed) != 1 || r.Joins[0].Outcome != observe.JoinCrashed || r.Outcome != observe.OutcomeOK {
		t.Fatalf("crashed=%v join=%+v outcome=%s (%s)", r.Crashed, r.Joins[0], r.Outcome, r.Detail)
	}
}

func TestFaultValidation(t *testing.T) {
	bad := []struct {
		f    Faults
		want string
	}{
		{Faults{Loss: 1.5}, "faults.loss"},
		{Faults{Loss: 1}, "loses every message"},
		{Faults{Duplicate: -0.1}, "faults.duplicate"},
		{Faults{SpikeProb: 0.1}, "faults.spike"},
		{Faults{CrashNode: "someone"}, "faults.crash_node"},
		{Faults{CrashNode: "random", CrashAfter: "hello"}, "faults.crash_after"},
		{Faults{CrashAfter: "welcome"}, "needs faults.crash_node"},
		{Faults{PartitionFraction: 0.5, PartitionAt: 10, HealAt: 5}, "heal_at"},
	}
	for _, tt := range bad {
		c := faultConfig()
		c.Faults = tt.f
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want an error about %q", tt.f, err, tt.want)
		}
	}
	c := DefaultConfig()
	c.Faults.Loss = 0.1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "async") {
		t.Errorf("faults under the seed timing model accepted: %v", err)
	}
}
