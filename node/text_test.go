package node

import (
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

func TestWriteKVReply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		asJSON bool
		kind   protocol.OpKind
		r      KVReply
		want   string
	}{
		{"get found", false, protocol.OpGet,
			KVReply{Status: protocol.StatusOK, KeyID: 40, Owner: 42, OwnerAddr: "127.0.0.1:7000", Hops: 1, Value: []byte("blue")},
			`ok get "colour" (key id 40): owner 42 at 127.0.0.1:7000, 1 hop, value "blue"` + "\n"},
		{"lookup unknown owner", false, protocol.OpLookup,
			KVReply{Status: protocol.StatusTimeout, KeyID: protocol.None, Owner: protocol.None, Hops: 2, Error: "no reply"},
			`timeout lookup "colour": owner unknown, 2 hops: no reply` + "\n"},
		{"put json", true, protocol.OpPut,
			KVReply{Status: protocol.StatusOK, KeyID: 40, Owner: 42, Hops: 0},
			`{"op":"put","key":"colour","key_id":40,"status":"ok","owner":42,"hops":0}` + "\n"},
		{"get json binary", true, protocol.OpGet,
			KVReply{Status: protocol.StatusOK, KeyID: 40, Owner: protocol.None, Value: []byte{0xff}},
			`{"op":"get","key":"colour","key_id":40,"status":"ok","owner":null,"hops":0,"value_base64":"/w=="}` + "\n"},
	} {
		var b strings.Builder
		if err := WriteKVReply(&b, tc.asJSON, tc.kind, "colour", &tc.r); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, b.String(), tc.want)
		}
	}
}

func TestStatusWriteText(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Status
		want []string
	}{
		{"departed", Status{ID: 5, Left: protocol.None, Right: protocol.None, Contact: protocol.None, Leaving: true, Departed: true},
			[]string{"flags     leaving,departed", "left      -"}},
		{"member", Status{ID: 5, Addr: "a:1", Left: 3, LeftAddr: "a:2", Right: 9, Member: true, Connected: true},
			[]string{"node      5 at a:1", "left      3 at a:2", "right     9\n", "flags     connected", "join      member"}},
		{"failed", Status{ID: 5, Left: protocol.None, Right: protocol.None, Contact: 2, Failed: true, Error: "boom"},
			[]string{"join      failed: gave up joining through 2", "error     boom"}},
	} {
		var b strings.Builder
		tc.s.WriteText(&b)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tc.name, w, b.String())
			}
		}
	}
}

func TestParsePeer(t *testing.T) {
	ring := protocol.Ring{Bits: 8}
	for _, tc := range []struct {
		in   string
		want Peer
		err  string
	}{
		{"5@127.0.0.1:7000", Peer{ID: 5, Addr: "127.0.0.1:7000"}, ""},
		{"255@[::1]:1", Peer{ID: 255, Addr: "[::1]:1"}, ""},
		{"256@127.0.0.1:7000", Peer{}, "want ID@ADDR with an ID on the 8-bit ring"},
		{"127.0.0.1:7000", Peer{}, "want ID@ADDR"},
		{"x@127.0.0.1:7000", Peer{}, "want ID@ADDR"},
		{"5@localhost", Peer{}, "missing port"},
	} {
		got, err := ParsePeer(tc.in, ring)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("ParsePeer(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ParsePeer(%q): error %v, want one saying %q", tc.in, err, tc.err)
		}
		if err == nil {
			if back, err := ParsePeer(got.String(), ring); err != nil || back != got {
				t.Errorf("%q does not read back: %+v, %v", got.String(), back, err)
			}
		}
	}
}
