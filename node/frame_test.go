package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/dhtexp/dhtexp/protocol"
)

func sampleFrames() []Frame {
	return []Frame{
		{Type: FrameMessage, From: 7, Addr: "127.0.0.1:4000",
			Msg:        protocol.Message{Type: protocol.Connect, From: 7, To: 9, Joiner: 7, Neighbour: protocol.None},
			JoinerAddr: "127.0.0.1:4000"},
		{Type: FrameMessage, From: 9, Addr: "[::1]:5000",
			Msg:        protocol.Message{Type: protocol.Welcome, From: 9, To: 3, Joiner: 3, Neighbour: 12},
			JoinerAddr: "127.0.0.1:1", NeighbourAddr: "127.0.0.1:2"},
		{Type: FrameIdentify, From: protocol.None},
		{Type: FrameIdentity, From: 42, Addr: "127.0.0.1:9", Identity: Identity{ID: 42, Addr: "127.0.0.1:9", Bits: 16, Protocol: "predlock"}},
		{Type: FrameStatusRequest, From: protocol.None},
		{Type: FrameStatus, From: 42, Addr: "127.0.0.1:9", Status: Status{ID: 42, Addr: "127.0.0.1:9",
			Protocol: "seed", Bits: 62, Left: 1, Right: protocol.None, LeftAddr: "127.0.0.1:10",
			Connected: false, Waiting: true, Locked: true, Member: false, Failed: true, Leaving: true, Departed: true, Queue: 3, Timers: 2, Keys: 1 << 20, Fingers: 7, Contact: 5,
			JoinStart: 1700000000000000000, JoinEnd: 0, Sent: 10, Delivered: 8, Dropped: 1, Error: "boom"}},
		{Type: FrameLeave, From: 42, Addr: "127.0.0.1:9", Leave: Leave{Left: 1, Right: 50, LeftAddr: "a:1", RightAddr: "b:2"}},
		{Type: FrameMessage, From: 9, Addr: "127.0.0.1:5000",
			Msg: protocol.Message{Type: protocol.KeyGet, Hops: 3, From: 9, To: 12, Joiner: 3, Neighbour: protocol.None,
				Key: 40000, Op: 77, Data: &protocol.Data{Key: "colour"}},
			JoinerAddr: "127.0.0.1:1"},
		{Type: FrameMessage, From: 12, Addr: "127.0.0.1:6000",
			Msg: protocol.Message{Type: protocol.KeyReply, Status: uint8(protocol.StatusOK), Hops: 65535, From: 12, To: 3,
				Joiner: 3, Neighbour: 12, Key: 40000, Op: 1<<63 | 5, Data: &protocol.Data{Key: "colour", Value: []byte("blue\x00")}},
			JoinerAddr: "127.0.0.1:1", NeighbourAddr: "127.0.0.1:6000"},
		{Type: FrameMessage, From: 12, Addr: "127.0.0.1:6000", More: true,
			Msg: protocol.Message{Type: protocol.LeftSet, From: 12, To: 3, Joiner: 3, Neighbour: protocol.None,
				Data: &protocol.Data{Items: []protocol.Item{{ID: 1, Key: "a", Value: []byte("x")}, {ID: 2, Key: strings.Repeat("k", 255)}}}}},
		{Type: FrameMessage, From: 12, Addr: "127.0.0.1:6000",
			Msg: protocol.Message{Type: protocol.LeftSet, From: 12, To: 3, Joiner: 3, Neighbour: protocol.None, Data: &protocol.Data{}}},
		{Type: FrameKVRequest, From: protocol.None, KVRequest: KVRequest{Kind: protocol.OpPut, Op: 1, Key: "colour", Value: []byte("blue")}},
		{Type: FrameKVRequest, From: protocol.None, KVRequest: KVRequest{Kind: 99, Op: 1<<64 - 1, Key: strings.Repeat("k", 300)}},
		{Type: FrameKVReply, From: 12, Addr: "127.0.0.1:6000", KVReply: KVReply{Kind: protocol.OpGet, Status: protocol.StatusOK,
			Op: 1, KeyID: 40000, Owner: 12, OwnerAddr: "127.0.0.1:6000", Hops: 2, Value: []byte("blue")}},
		{Type: FrameKVReply, From: 12, Addr: "127.0.0.1:6000", KVReply: KVReply{Kind: 99, Status: StatusRefused,
			Op: 2, KeyID: protocol.None, Owner: protocol.None, Error: "operation: unknown operation 99"}},
		{Type: FrameError, From: 12, Addr: "127.0.0.1:6000", Error: "malformed frame: unknown frame type 200"},
		{Type: FrameMessage, From: 50000, Addr: "127.0.0.1:7102",
			Msg: protocol.Message{Type: protocol.LeaveKeys, From: 50000, To: 100, Joiner: 50000, Neighbour: 30000,
				Data: &protocol.Data{Items: []protocol.Item{{ID: 38863, Key: "pear", Value: []byte("yellow")}}}},
			JoinerAddr: "127.0.0.1:7102", NeighbourAddr: "127.0.0.1:7101"},
		{Type: FrameMessage, From: 50000, Addr: "127.0.0.1:7102",
			Msg: protocol.Message{Type: protocol.KeyReplica, From: 50000, To: 100, Joiner: 30000, Neighbour: protocol.None, Hops: 1,
				Data: &protocol.Data{Items: []protocol.Item{{ID: 38863, Key: "pear", Value: []byte("yellow")}},
					Replicas: []protocol.Item{{ID: 14971, Key: "apple", Value: []byte("green")}, {ID: 1, Key: "x"}}}}},
		{Type: FrameMessage, From: 50000, Addr: "127.0.0.1:7102",
			Msg: protocol.Message{Type: protocol.RepairState, Status: 3, From: 50000, To: 100, Joiner: 50000, Neighbour: 30000, Op: 9,
				Data: &protocol.Data{Succs: []protocol.ID{60000, 1, protocol.None}}}},
		{Type: FrameMessage, From: 50000, Addr: "127.0.0.1:7102",
			Msg: protocol.Message{Type: protocol.RepairPush, From: 50000, To: 100, Joiner: 50000, Neighbour: protocol.None, Key: 30000,
				Data: &protocol.Data{Items: []protocol.Item{{ID: 38863, Key: "pear", Value: []byte("yellow")}}, Succs: []protocol.ID{7}}}},
		{Type: FrameMessage, From: 50000, Addr: "127.0.0.1:7102",
			Msg: protocol.Message{Type: protocol.RepairState, Status: 3, From: 50000, To: 100, Joiner: protocol.None, Neighbour: 30000, Op: 9,
				Data: &protocol.Data{Succs: []protocol.ID{60000, 1, 2}}},
			NeighbourAddr: "127.0.0.1:7101", SuccAddrs: []string{"127.0.0.1:7103", "", "127.0.0.1:7104"}},
		{Type: FrameStoreRequest, From: protocol.None, StoreFrom: 70000},
		{Type: FrameStore, From: 12, Addr: "127.0.0.1:6000", Store: Store{Total: 4, From: 1,
			Items:    []protocol.Item{{ID: 38863, Key: "pear", Value: []byte("yellow")}},
			Replicas: []protocol.Item{{ID: 14971, Key: "apple", Value: []byte("green")}, {ID: 1, Key: "x"}}}},
		{Type: FrameStore, From: 12, Addr: "127.0.0.1:6000", Store: Store{Total: 9, From: 9}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	var stream []byte
	for _, f := range sampleFrames() {
		b, err := AppendFrame(nil, &f)
		if err != nil {
			t.Fatalf("%s: %v", f.Type, err)
		}
		got, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("%s: %v", f.Type, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", f.Type, got, f)
		}
		stream = append(stream, b...)
	}
	// Back to back on one stream, as a connection carries them.
	r := bytes.NewReader(stream)
	var buf []byte
	for _, want := range sampleFrames() {
		var got Frame
		var err error
		got, buf, err = ReadFrame(r, buf)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("stream: %v\n%+v\nwant\n%+v", err, got, want)
		}
	}
	if _, _, err := ReadFrame(r, buf); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

// frameBytes encodes a valid frame, for tests that then break it.
func frameBytes(t testing.TB, f Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, &f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withLength sets a frame's length prefix to the length of what follows it.
func withLength(b []byte) []byte {
	binary.BigEndian.PutUint32(b, uint32(len(b)-lengthSize))
	return b
}

// badFrames are byte strings that must not decode, with the error each must give.
func badFrames(t testing.TB) []struct {
	name string
	b    []byte
	want error
} {
	samples := sampleFrames()
	msg := frameBytes(t, samples[0])
	status := frameBytes(t, samples[5])
	identify := frameBytes(t, Frame{Type: FrameIdentify, From: protocol.None})
	get := frameBytes(t, samples[7])  // a get with data: key "colour", no value, no items
	part := frameBytes(t, samples[9]) // a handoff with More set and two items
	kvReq := frameBytes(t, samples[11])
	kvReply := frameBytes(t, samples[13])
	errFrame := frameBytes(t, samples[15])
	// Offsets into get: the header with a 14-byte address, the message fields, the joiner
	// address and an empty neighbour address.
	getFlags := 15 + 14 + 1 + 1 + 2 + 5*8 + 1 + 11 + 1
	// part: its data flags, empty key and value, then the item count.
	partFlags := 15 + 14 + 1 + 1 + 2 + 5*8 + 1 + 1
	partCount := partFlags + 1 + 2 + 2
	mod := func(b []byte, f func([]byte) []byte) []byte { return f(bytes.Clone(b)) }
	return []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"partial length", []byte{0, 0}, ErrTruncated},
		{"length only", []byte{0, 0, 0, 20}, ErrTruncated},
		{"body cut short", msg[:len(msg)-3], ErrTruncated},
		{"oversized length", append(binary.BigEndian.AppendUint32(nil, MaxFrameSize+1), Version), ErrTooLarge},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"length below header", []byte{0, 0, 0, 2, Version, byte(FrameIdentify)}, ErrMalformed},
		{"bytes after the frame", append(bytes.Clone(identify), 0), ErrMalformed},
		{"version 0", mod(identify, func(b []byte) []byte { b[4] = 0; return b }), ErrVersion},
		{"version 1", mod(msg, func(b []byte) []byte { b[4] = 1; return b }), ErrVersion},
		{"version 2", mod(kvReq, func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{"version 3", mod(kvReq, func(b []byte) []byte { b[4] = 3; return b }), ErrVersion},
		{"version 5", mod(kvReq, func(b []byte) []byte { b[4] = 5; return b }), ErrVersion},
		{"unknown frame type 0", mod(identify, func(b []byte) []byte { b[5] = 0; return b }), ErrMalformed},
		{"unknown frame type 200", mod(identify, func(b []byte) []byte { b[5] = 200; return b }), ErrMalformed},
		{"address runs past the body", mod(identify, func(b []byte) []byte { b[14] = 40; return b }), ErrMalformed},
		{"payload after identify", withLength(append(bytes.Clone(identify), 1, 2, 3)), ErrMalformed},
		{"unknown message type", mod(msg, func(b []byte) []byte { b[15+len("127.0.0.1:4000")] = 99; return b }), ErrMalformed},
		{"message type 0", mod(msg, func(b []byte) []byte { b[15+len("127.0.0.1:4000")] = 0; return b }), ErrMalformed},
		{"message cut inside an ID", withLength(bytes.Clone(msg[:len(msg)-len("127.0.0.1:4000")-10])), ErrMalformed},
		{"status with unknown flags", mod(status, func(b []byte) []byte { b[15+len("127.0.0.1:9")+1] |= 0x80; return b }), ErrMalformed},
		{"status cut short", withLength(bytes.Clone(status[:40])), ErrMalformed},
		{"unknown data flags", mod(get, func(b []byte) []byte { b[getFlags] |= 0x04; return b }), ErrMalformed},
		{"more without data", mod(get, func(b []byte) []byte { b[getFlags] = dataMore; return withLength(b[:getFlags+1]) }), ErrMalformed},
		{"data key runs past the body", mod(get, func(b []byte) []byte { b[getFlags+1] = 0xff; return b }), ErrMalformed},
		{"item count beyond the body", mod(part, func(b []byte) []byte { b[partCount] = 0xff; return b }), ErrMalformed},
		{"item count below the items", mod(part, func(b []byte) []byte { b[partCount+1] = 1; return b }), ErrMalformed},
		{"item cut short", withLength(bytes.Clone(part[:len(part)-3])), ErrMalformed},
		{"kv request cut short", withLength(bytes.Clone(kvReq[:len(kvReq)-3])), ErrMalformed},
		{"kv request value past the body", withLength(append(bytes.Clone(kvReq[:len(kvReq)-4-2]), 0x10, 0x00, 'x')), ErrMalformed},
		{"kv reply with an unknown status", mod(kvReply, func(b []byte) []byte { b[15+14+1] = 200; return b }), ErrMalformed},
		{"kv reply with bytes left", withLength(append(bytes.Clone(kvReply), 0)), ErrMalformed},
		{"error frame with bytes left", withLength(append(bytes.Clone(errFrame), 0)), ErrMalformed},
	}
}

func TestDecodeBadFrames(t *testing.T) {
	for _, tc := range badFrames(t) {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodeFrame(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeFrame: %v (frame %+v), want %v", err, f, tc.want)
			}
			// A stream gives the same verdict, except that a stream that ends exactly at
			// a frame boundary is a clean close, and a length prefix that promises more
			// than the stream holds is a truncation however the rest looks.
			_, _, err = ReadFrame(bytes.NewReader(tc.b), nil)
			switch {
			case len(tc.b) == 0:
				if err != io.EOF {
					t.Errorf("ReadFrame of nothing: %v, want io.EOF", err)
				}
			case tc.name == "bytes after the frame":
				if err != nil {
					t.Errorf("ReadFrame: %v; the extra byte belongs to the next frame", err)
				}
			case !errors.Is(err, tc.want):
				t.Errorf("ReadFrame: %v, want %v", err, tc.want)
			}
		})
	}
}

// An oversized length is refused before the body is read or allocated.
func TestReadFrameRefusesOversizedBeforeReading(t *testing.T) {
	r := io.MultiReader(bytes.NewReader([]byte{0, 1, 0, 0}), failingReader{t})
	_, buf, err := ReadFrame(r, nil)
	if !errors.Is(err, ErrTooLarge) || cap(buf) != 0 {
		t.Fatalf("err %v, buffer of %d bytes", err, cap(buf))
	}
}

type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Error("body read after an oversized length")
	return 0, io.EOF
}

func TestAppendFrameRefuses(t *testing.T) {
	long := strings.Repeat("x", MaxString+1)
	for name, f := range map[string]Frame{
		"long address":         {Type: FrameIdentify, From: protocol.None, Addr: long},
		"long protocol":        {Type: FrameIdentity, From: 1, Identity: Identity{Protocol: long}},
		"foreign message":      {Type: FrameMessage, From: 1, Msg: protocol.Message{Type: protocol.Connect, From: 2}},
		"unknown message type": {Type: FrameMessage, From: 1, Msg: protocol.Message{Type: 99, From: 1}},
		"unknown frame type":   {Type: 99},
		"negative queue":       {Type: FrameStatus, Status: Status{Queue: -1}},
		"negative timers":      {Type: FrameStatus, Status: Status{Timers: -1}},
		"negative keys":        {Type: FrameStatus, Status: Status{Keys: -1}},
		"unknown reply status": {Type: FrameKVReply, KVReply: KVReply{Status: 200}},
		"too many hops":        {Type: FrameKVReply, KVReply: KVReply{Status: protocol.StatusOK, Hops: 1 << 16}},
		"long value":           {Type: FrameKVRequest, KVRequest: KVRequest{Kind: protocol.OpPut, Key: "k", Value: make([]byte, MaxBytes+1)}},
		"more without data":    {Type: FrameMessage, From: 1, More: true, Msg: protocol.Message{Type: protocol.LeftSet, From: 1}},
	} {
		b, err := AppendFrame([]byte("keep"), &f)
		if !errors.Is(err, ErrMalformed) || string(b) != "keep" {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
}

// FuzzDecodeFrame checks that no input panics the decoder, that errors are of the
// documented kinds, and that the encoding is canonical: a frame that decodes encodes back
// to exactly the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(frameBytes(f, fr))
	}
	for _, tc := range badFrames(f) {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrTooLarge) &&
				!errors.Is(err, ErrVersion) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		again, err := AppendFrame(nil, &fr)
		if err != nil {
			t.Fatalf("decoded frame does not encode: %v\n%+v", err, fr)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n% x\n% x", b, again)
		}
		if back, _, err := ReadFrame(bytes.NewReader(b), nil); err != nil || !reflect.DeepEqual(back, fr) {
			t.Fatalf("ReadFrame disagrees: %v", err)
		}
	})
}
