package protocol

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestInteraction runs the scripts in testdata/step: each command acts on one node and prints
// the actions it produced and the node's state afterwards. Rewrite expectations with -rewrite.
// TestEnv (env_test.go) runs whole rings.
//
//	variant name=seed                      choose the variant for the nodes that follow
//	member id=49 left=1 right=50           a ring member
//	newcomer id=2 contact=49               a newcomer
//	start id=2                             the newcomer starts its join
//	step id=49 type=connect from=2 joiner=2 [neighbour=N]
//	serve id=49                            serve the first queued request
func TestInteraction(t *testing.T) {
	datadriven.Walk(t, "testdata/step", func(t *testing.T, path string) {
		nodes := map[ID]Node{}
		variant := "seed"
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			arg := func(key string) ID {
				for _, a := range d.CmdArgs {
					if a.Key == key {
						v, err := strconv.ParseUint(a.Vals[0], 10, 64)
						if err != nil {
							d.Fatalf(t, "%s: %v", key, err)
						}
						return ID(v)
					}
				}
				return None
			}
			node := func() Node {
				n, ok := nodes[arg("id")]
				if !ok {
					d.Fatalf(t, "no node %v", arg("id"))
				}
				return n
			}
			var out Output
			var err error
			served := true
			switch d.Cmd {
			case "variant":
				var name string
				d.ScanArgs(t, "name", &name)
				if _, err := Lookup(name); err != nil {
					d.Fatalf(t, "%v", err)
				}
				variant = name
				return ""
			case "member", "newcomer":
				v, _ := Lookup(variant)
				cfg := Config{ID: arg("id"), Ring: Ring{Bits: 16}, Member: d.Cmd == "member",
					Left: arg("left"), Right: arg("right"), Contact: arg("contact")}
				nodes[cfg.ID] = v.New(cfg)
				return render(nodes[cfg.ID], nil, true, nil)
			case "start":
				err = node().Start(&out)
			case "step":
				var typ string
				d.ScanArgs(t, "type", &typ)
				mt, perr := ParseMsgType(typ)
				if perr != nil {
					d.Fatalf(t, "%v", perr)
				}
				m := Message{Type: mt, From: arg("from"), To: arg("id"), Joiner: arg("joiner"), Neighbour: arg("neighbour")}
				err = node().Step(m, &out)
			case "serve":
				served, err = node().Serve(&out)
			default:
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			return render(node(), out.Actions, served, err)
		})
	})
}

func render(n Node, acts []Action, served bool, err error) string {
	var b strings.Builder
	if !served {
		b.WriteString("nothing to serve\n")
	}
	for _, a := range acts {
		switch a.Kind {
		case Send:
			m := a.Msg
			fmt.Fprintf(&b, "send %s %v->%v joiner=%v", m.Type, m.From, m.To, m.Joiner)
			if m.Type == ChangeNeighbour || m.Type == NewNeighbour {
				fmt.Fprintf(&b, " neighbour=%v", m.Neighbour)
			}
			b.WriteByte('\n')
		case Idle:
			fmt.Fprintf(&b, "idle %d\n", a.Units)
		case SetTimer:
			fmt.Fprintf(&b, "timer kind=%d tag=%d after=%d\n", a.Timer.Kind, a.Timer.Tag, a.Timer.After)
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	st := n.State()
	fmt.Fprintf(&b, "state %v: left=%v right=%v", st.ID, st.Left, st.Right)
	for _, f := range []struct {
		on   bool
		name string
	}{{st.Connected, "connected"}, {st.Waiting, "waiting"}, {st.Locked, "locked"}} {
		if f.on {
			b.WriteString(" " + f.name)
		}
	}
	if st.Queue > 0 {
		fmt.Fprintf(&b, " queue=%d", st.Queue)
	}
	b.WriteByte('\n')
	return b.String()
}
