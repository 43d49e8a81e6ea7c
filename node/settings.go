package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/dhtexp/dhtexp/protocol"
)

// Settings are what "dhtexp node" is told, as plain values; Config checks them together and
// builds the node's Config. Its errors name the command's flags (--listen, --id, ...), for
// they are the only way a user meets these values.
type Settings struct {
	Listen string
	// ListenGiven says Listen was asked for explicitly, which a non-loopback host needs.
	ListenGiven bool
	Advertise   string
	Protocol    string
	Bits        uint
	ID          int64 // -1: draw one
	Seed        uint64
	SeedGiven   bool // draw the ID from Seed rather than crypto/rand
	Join        string
	JoinAt      string // RFC 3339; empty: at once
	DeferJoin   bool
	Left, Right string // ID@ADDR
	// LeftGiven and RightGiven say --left and --right were given (an empty one is an error).
	LeftGiven, RightGiven bool
	Timeout               time.Duration
	Retries               int
	// Stabilize is --stabilize; StabilizeGiven says it was given, which only a variant that
	// stabilizes (protocol.Variant.Repairs) may be.
	Stabilize      time.Duration
	StabilizeGiven bool

	IdleTimeout, PeerTimeout time.Duration
	FingerPeriod             time.Duration
	Replicas, HopBudget      int
	OpTimeout                time.Duration
	// SecretFile is --secret-file; SecretEnv the value of DHTEXP_SECRET, read when no file
	// is named (ReadSecret).
	SecretFile, SecretEnv string
}

// CheckRetry checks the tuning of the variants that retry, shared by a node and a cluster.
func CheckRetry(timeout time.Duration, retries int) error {
	switch {
	case timeout <= 0:
		return errors.New("--timeout must be positive")
	case retries < 1:
		return errors.New("--retries must be at least 1")
	}
	return nil
}

// CheckStabilize checks --stabilize for variant, shared by a node and a cluster: positive
// when given (0 not given: the variant's default), and given only to a variant that
// stabilizes, since any other would ignore it.
func CheckStabilize(variant string, period time.Duration, given bool) error {
	v, err := protocol.Lookup(variant)
	if err != nil {
		return fmt.Errorf("--protocol: %w", err)
	}
	switch {
	case period < 0 || (given && period == 0):
		return errors.New("--stabilize must be positive")
	case given && !v.Repairs:
		return fmt.Errorf("--stabilize: protocol %s does not stabilize (variants that do: %s)", variant, strings.Join(Stabilizing(), ", "))
	}
	return nil
}

// Stabilizing lists the variants that stabilize (protocol.Variant.Repairs).
func Stabilizing() []string {
	var names []string
	for _, name := range protocol.VariantNames() {
		if v, err := protocol.Lookup(name); err == nil && v.Repairs {
			names = append(names, name)
		}
	}
	return names
}

// ParseLogLevel reads --log-level.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

// Config checks the settings and builds the node's configuration.
func (s *Settings) Config() (Config, error) {
	cfg := Config{
		Listen:           s.Listen,
		AllowNonLoopback: s.ListenGiven,
		Advertise:        s.Advertise,
		Protocol:         s.Protocol,
		Bits:             s.Bits,
		ID:               protocol.None,
		Join:             s.Join,
		DeferJoin:        s.DeferJoin,
		IdleTimeout:      s.IdleTimeout,
		PeerTimeout:      s.PeerTimeout,
		FingerPeriod:     s.FingerPeriod,
		Replicas:         s.Replicas,
		HopBudget:        s.HopBudget,
		OpTimeout:        s.OpTimeout,
		Timeout:          s.Timeout,
		Retries:          s.Retries,
		Stabilize:        s.Stabilize,
	}
	secret, err := ReadSecret(s.SecretFile, s.SecretEnv)
	if err != nil {
		return cfg, err
	}
	cfg.Secret = secret
	if _, err := protocol.Lookup(cfg.Protocol); err != nil {
		return cfg, fmt.Errorf("--protocol: %w", err)
	}
	if err := CheckRetry(cfg.Timeout, cfg.Retries); err != nil {
		return cfg, err
	}
	if err := CheckStabilize(cfg.Protocol, cfg.Stabilize, s.StabilizeGiven); err != nil {
		return cfg, err
	}
	switch {
	case cfg.FingerPeriod < 0:
		return cfg, errors.New("--finger-period must not be negative (0 turns finger refresh off)")
	case cfg.Replicas < 0 || cfg.Replicas > 16:
		return cfg, fmt.Errorf("--replicas must be in 0..16, got %d", cfg.Replicas)
	case cfg.HopBudget < 1 || cfg.HopBudget > 65535:
		return cfg, fmt.Errorf("--hop-budget must be in 1..65535, got %d", cfg.HopBudget)
	case cfg.OpTimeout <= 0:
		return cfg, errors.New("--op-timeout must be positive")
	}
	if host, _, err := net.SplitHostPort(cfg.Listen); err != nil || host == "" {
		// An empty host would bind every interface, which must be asked for by name.
		return cfg, fmt.Errorf("--listen %q: want HOST:PORT with a host, e.g. 127.0.0.1:7000 (0.0.0.0:7000 binds every interface)", cfg.Listen)
	}
	ring := protocol.Ring{Bits: cfg.Bits}
	if err := ring.Validate(); err != nil {
		return cfg, fmt.Errorf("--bits: %w", err)
	}
	if s.ID >= 0 {
		if !ring.Contains(protocol.ID(s.ID)) {
			return cfg, fmt.Errorf("--id %d is outside the %d-bit ring", s.ID, cfg.Bits)
		}
		cfg.ID = protocol.ID(s.ID)
	} else if s.ID != -1 {
		return cfg, errors.New("--id must not be negative")
	}
	if s.SeedGiven {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], s.Seed)
		cfg.Rand = rand.NewChaCha8(key)
	}
	if s.LeftGiven != s.RightGiven {
		return cfg, errors.New("--left and --right go together")
	}
	if s.LeftGiven {
		if cfg.Join != "" {
			return cfg, errors.New("--join and --left/--right exclude each other")
		}
		cfg.Member = true
		var err error
		if cfg.Left, err = ParsePeer(s.Left, ring); err != nil {
			return cfg, fmt.Errorf("--left: %w", err)
		}
		if cfg.Right, err = ParsePeer(s.Right, ring); err != nil {
			return cfg, fmt.Errorf("--right: %w", err)
		}
		if cfg.ID == protocol.None {
			return cfg, errors.New("a ring member (--left/--right) needs its --id")
		}
	}
	if s.JoinAt != "" {
		t, err := time.Parse(time.RFC3339Nano, s.JoinAt)
		if err != nil {
			return cfg, fmt.Errorf("--join-at: %w", err)
		}
		cfg.JoinAt = t
	}
	if (cfg.DeferJoin || !cfg.JoinAt.IsZero()) && cfg.Join == "" {
		return cfg, errors.New("--defer-join and --join-at need --join")
	}
	return cfg, nil
}
