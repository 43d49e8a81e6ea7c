package protocol

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// Exhaustive exploration expands each state once by its AppendKey and steps Clones, so
// both must be exact: a clone behaves as the original, stepping it leaves the original as
// it was, and two nodes with equal keys answer every input alike.

// cloneInput is one random input to a node.
type cloneInput struct {
	kind  int // 0 message, 1 timer, 2 serve, 3 start, 4 restart, 5 leave, 6 boot
	msg   Message
	timer Timer
}

var cloneIDs = []ID{1, 4, 7, 10, 13}

func randomInput(r *rand.Rand, self ID) cloneInput {
	id := func() ID { return cloneIDs[r.IntN(len(cloneIDs))] }
	switch k := r.IntN(20); {
	case k < 13:
		// Membership messages only: the DHT layer has its own tests.
		types := []MsgType{Connect, ConnectRedirect, ChangeNeighbour, NewNeighbour, SuccessJoin, Welcome,
			WelcomeAck, SetLeft, LeftSet, Queued, Poll, Unknown, WelcomeNack, LeaveAsk, LeaveGo, LeaveRetry,
			LeaveKeys, LeaveDone, LeaveBye, Abort, Aborted, Unlink, Unlinked}
		return cloneInput{kind: 0, msg: Message{Type: types[r.IntN(len(types))], From: id(), To: self,
			Joiner: id(), Neighbour: id(), Op: uint64(r.IntN(3))}}
	case k < 16:
		return cloneInput{kind: 1, timer: Timer{Kind: uint8(1 + r.IntN(3)), Tag: uint64(r.IntN(4)), After: 1e6}}
	case k < 18:
		return cloneInput{kind: 2}
	default:
		return cloneInput{kind: 3 + r.IntN(3)}
	}
}

// randomRepairInput is randomInput for variants that repair (Variant.Repairs): half the time
// one of their own messages (stabilization and anti-entropy, with successor lists and keys)
// or timers, or a boot.
func randomRepairInput(r *rand.Rand, self ID) cloneInput {
	if r.IntN(2) == 0 {
		return randomInput(r, self)
	}
	id := func() ID { return cloneIDs[r.IntN(len(cloneIDs))] }
	switch k := r.IntN(10); {
	case k < 6:
		types := []MsgType{RepairAsk, RepairState, RepairDigest, RepairSync, RepairPush}
		m := Message{Type: types[r.IntN(len(types))], From: id(), To: self, Joiner: id(), Neighbour: id(),
			Key: id(), Op: uint64(r.IntN(4)), Status: uint8(r.IntN(4))}
		if r.IntN(3) > 0 {
			m.Data = &Data{Succs: []ID{id(), id()}}
			for range r.IntN(3) {
				x := id()
				m.Data.Items = append(m.Data.Items, Item{ID: x, Key: fmt.Sprint(x), Value: []byte{byte(r.IntN(2))}})
			}
		}
		if m.Type == RepairDigest && r.IntN(2) == 0 {
			m.Op = digestOf(nil)
		}
		return cloneInput{kind: 0, msg: m}
	case k < 9:
		// Tags up to 12: stabilization timers are re-armed under a growing tag.
		return cloneInput{kind: 1, timer: Timer{Kind: uint8(1 + r.IntN(5)), Tag: uint64(r.IntN(12)), After: 1e6}}
	default:
		return cloneInput{kind: 6}
	}
}

// apply feeds one input to n and renders what it did, error included.
func apply(n Node, in cloneInput) string {
	var out Output
	var err error
	switch in.kind {
	case 0:
		err = n.Step(in.msg, &out)
	case 1:
		err = n.Fire(in.timer, &out)
	case 2:
		var served bool
		served, err = n.Serve(&out)
		if served {
			out.Actions = append(out.Actions, Action{Kind: Idle, Units: -1})
		}
	case 3:
		if n.WantsToJoin() {
			err = n.Start(&out)
		}
	case 4:
		if r, ok := n.(Restarter); ok {
			r.Restart(&out)
		}
	case 5:
		err = n.Leave(&out)
	case 6:
		n.Boot(&out)
	}
	// Data is rendered by value: two clones send equal data under different pointers.
	var data []Data
	for i := range out.Actions {
		if d := out.Actions[i].Msg.Data; d != nil {
			data = append(data, *d)
			out.Actions[i].Msg.Data = nil
		}
	}
	return fmt.Sprintf("%v %+v %+v %+v", err, out.Actions, data, n.State())
}

func cloneNodes(variant Variant) []Node {
	ring := Ring{Bits: 4}
	nodes := []Node{
		variant.New(Config{ID: 4, Ring: ring, Member: true, Left: 10, Right: 10, Retries: 2}),
		variant.New(Config{ID: 7, Ring: ring, Contact: 4, Retries: 2}),
		variant.New(Config{ID: 1, Ring: ring, Contact: 10, Retries: 2}),
	}
	if variant.Repairs {
		// With copies to keep: the anti-entropy state (copies, covered ranges) is exercised.
		nodes = append(nodes, variant.New(Config{ID: 10, Ring: ring, Member: true, Left: 4, Right: 4, Retries: 2,
			Replicas: 2, Items: []Item{{ID: 6, Key: "6", Value: []byte{1}}}}))
	}
	return nodes
}

func TestCloneAndKeyAreExact(t *testing.T) {
	for _, name := range VariantNames() {
		variant, _ := Lookup(name)
		input := randomInput
		if variant.Repairs {
			input = randomRepairInput
		}
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			byKey := map[string]Node{}
			pairs := 0
			for walk := range 400 {
				for _, start := range cloneNodes(variant) {
					n := start
					self := n.State().ID
					for step := range 1 + walk%40 {
						// A clone follows the original step for step.
						c := n.Clone()
						before := string(n.AppendKey(nil))
						in := input(r, self)
						got, want := apply(c, in), apply(n.Clone(), in)
						if string(n.AppendKey(nil)) != before {
							t.Fatalf("walk %d step %d: stepping a clone changed the original", walk, step)
						}
						if got != want {
							t.Fatalf("walk %d step %d: two clones differ on %+v:\n%s\n%s", walk, step, in, got, want)
						}
						apply(n, in)
						if string(c.AppendKey(nil)) != string(n.AppendKey(nil)) {
							t.Fatalf("walk %d step %d: a clone and its original have different keys after %+v", walk, step, in)
						}
					}
					// Equal keys, equal futures: compare with the first node seen with this key.
					k := string(n.AppendKey(nil))
					other, seen := byKey[k]
					if !seen {
						byKey[k] = n.Clone()
						continue
					}
					pairs++
					a, b := other.Clone(), n.Clone()
					for step := range 30 {
						in := input(r, self)
						if x, y := apply(a, in), apply(b, in); x != y {
							t.Fatalf("two nodes with equal keys answer %+v differently at step %d:\n%s\n%s\nstates %+v / %+v",
								in, step, x, y, reflect.ValueOf(a).Elem().Interface(), reflect.ValueOf(b).Elem().Interface())
						}
					}
				}
			}
			t.Logf("%d distinct keys, %d pairs of equal keys compared", len(byKey), pairs)
		})
	}
}
