package trace

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

func TestEventOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   observe.Event
		want Event
	}{
		{"send", observe.Event{Seq: 3, Time: 40, Kind: observe.KindSend, MsgType: protocol.ConnectRedirect,
			Node: 1, From: 1, To: 2, Joiner: 9, Left: protocol.None, Right: protocol.None},
			Event{RunID: 7, Seq: 3, TimeNs: 40, Kind: "send", MsgType: "connect_redirect", Node: 1, From: 1, To: 2,
				Joiner: 9, Left: -1, Right: -1}},
		{"state without message", observe.Event{Kind: observe.KindState, Node: 4, From: protocol.None,
			To: protocol.None, Joiner: protocol.None, Left: 2, Right: 6, Detail: "locked"},
			Event{RunID: 7, Kind: "state", Node: 4, From: -1, To: -1, Joiner: -1, Left: 2, Right: 6, Detail: "locked"}},
	} {
		if got := EventOf(7, &tc.in); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		// AppendObserved builds the same row without going through EventOf.
		var c EventColumns
		c.AppendObserved(7, &tc.in)
		if got := c.Event(0); c.Len() != 1 || got != tc.want {
			t.Errorf("%s: AppendObserved gave %d rows, first %+v, want %+v", tc.name, c.Len(), c.Event(0), tc.want)
		}
	}
}

func TestEventTracer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.parquet")
	w, err := CreateEvents(path, ClockWall, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var failed []error
	tr := NewEventTracer(w, 2, func(err error) { failed = append(failed, err) })
	// A write to a file gone fails; the tracer reports that once and writes no further.
	w.Abort()
	tr.Event(&observe.Event{Seq: 0, Kind: observe.KindJoinStart, Node: 5})
	tr.Event(&observe.Event{Seq: 1, Kind: observe.KindJoinEnd, Node: 5})
	if len(failed) != 1 {
		t.Fatalf("write errors reported: %v", failed)
	}
	if err := tr.Close(); !errors.Is(err, failed[0]) {
		t.Errorf("Close after a failed write: %v, want %v", err, failed[0])
	}

	w, err = CreateEvents(path, ClockWall, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr = NewEventTracer(w, 2, nil)
	tr.Event(&observe.Event{Seq: 0, Kind: observe.KindJoinStart, Node: 5, From: protocol.None, To: protocol.None,
		Joiner: 5, Left: protocol.None, Right: protocol.None})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	var got []Event
	if err := ReadEvents(path, func(es []Event) error { got = append(got, es...); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RunID != 2 || got[0].Kind != "join_start" || got[0].Joiner != 5 || got[0].From != -1 {
		t.Errorf("read back %+v", got)
	}
}

// observedEvents returns n driver events with every kind, no message type and every
// message type, ids and nulls mixed, and a detail on some.
func observedEvents(n int, seed uint64) []observe.Event {
	rng := rand.New(rand.NewPCG(seed, 9))
	id := func() protocol.ID {
		if rng.IntN(3) == 0 {
			return protocol.None
		}
		return protocol.ID(rng.IntN(1 << 16))
	}
	es := make([]observe.Event, n)
	for i := range es {
		e := observe.Event{Seq: int64(i % 5000), Time: int64(i) * 1000, Kind: observe.EventKind(1 + rng.IntN(9)),
			Node: protocol.ID(rng.IntN(1 << 16)), From: id(), To: id(), Joiner: id(), Left: id(), Right: id()}
		if rng.IntN(2) == 0 {
			e.MsgType = protocol.MsgType(1 + rng.IntN(10))
		}
		if i%7 == 0 {
			e.Detail = "locked"
		}
		es[i] = e
	}
	return es
}

// Events added by AppendObserved, whose kinds and message types stay codes, make the same
// file as the same events written one by one with their strings, across row groups and
// pieces; events added with their strings after them are kept too.
func TestAppendObservedSameFile(t *testing.T) {
	es := observedEvents(50_000, 5)
	opts := Options{RowGroupRows: 12_000}
	dir := t.TempDir()
	coded, err := CreateEvents(filepath.Join(dir, "coded.parquet"), ClockVirtual, opts)
	if err != nil {
		t.Fatal(err)
	}
	rowwise, err := CreateEvents(filepath.Join(dir, "rowwise.parquet"), ClockVirtual, opts)
	if err != nil {
		t.Fatal(err)
	}
	var c EventColumns
	for lo := 0; lo < len(es); lo += 7_000 {
		c.Reset()
		for i := lo; i < min(lo+7_000, len(es)); i++ {
			c.AppendObserved(3, &es[i])
			row := EventOf(3, &es[i])
			if err := rowwise.WriteEvent(&row); err != nil {
				t.Fatal(err)
			}
		}
		if lo == 7_000 {
			// A row with strings after coded ones turns the piece's codes into strings.
			row := Event{RunID: 4, Kind: KindFault, Node: 1, From: -1, To: -1, Joiner: -1, Left: -1, Right: -1}
			c.Append(&row)
			if err := rowwise.WriteEvent(&row); err != nil {
				t.Fatal(err)
			}
		}
		if err := coded.WriteColumns(&c); err != nil {
			t.Fatal(err)
		}
	}
	if err := coded.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rowwise.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "coded.parquet"))
	b, _ := os.ReadFile(filepath.Join(dir, "rowwise.parquet"))
	if !bytes.Equal(a, b) {
		t.Errorf("files differ: %d bytes from codes, %d from strings", len(a), len(b))
	}
	got := readAllEvents(t, filepath.Join(dir, "coded.parquet"))
	if len(got) != len(es)+1 || got[0] != EventOf(3, &es[0]) || got[len(got)-1] != EventOf(3, &es[len(es)-1]) {
		t.Errorf("read back %d events", len(got))
	}
}
