package stressflag

import (
	"io"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/stress"
)

func read(args ...string) (b stress.Bounds, o stress.Options, err error) {
	app := &cli.App{Flags: Flags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error { b, o, err = Read(c); return nil }}
	if e := app.Run(append([]string{"stress"}, args...)); e != nil {
		return b, o, e
	}
	return b, o, err
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(stress.Bounds, stress.Options) bool
	}{
		{nil, func(b stress.Bounds, o stress.Options) bool {
			return b == stress.DefaultBounds("predlock") && o.First == 1 && o.Count == 10_000 && o.ShardCount == 1 && o.MaxFailures == 20
		}},
		// The default leavers are only for variants that can leave.
		{[]string{"--protocol", "seed"}, func(b stress.Bounds, _ stress.Options) bool { return b.MaxLeavers == 0 }},
		{[]string{"--faults", "--seeds", "5", "--first-seed", "9", "--shard", "1/4"}, func(b stress.Bounds, o stress.Options) bool {
			return b.Faults && o.Count == 5 && o.First == 9 && o.ShardIndex == 1 && o.ShardCount == 4
		}},
		// --churn takes the churn defaults for the bounds it does not set.
		{[]string{"--protocol", "repair", "--churn"}, func(b stress.Bounds, _ stress.Options) bool {
			d := stress.DefaultChurnBounds("repair")
			return b.Churn && b.MinNodes == d.MinNodes && b.MaxNodes == d.MaxNodes && b.MaxDelay == d.MaxDelay &&
				b.MinReplicas == 2 && b.MaxReplicas == 4 && b.CrashGuard == stress.DefaultCrashGuard
		}},
		{[]string{"--protocol", "repair", "--churn", "--crash-guard", "0", "--max-replicas", "2", "--max-nodes", "16"}, func(b stress.Bounds, _ stress.Options) bool {
			return b.Churn && b.CrashGuard == 0 && b.MaxReplicas == 2 && b.MaxNodes == 16
		}},
	} {
		if b, o, err := read(tc.args...); err != nil || !tc.check(b, o) {
			t.Errorf("%v: got %+v %+v, %v", tc.args, b, o, err)
		}
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "nope"}, "--protocol"},
		{[]string{"--protocol", "seed", "--max-leavers", "2"}, "--max-leavers"},
		{[]string{"--max-nodes", "0"}, "--max-nodes"},
		{[]string{"--seeds", "0"}, "--seeds must be at least 1"},
		{[]string{"--workers", "0"}, "--workers must be at least 1"},
		{[]string{"--max-failures", "0"}, "--max-failures must be at least 1"},
		{[]string{"--shard", "3/3"}, "--shard: "},
		{[]string{"--crash-guard", "4"}, "--crash-guard needs --churn"},
		{[]string{"--protocol", "repair", "--churn", "--max-joiners", "3"}, "--max-joiners: a churn swarm"},
		{[]string{"--protocol", "repair", "--churn", "--crash-guard", "-1"}, "--crash-guard must not be negative"},
		{[]string{"--protocol", "repair", "--churn", "--min-replicas", "5"}, "--min-replicas"},
		{[]string{"--protocol", "repair", "--churn", "--max-delay", "50ms"}, "--max-delay"},
		{[]string{"--protocol", "repair", "--churn", "--faults"}, "--faults"},
		{[]string{"--protocol", "seed", "--churn"}, "--churn: protocol"},
	} {
		if _, _, err := read(tc.args...); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error starting %q", tc.args, err, tc.want)
		}
	}
}
