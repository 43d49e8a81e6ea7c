package runner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunConfig(t *testing.T) {
	spec, err := Load("testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "small")
	sweep(t, context.Background(), spec, Options{Dir: dir, Workers: 2})
	for _, id := range []int64{0, spec.Runs() / 2, spec.Runs() - 1} {
		cfg, err := RunConfig(dir, id)
		if err != nil {
			t.Fatal(err)
		}
		p, _, seed := spec.Run(id)
		want := p.Config
		want.Seed = seed
		if cfg != want {
			t.Errorf("run %d: %+v, want %+v", id, cfg, want)
		}
	}
	for _, tc := range []struct {
		name, dir string
		id        int64
		msg       string
	}{
		{"past the end", dir, spec.Runs(), "there is no run"},
		{"negative", dir, -1, "there is no run"},
		{"no result set", t.TempDir(), 0, "manifest"},
	} {
		if _, err := RunConfig(tc.dir, tc.id); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.msg)
		}
	}
}
