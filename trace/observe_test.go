package trace

import (
	"errors"
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
		got := Event{RunID: c.RunID[0], Seq: c.Seq[0], TimeNs: c.TimeNs[0], Kind: c.Kind[0], MsgType: c.MsgType[0],
			Node: c.Node[0], From: c.From[0], To: c.To[0], Joiner: c.Joiner[0], Left: c.Left[0], Right: c.Right[0],
			Detail: c.Detail[0]}
		if c.Len() != 1 || got != tc.want {
			t.Errorf("%s: AppendObserved gave %d rows, first %+v, want %+v", tc.name, c.Len(), got, tc.want)
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
