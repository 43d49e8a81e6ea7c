package node

import (
	"strings"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// TestSettings: each bad setting is refused naming its flag; good ones build the Config.
func TestSettings(t *testing.T) {
	base := func() Settings {
		return Settings{Listen: "127.0.0.1:0", Protocol: "predlock-retry", Bits: 16, ID: -1,
			Timeout: time.Second, Retries: 3, HopBudget: 64, OpTimeout: time.Second}
	}
	for _, tc := range []struct {
		name string
		edit func(*Settings)
		want string // an error containing this; empty: no error
	}{
		{"defaults", func(*Settings) {}, ""},
		{"member", func(s *Settings) {
			s.ID, s.Left, s.Right, s.LeftGiven, s.RightGiven = 5, "1@127.0.0.1:1", "9@127.0.0.1:2", true, true
		}, ""},
		{"no host", func(s *Settings) { s.Listen = ":7000" }, "with a host"},
		{"left alone", func(s *Settings) { s.Left, s.LeftGiven = "1@127.0.0.1:1", true }, "--left and --right go together"},
		{"empty left", func(s *Settings) { s.ID, s.LeftGiven, s.Right, s.RightGiven = 3, true, "2@127.0.0.1:2", true }, "--left"},
		{"member without id", func(s *Settings) {
			s.Left, s.Right, s.LeftGiven, s.RightGiven = "1@127.0.0.1:1", "2@127.0.0.1:2", true, true
		}, "needs its --id"},
		{"join and left", func(s *Settings) {
			s.Join, s.Left, s.Right, s.LeftGiven, s.RightGiven = "127.0.0.1:1", "1@127.0.0.1:1", "2@127.0.0.1:2", true, true
		}, "exclude each other"},
		{"id outside", func(s *Settings) { s.ID = 70000 }, "outside the 16-bit ring"},
		{"id negative", func(s *Settings) { s.ID = -2 }, "--id must not be negative"},
		{"protocol", func(s *Settings) { s.Protocol = "nope" }, "unknown protocol"},
		{"defer without join", func(s *Settings) { s.DeferJoin = true }, "need --join"},
		{"join-at", func(s *Settings) { s.Join, s.JoinAt = "127.0.0.1:1", "soon" }, "--join-at"},
		{"timeout", func(s *Settings) { s.Timeout = 0 }, "--timeout must be positive"},
		{"retries", func(s *Settings) { s.Retries = 0 }, "--retries must be at least 1"},
		{"finger period", func(s *Settings) { s.FingerPeriod = -time.Second }, "--finger-period must not be negative"},
		{"replicas", func(s *Settings) { s.Replicas = 17 }, "--replicas must be in 0..16, got 17"},
		{"hop budget", func(s *Settings) { s.HopBudget = 65536 }, "--hop-budget must be in 1..65535, got 65536"},
		{"op timeout", func(s *Settings) { s.OpTimeout = 0 }, "--op-timeout must be positive"},
		{"stabilize", func(s *Settings) {
			s.Protocol, s.Stabilize, s.StabilizeGiven = "repair", 200*time.Millisecond, true
		}, ""},
		{"stabilize zero", func(s *Settings) { s.Protocol, s.StabilizeGiven = "repair", true }, "--stabilize must be positive"},
		{"stabilize negative", func(s *Settings) { s.Protocol, s.Stabilize = "repair", -time.Second }, "--stabilize must be positive"},
		{"stabilize without repair", func(s *Settings) { s.Stabilize, s.StabilizeGiven = time.Second, true },
			"--stabilize: protocol predlock-retry does not stabilize (variants that do: repair)"},
		{"stabilize default without repair", func(s *Settings) { s.Stabilize = time.Second }, ""},
		{"secret", func(s *Settings) { s.SecretEnv = "0123456789abcdef" }, ""},
		{"short secret", func(s *Settings) { s.SecretEnv = "short" }, "DHTEXP_SECRET: the cluster secret has 5 bytes"},
		{"missing secret file", func(s *Settings) { s.SecretFile = "/nonexistent/secret" }, "--secret-file"},
	} {
		s := base()
		tc.edit(&s)
		cfg, err := s.Config()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		case tc.name == "member" && (!cfg.Member || cfg.ID != 5 || cfg.Left.ID != 1 || cfg.Right.ID != 9):
			t.Errorf("member: %+v", cfg)
		case tc.name == "defaults" && (cfg.ID != protocol.None || cfg.Secret != nil):
			t.Errorf("defaults: ID %v, want a drawn one; secret %q, want none", cfg.ID, cfg.Secret)
		case tc.name == "stabilize" && cfg.Stabilize != 200*time.Millisecond:
			t.Errorf("stabilize: %v, want 200ms", cfg.Stabilize)
		case tc.name == "secret" && string(cfg.Secret) != "0123456789abcdef":
			t.Errorf("secret: %q", cfg.Secret)
		}
	}
	if _, err := ParseLogLevel("loud"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("log level: %v", err)
	}
}
