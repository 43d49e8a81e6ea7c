package cliutil

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func TestSignalContext(t *testing.T) {
	for _, again := range []bool{false, true} {
		ctx, stop := SignalContext(context.Background(), again)
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("again=%v: SIGTERM did not cancel the context", again)
		}
		stop()
	}
}
