package protocol

import (
	"bytes"
	"testing"
)

// A clone shares nothing with its original: stepping one leaves the other's key unchanged,
// and a fresh clone has the original's key.
func TestCloneIsIndependent(t *testing.T) {
	for _, name := range VariantNames() {
		t.Run(name, func(t *testing.T) {
			nodes := stepRing(t, name)
			orig := nodes[20]
			var s Stepper
			for _, k := range []ID{25, 27} {
				in := Input{Kind: InputMessage, Hold: true, Msg: Message{Type: Connect, From: k, To: 20, Joiner: k, Neighbour: None}}
				for range s.Step(orig, &in) {
				}
			}
			var out Output
			if err := orig.Request(Request{Kind: OpPut, Op: 1, Key: "k", Value: []byte("v")}, &out); err != nil {
				t.Fatal(err)
			}
			key := orig.AppendKey(nil)
			c := orig.Clone()
			if !bytes.Equal(c.AppendKey(nil), key) {
				t.Fatal("a fresh clone differs from its original")
			}
			for range s.Step(c, &Input{Kind: InputServe}) {
			}
			// A put for a key 20 owns: a clone sharing the original's DHT state would store it in both.
			put := Message{Type: KeyPut, From: 10, To: 20, Joiner: 10, Neighbour: None, Key: 15, Op: 9,
				Data: &Data{Key: "x", Value: []byte("w")}}
			for range s.Step(c, &Input{Kind: InputMessage, Msg: put}) {
			}
			if len(c.Items()) != 1 {
				t.Fatalf("the clone stores %d keys, want 1", len(c.Items()))
			}
			if bytes.Equal(c.AppendKey(nil), key) {
				t.Fatal("stepping the clone changed nothing")
			}
			if !bytes.Equal(orig.AppendKey(nil), key) {
				t.Fatal("stepping the clone changed the original")
			}
		})
	}
}
