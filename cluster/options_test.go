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
		{"churn", func(o *Options) {
			o.Protocol, o.Stabilize, o.Replicas, o.Keys, o.ChurnKill, o.ChurnStart = "repair", 200*time.Millisecond, 2, 10, 4, 2
		}, ""},
		{"stabilize without repair", func(o *Options) { o.Stabilize = time.Second }, "--stabilize: protocol predlock-retry does not stabilize"},
		{"stabilize negative", func(o *Options) { o.Protocol, o.Stabilize = "repair", -time.Second }, "--stabilize must be positive"},
		{"replicas", func(o *Options) { o.Replicas = 17 }, "--replicas must be in 0..16, got 17"},
		{"keys", func(o *Options) { o.Keys = -1 }, "--keys must not be negative"},
		{"churn kill", func(o *Options) { o.Protocol, o.ChurnKill = "repair", -1 }, "--churn-kill must not be negative"},
		{"churn start", func(o *Options) { o.Protocol, o.ChurnStart = "repair", -1 }, "--churn-start must not be negative"},
		{"churn interval", func(o *Options) { o.Protocol, o.ChurnKill, o.ChurnInterval = "repair", 1, -time.Second }, "--churn-interval must not be negative"},
		{"churn settle", func(o *Options) { o.ChurnSettle = -1 }, "--churn-settle must not be negative"},
		{"churn without repair", func(o *Options) { o.ChurnKill = 1 }, "--churn-kill and --churn-start need a variant that repairs crashes (repair), not predlock-retry"},
		{"kill all", func(o *Options) { o.Protocol, o.ChurnKill = "repair", 5 }, "--churn-kill 5 would kill every one of the 5 nodes"},
		{"churn fit", func(o *Options) { o.Protocol, o.Bits, o.ChurnStart = "repair", 3, 4 }, "9 nodes do not fit a 3-bit ring"},
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
	if o.ChurnSettle != DefaultChurnSettle {
		t.Errorf("churn settle %d, want the default %d", o.ChurnSettle, DefaultChurnSettle)
	}
	// The churn's interval defaults to three stabilization periods, the variant's own
	// period when none is given.
	o.Protocol, o.ChurnKill = "repair", 1
	if got := o.interval(); got != 3*time.Second {
		t.Errorf("interval %v, want 3s", got)
	}
	o.Stabilize = 200 * time.Millisecond
	if got := o.interval(); got != 600*time.Millisecond {
		t.Errorf("interval %v, want 600ms", got)
	}
}
