package node

import (
	"bufio"
	"context"
	"io"
	"strings"
	"time"
)

// Process says how a node runs as a program of its own ("dhtexp node"), steered by a
// parent through its standard input.
type Process struct {
	// Stdin is read, when the node defers its join or ExitWithStdin is set, for "join"
	// lines, each of which starts the deferred join.
	Stdin io.Reader
	// ExitWithStdin ends the node when Stdin closes, with the leave notice only.
	ExitWithStdin bool
	// LeaveTimeout bounds the node's whole leave.
	LeaveTimeout time.Duration
	// Started, if set, is called once the node is up.
	Started func(*Node)
}

// RunProcess starts a node with cfg and runs it until ctx ends, the node stops, or Stdin
// closes with ExitWithStdin; then the node leaves. Its error is the node's failure to
// start.
func RunProcess(ctx context.Context, cfg Config, p Process) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// Stdin is watched from the start, so that a parent that goes away while the node is
	// still waiting for its contact takes the node with it.
	joinLine := make(chan struct{}, 1)
	stdinClosed := make(chan struct{})
	if p.Stdin != nil && (cfg.DeferJoin || p.ExitWithStdin) {
		go func() {
			sc := bufio.NewScanner(p.Stdin)
			for sc.Scan() {
				if strings.TrimSpace(sc.Text()) == "join" {
					select {
					case joinLine <- struct{}{}:
					default:
					}
				}
			}
			if p.ExitWithStdin {
				close(stdinClosed)
				stop()
			}
		}()
	}
	n, err := StartContext(ctx, cfg)
	if err != nil {
		return err
	}
	if p.Started != nil {
		p.Started(n)
	}
	for running := true; running; {
		select {
		case <-joinLine:
			n.StartJoin()
		case <-ctx.Done():
			running = false
		case <-n.Done():
			running = false
		case <-n.JoinRefused():
			running = false
		}
	}
	select {
	case <-stdinClosed:
		// A parent closes the stdins of all its nodes at once (a process cluster, at the
		// end of a run): every exchange would wait for a left neighbour that leaves too,
		// and its messages would land in the run's trace.
		n.LeaveNotice(p.LeaveTimeout)
	default:
		// A refused node is not in the ring: it has nobody to tell and stops at once.
		n.Leave(p.LeaveTimeout)
	}
	return n.JoinErr()
}
