package protocol

import (
	"fmt"
	"strconv"
)

// ID is a node identifier on the ring.
type ID uint64

// None marks an unset neighbour or field.
const None ID = ^ID(0)

// String prints None as "-" so logs stay readable.
func (id ID) String() string {
	if id == None {
		return "-"
	}
	return strconv.FormatUint(uint64(id), 10)
}

// AppendTo appends the ID as String writes it to b, for text built without an allocation
// per ID.
func (id ID) AppendTo(b []byte) []byte {
	if id == None {
		return append(b, '-')
	}
	return strconv.AppendUint(b, uint64(id), 10)
}

// Ring is an identifier space of 2^Bits IDs that wraps from the largest back to zero.
type Ring struct {
	Bits uint
}

// MaxBits keeps IDs representable as signed 64-bit integers in traces.
const MaxBits = 62

// Validate reports whether the ring can be used.
func (r Ring) Validate() error {
	if r.Bits < 1 || r.Bits > MaxBits {
		return fmt.Errorf("ring bits must be in 1..%d, got %d", MaxBits, r.Bits)
	}
	return nil
}

// Size is the number of IDs on the ring.
func (r Ring) Size() uint64 { return uint64(1) << r.Bits }

// Contains reports whether id is a valid ID on this ring.
func (r Ring) Contains(id ID) bool { return id != None && uint64(id) < r.Size() }

// Distance is the clockwise (increasing-ID) distance from a to b, wrapping around.
func (r Ring) Distance(a, b ID) uint64 {
	return (uint64(b) - uint64(a)) & (r.Size() - 1)
}

// Between reports whether x lies strictly inside the clockwise open interval (a, b).
// When a == b the interval is the whole ring except a, which is what a single-node
// ring needs: every other ID falls between a node and itself.
func (r Ring) Between(a, x, b ID) bool {
	if x == a {
		return false
	}
	if a == b {
		return true
	}
	return r.Distance(a, x) < r.Distance(a, b)
}

// NextHop picks the neighbour a request for k goes to from a node whose gap (id, right) does
// not contain k: the left neighbour when k is counterclockwise-closer, the right otherwise.
// Each hop then shortens the remaining distance, so a request takes at most about half the
// ring's members to reach the gap's owner instead of going round.
func (r Ring) NextHop(id, left, right, k ID) ID {
	if left != None && (r.Between(left, k, id) || r.Distance(k, id) < r.Distance(id, k)) {
		return left
	}
	return right
}
