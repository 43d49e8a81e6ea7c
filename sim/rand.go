package sim

import "math/rand/v2"

// Subsystems draw from independent streams so that, for example, switching on faults does
// not reshuffle the message delays of an otherwise identical run.
const (
	streamTopology uint64 = 0x746f706f6c6f6779 // IDs, contacts, start times
	streamDelay    uint64 = 0x64656c6179730000 // message delays
	streamFaults   uint64 = 0x6661756c74730000 // fault decisions
	streamLeave    uint64 = 0x6c65617665730000 // who leaves, and when
)

// SplitMix64 is the finaliser used to derive well-mixed seeds from structured inputs.
func SplitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newStream(seed, subsystem uint64) *rand.Rand {
	return rand.New(rand.NewPCG(SplitMix64(seed^subsystem), SplitMix64(seed+subsystem)))
}
