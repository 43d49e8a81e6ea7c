package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/protocol"
)

// Validate checks the options as "dhtexp cluster" takes them, naming its flags, and fills
// in the default result folder: results/cluster-PROTOCOL-mM-kK-sSEED. The folder must not
// exist or be empty, so that a run never mixes with an earlier one's files.
func (o *Options) Validate() error {
	switch {
	case o.Members < 1:
		return errors.New("--members must be at least 1")
	case o.Joiners < 0:
		return errors.New("--joiners must not be negative")
	case o.Deadline <= 0:
		return errors.New("--deadline must be positive")
	case o.Build != "prebuilt" && o.Build != "join":
		return fmt.Errorf("--build must be prebuilt or join, got %q", o.Build)
	}
	if _, err := protocol.Lookup(o.Protocol); err != nil {
		return fmt.Errorf("--protocol: %w", err)
	}
	if err := node.CheckRetry(o.Timeout, o.Retries); err != nil {
		return err
	}
	if err := node.CheckStabilize(o.Protocol, o.Stabilize, o.Stabilize != 0); err != nil {
		return err
	}
	switch {
	case o.Replicas < 0 || o.Replicas > 16:
		return fmt.Errorf("--replicas must be in 0..16, got %d", o.Replicas)
	case o.Keys < 0:
		return errors.New("--keys must not be negative")
	case o.ChurnKill < 0:
		return errors.New("--churn-kill must not be negative")
	case o.ChurnStart < 0:
		return errors.New("--churn-start must not be negative")
	case o.ChurnInterval < 0:
		return errors.New("--churn-interval must not be negative (0: three stabilization periods)")
	case o.ChurnSettle < 0:
		return errors.New("--churn-settle must not be negative (0: the default, 20 stabilization periods)")
	case o.churn() && !o.repairs():
		// The others leave pointers to a killed node for good: the run could only time out.
		return fmt.Errorf("--churn-kill and --churn-start need a variant that repairs crashes (%s), not %s",
			strings.Join(node.Stabilizing(), ", "), o.Protocol)
	case o.ChurnKill >= o.Members+o.Joiners:
		return fmt.Errorf("--churn-kill %d would kill every one of the %d nodes started before the churn", o.ChurnKill, o.Members+o.Joiners)
	}
	ring := protocol.Ring{Bits: o.Bits}
	if err := ring.Validate(); err != nil {
		return fmt.Errorf("--bits: %w", err)
	}
	if total := o.Members + o.Joiners + o.ChurnStart; uint64(total) > ring.Size() {
		return fmt.Errorf("%d nodes do not fit a %d-bit ring", total, o.Bits)
	}
	if _, err := node.ParseLogLevel(o.LogLevel); err != nil {
		return err
	}
	if o.ChurnSettle == 0 {
		o.ChurnSettle = DefaultChurnSettle
	}
	if o.Out == "" {
		o.Out = filepath.Join("results", fmt.Sprintf("cluster-%s-m%d-k%d-s%d", o.Protocol, o.Members, o.Joiners, o.Seed))
	}
	if ents, err := os.ReadDir(o.Out); err == nil && len(ents) > 0 {
		// A second run with the same flags lands here: its default folder is the first's.
		return fmt.Errorf("%s exists and is not empty: choose another result folder with -o DIR, or remove it", o.Out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
