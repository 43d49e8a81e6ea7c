package protocol

// Restarter is implemented by every variant. A crash-restart in this project is a process
// whose state is durable and whose timers are not: when it comes back it keeps its state and
// must re-arm every timer that state implies, or a wait it was in would never end. Drivers
// call Restart once when a crashed node comes back, after dropping every timer it had set
// before the crash.
type Restarter interface {
	Restart(out *Output)
}
