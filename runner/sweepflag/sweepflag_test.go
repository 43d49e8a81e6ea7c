package sweepflag

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/trace"
)

func options(env map[string]string, args ...string) (opts runner.Options, from string, err error) {
	app := &cli.App{Flags: Flags(), Writer: io.Discard, ErrWriter: io.Discard,
		Action: func(c *cli.Context) error {
			opts, from, err = Options(c, "smoke", func(k string) string { return env[k] })
			return nil
		}}
	if e := app.Run(append([]string{"sweep"}, args...)); e != nil {
		return opts, from, e
	}
	return opts, from, err
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		env   map[string]string
		dir   string
		from  string
		check func(runner.Options) bool
	}{
		{nil, nil, filepath.Join("results", "smoke"), "", func(o runner.Options) bool {
			return o.Workers >= 1 && o.PartRuns == runner.DefaultPartRuns && o.Shard.Count <= 1 && !o.Resume
		}},
		{[]string{"-o", "out", "--resume", "--workers", "3", "--trace", "messages"}, nil, "out", "", func(o runner.Options) bool {
			return o.Resume && o.Workers == 3 && o.Trace == trace.LevelMessages
		}},
		{[]string{"--shard", "2/8"}, nil, filepath.Join("results", "smoke-shard-2"), "", func(o runner.Options) bool {
			return o.Shard.Index == 2 && o.Shard.Count == 8
		}},
		{[]string{"--shard", "3-of-8"}, nil, filepath.Join("results", "smoke-shard-2"), "", func(o runner.Options) bool {
			return o.Shard.Index == 2 && o.Shard.Count == 8
		}},
		{nil, map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, filepath.Join("results", "smoke-shard-1"), "SLURM_ARRAY_TASK_ID", func(o runner.Options) bool {
			return o.Shard.Index == 1 && o.Shard.Count == 4
		}},
	} {
		o, from, err := options(tc.env, tc.args...)
		if err != nil || o.Dir != tc.dir || from != tc.from || !tc.check(o) {
			t.Errorf("%v %v: got %+v from %q, %v; want dir %s from %q", tc.args, tc.env, o, from, err, tc.dir, tc.from)
		}
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workers", "0"}, "--workers must be at least 1"},
		{[]string{"--part-runs", "0"}, "--part-runs must be at least 1"},
		{[]string{"--trace", "all"}, "--trace: "},
		{[]string{"--shard", "3/3"}, "--shard: "},
	} {
		if _, _, err := options(nil, tc.args...); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error starting %q", tc.args, err, tc.want)
		}
	}
}
