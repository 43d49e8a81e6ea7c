package protocol

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// stepRing is the predlock ring 10 <-> 20 <-> 30; 20 owns the gap (20, 30).
func stepRing(t *testing.T, variant string) map[ID]Node {
	t.Helper()
	v, err := Lookup(variant)
	if err != nil {
		t.Fatal(err)
	}
	ring := Ring{Bits: 16}
	nodes := map[ID]Node{}
	for _, c := range [][3]ID{{10, 30, 20}, {20, 10, 30}, {30, 20, 10}} {
		nodes[c[0]] = v.New(Config{ID: c[0], Ring: ring, Member: true, Left: c[1], Right: c[2]})
	}
	return nodes
}

// summary spells one Ready: whether it is a served request, its sends, the state's lock and
// queue, and its error.
func summary(rd *Ready) string {
	var b strings.Builder
	if rd.Served {
		b.WriteString("served:")
	} else {
		b.WriteString("input:")
	}
	for _, a := range rd.Actions {
		if a.Kind == Send {
			fmt.Fprintf(&b, " %s->%v", a.Msg.Type, a.Msg.To)
		}
	}
	fmt.Fprintf(&b, " locked=%v queue=%d", rd.State.Locked, rd.State.Queue)
	if rd.Err != nil {
		fmt.Fprintf(&b, " err=%v", rd.Err)
	}
	return b.String()
}

func TestStepper(t *testing.T) {
	connect := func(k ID) Input {
		return Input{Kind: InputMessage, Msg: Message{Type: Connect, From: k, To: 20, Joiner: k, Neighbour: None}}
	}
	tests := []struct {
		name    string
		variant string
		queued  []ID  // requests queued at 20 beforehand, with Hold
		in      Input // fed to 20
		stop    int   // stop ranging after this many Readies (0: never)
		want    []string
		after   string // 20's lock and queue afterwards
	}{
		{name: "an input is followed by serving the queue", variant: "predlock", in: connect(25),
			want:  []string{"input: locked=false queue=1", "served: welcome->25 locked=true queue=0"},
			after: "locked=true queue=0"},
		{name: "serving stops when the node is unwilling", variant: "predlock", queued: []ID{25}, in: connect(27),
			want:  []string{"input: locked=false queue=2", "served: welcome->25 locked=true queue=1"},
			after: "locked=true queue=1"},
		{name: "hold leaves the queue alone", variant: "predlock", in: Input{Kind: InputMessage, Hold: true,
			Msg: Message{Type: Connect, From: 25, To: 20, Joiner: 25, Neighbour: None}},
			want: []string{"input: locked=false queue=1"}, after: "locked=false queue=1"},
		{name: "a driver that stops ranging stops the serving", variant: "predlock", in: connect(25), stop: 1,
			want: []string{"input: locked=false queue=1"}, after: "locked=false queue=1"},
		{name: "serve serves one request and nothing else", variant: "predlock", queued: []ID{25},
			in:    Input{Kind: InputServe},
			want:  []string{"served: welcome->25 locked=true queue=0"},
			after: "locked=true queue=0"},
		{name: "serve with nothing to serve", variant: "predlock", in: Input{Kind: InputServe},
			want: []string{"input: locked=false queue=0"}, after: "locked=false queue=0"},
		{name: "a refused leave ends the step", variant: "seed", queued: []ID{15}, in: Input{Kind: InputLeave},
			want:  []string{"input: locked=false queue=1 err=" + ErrNoLeave.Error()},
			after: "locked=false queue=1"},
		{name: "retry queues and tells the newcomer", variant: "predlock-retry", in: connect(25),
			want:  []string{"input: queued->25 locked=false queue=1", "served: welcome->25 locked=true queue=0"},
			after: "locked=true queue=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := stepRing(t, tt.variant)
			var s Stepper
			for _, k := range tt.queued {
				in := connect(k)
				in.Hold = true
				for rd := range s.Step(nodes[20], &in) {
					if rd.Err != nil {
						t.Fatal(rd.Err)
					}
				}
			}
			var got []string
			for rd := range s.Step(nodes[20], &tt.in) {
				got = append(got, summary(rd))
				if len(got) == tt.stop {
					break
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			st := nodes[20].State()
			if a := fmt.Sprintf("locked=%v queue=%d", st.Locked, st.Queue); a != tt.after {
				t.Fatalf("afterwards %s, want %s", a, tt.after)
			}
			if !tt.in.Hold && tt.in.Kind != InputServe {
				return
			}
			// StepOnce returns Step's one Ready and leaves the node as Step does.
			nodes = stepRing(t, tt.variant)
			for _, k := range tt.queued {
				in := connect(k)
				in.Hold = true
				if rd := s.StepOnce(nodes[20], &in); rd.Err != nil {
					t.Fatal(rd.Err)
				}
			}
			if got := summary(s.StepOnce(nodes[20], &tt.in)); got != tt.want[0] {
				t.Fatalf("StepOnce: got %s, want %s", got, tt.want[0])
			}
			st = nodes[20].State()
			if a := fmt.Sprintf("locked=%v queue=%d", st.Locked, st.Queue); a != tt.after {
				t.Fatalf("StepOnce: afterwards %s, want %s", a, tt.after)
			}
		})
	}
}

// StepOnce refuses an input after which the node may serve: it would return only the first
// of Step's Readies, and the node would serve nothing.
func TestStepOnceRefusesServingInputs(t *testing.T) {
	nodes := stepRing(t, "predlock")
	var s Stepper
	defer func() {
		if recover() == nil {
			t.Fatal("StepOnce of a message without Hold did not panic")
		}
	}()
	s.StepOnce(nodes[20], &Input{Kind: InputMessage, Msg: Message{Type: Connect, From: 25, To: 20, Joiner: 25, Neighbour: None}})
}

// A protocol error ends the step: nothing is served after it.
func TestStepperError(t *testing.T) {
	v, _ := Lookup("seed")
	n := v.New(Config{ID: 5, Ring: Ring{Bits: 16}, Contact: None})
	var s Stepper
	count := 0
	for rd := range s.Step(n, &Input{Kind: InputStart}) {
		count++
		if !errors.Is(rd.Err, ErrMissingNeighbour) {
			t.Fatalf("err %v, want %v", rd.Err, ErrMissingNeighbour)
		}
	}
	if count != 1 {
		t.Fatalf("%d Readies, want 1", count)
	}
}

// The steady path allocates nothing: a forwarded request reuses the Stepper's buffer.
func TestStepperAllocations(t *testing.T) {
	nodes := stepRing(t, "predlock")
	var s Stepper
	in := Input{Kind: InputMessage, Msg: Message{Type: Connect, From: 5, To: 20, Joiner: 5, Neighbour: None}}
	step := func() {
		for rd := range s.Step(nodes[20], &in) {
			if len(rd.Actions) != 1 {
				t.Fatalf("%d actions, want one forward", len(rd.Actions))
			}
		}
	}
	step()
	if a := testing.AllocsPerRun(100, step); a != 0 {
		t.Fatalf("%v allocations per step, want 0", a)
	}
}
