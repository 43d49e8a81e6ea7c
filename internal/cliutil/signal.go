package cliutil

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext is cancelled by the first SIGINT or SIGTERM. With again, that first signal
// also brings the default action back, so that a second Ctrl-C ends the process at once.
func SignalContext(parent context.Context, again bool) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	if again {
		go func() {
			<-ctx.Done()
			stop()
		}()
	}
	return ctx, stop
}
