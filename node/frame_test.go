package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
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
			Connected: false, Waiting: true, Locked: true, Member: false, Failed: true, Queue: 3, Timers: 2, Contact: 5,
			JoinStart: 1700000000000000000, JoinEnd: 0, Sent: 10, Delivered: 8, Dropped: 1, Error: "boom"}},
		{Type: FrameLeave, From: 42, Addr: "127.0.0.1:9", Leave: Leave{Left: 1, Right: 50, LeftAddr: "a:1", RightAddr: "b:2"}},
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
		if got != f {
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
		if err != nil || got != want {
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
	msg := frameBytes(t, sampleFrames()[0])
	status := frameBytes(t, sampleFrames()[5])
	identify := frameBytes(t, Frame{Type: FrameIdentify, From: protocol.None})
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
		{"oversized length", []byte{0, 0, 0x10, 0x01, Version}, ErrTooLarge},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}, ErrTooLarge},
		{"length below header", []byte{0, 0, 0, 2, Version, byte(FrameIdentify)}, ErrMalformed},
		{"bytes after the frame", append(bytes.Clone(identify), 0), ErrMalformed},
		{"version 0", mod(identify, func(b []byte) []byte { b[4] = 0; return b }), ErrVersion},
		{"version 2", mod(msg, func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{"unknown frame type 0", mod(identify, func(b []byte) []byte { b[5] = 0; return b }), ErrMalformed},
		{"unknown frame type 200", mod(identify, func(b []byte) []byte { b[5] = 200; return b }), ErrMalformed},
		{"address runs past the body", mod(identify, func(b []byte) []byte { b[14] = 40; return b }), ErrMalformed},
		{"payload after identify", withLength(append(bytes.Clone(identify), 1, 2, 3)), ErrMalformed},
		{"unknown message type", mod(msg, func(b []byte) []byte { b[15+len("127.0.0.1:4000")] = 99; return b }), ErrMalformed},
		{"message type 0", mod(msg, func(b []byte) []byte { b[15+len("127.0.0.1:4000")] = 0; return b }), ErrMalformed},
		{"message cut inside an ID", withLength(bytes.Clone(msg[:len(msg)-len("127.0.0.1:4000")-10])), ErrMalformed},
		{"status with unknown flags", mod(status, func(b []byte) []byte { b[15+len("127.0.0.1:9")+1] |= 0x80; return b }), ErrMalformed},
		{"status cut short", withLength(bytes.Clone(status[:40])), ErrMalformed},
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
		if back, _, err := ReadFrame(bytes.NewReader(b), nil); err != nil || back != fr {
			t.Fatalf("ReadFrame disagrees: %v", err)
		}
	})
}
