package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOptionsValidate: each bad option is refused naming its flag, and the default result
// folder is named after the cluster.
func TestOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(filepath.Join(full, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := func() Options {
		return Options{Members: 3, Joiners: 2, Protocol: "predlock-retry", Bits: 16, Seed: 4, Deadline: time.Second,
			Build: "prebuilt", Timeout: time.Second, Retries: 3, LogLevel: "info", Out: filepath.Join(dir, "new")}
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"good", func(*Options) {}, ""},
		{"members", func(o *Options) { o.Members = 0 }, "--members must be at least 1"},
		{"joiners", func(o *Options) { o.Joiners = -1 }, "--joiners must not be negative"},
		{"deadline", func(o *Options) { o.Deadline = 0 }, "--deadline must be positive"},
		{"build", func(o *Options) { o.Build = "tower" }, "prebuilt or join"},
		{"protocol", func(o *Options) { o.Protocol = "nope" }, "--protocol"},
		{"timeout", func(o *Options) { o.Timeout = -time.Second }, "--timeout must be positive"},
		{"retries", func(o *Options) { o.Retries = -2 }, "--retries must be at least 1"},
		{"fit", func(o *Options) { o.Bits = 2 }, "5 nodes do not fit a 2-bit ring"},
		{"log level", func(o *Options) { o.LogLevel = "loud" }, "--log-level"},
		{"not empty", func(o *Options) { o.Out = full }, "exists and is not empty"},
	} {
		o := base()
		tc.edit(&o)
		err := o.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	o := base()
	o.Out = ""
	if err := o.Validate(); err != nil || o.Out != filepath.Join("results", "cluster-predlock-retry-m3-k2-s4") {
		t.Errorf("default folder %q (error %v)", o.Out, err)
	}
}
