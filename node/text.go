package node

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dhtexp/dhtexp/protocol"
)

// kvJSON is WriteKVReply's JSON form.
type kvJSON struct {
	Op          string  `json:"op"`
	Key         string  `json:"key"`
	KeyID       *uint64 `json:"key_id"`
	Status      string  `json:"status"`
	Owner       *uint64 `json:"owner"`
	OwnerAddr   string  `json:"owner_addr,omitempty"`
	Hops        int     `json:"hops"`
	Value       *string `json:"value,omitempty"`        // get: the value, when it is UTF-8
	ValueBase64 string  `json:"value_base64,omitempty"` // get: the value, when it is not
	Error       string  `json:"error,omitempty"`
}

// WriteKVReply prints the reply to a kind operation on key as one line ("dhtexp kv"), or
// as a JSON object with asJSON, where unknown IDs are null.
func WriteKVReply(w io.Writer, asJSON bool, kind protocol.OpKind, key string, r *KVReply) error {
	found := kind == protocol.OpGet && r.Status == protocol.StatusOK
	if asJSON {
		out := kvJSON{Op: kind.String(), Key: key, KeyID: optID(r.KeyID), Status: StatusName(r.Status),
			Owner: optID(r.Owner), OwnerAddr: r.OwnerAddr, Hops: r.Hops, Error: r.Error}
		if found {
			if utf8.Valid(r.Value) {
				v := string(r.Value)
				out.Value = &v
			} else {
				out.ValueBase64 = base64.StdEncoding.EncodeToString(r.Value)
			}
		}
		return json.NewEncoder(w).Encode(out)
	}
	line := fmt.Sprintf("%s %s %q", StatusName(r.Status), kind, key)
	if r.KeyID != protocol.None {
		line += fmt.Sprintf(" (key id %v)", r.KeyID)
	}
	switch {
	case r.Owner == protocol.None:
		line += ": owner unknown"
	case r.OwnerAddr == "":
		line += fmt.Sprintf(": owner %v", r.Owner)
	default:
		line += fmt.Sprintf(": owner %v at %s", r.Owner, r.OwnerAddr)
	}
	line += ", " + strconv.Itoa(r.Hops) + " hop"
	if r.Hops != 1 {
		line += "s"
	}
	if found {
		line += ", value " + strconv.Quote(string(r.Value))
	}
	if r.Error != "" {
		line += ": " + r.Error
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// WriteText prints the status for people, one field a line ("dhtexp status").
func (s *Status) WriteText(w io.Writer) {
	peer := func(id protocol.ID, addr string) string {
		if id == protocol.None {
			return "-"
		}
		if addr == "" {
			return id.String()
		}
		return fmt.Sprintf("%v at %s", id, addr)
	}
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{s.Connected, "connected"}, {s.Waiting, "waiting"}, {s.Locked, "locked"}, {s.Failed, "failed"},
		{s.Leaving, "leaving"}, {s.Departed, "departed"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	if len(flags) == 0 {
		flags = []string{"-"}
	}
	join := "member (started inside the ring)"
	switch {
	case s.Member:
	case s.JoinEnd != 0:
		join = fmt.Sprintf("joined through %v in %v", s.Contact, time.Duration(s.JoinEnd-s.JoinStart))
	case s.Failed:
		join = fmt.Sprintf("failed: gave up joining through %v after its retries", s.Contact)
	case s.JoinStart != 0:
		join = fmt.Sprintf("joining through %v for %v", s.Contact, time.Since(time.Unix(0, s.JoinStart)).Round(time.Millisecond))
	default:
		join = fmt.Sprintf("not started (contact %v)", s.Contact)
	}
	fmt.Fprintf(w, "node      %v at %s (%s, %d bits)\n", s.ID, s.Addr, s.Protocol, s.Bits)
	fmt.Fprintf(w, "left      %s\n", peer(s.Left, s.LeftAddr))
	fmt.Fprintf(w, "right     %s\n", peer(s.Right, s.RightAddr))
	fmt.Fprintf(w, "flags     %s\n", strings.Join(flags, ","))
	fmt.Fprintf(w, "queue     %d\n", s.Queue)
	fmt.Fprintf(w, "timers    %d pending\n", s.Timers)
	fmt.Fprintf(w, "keys      %d stored, %d fingers\n", s.Keys, s.Fingers)
	fmt.Fprintf(w, "join      %s\n", join)
	fmt.Fprintf(w, "messages  sent %d, delivered %d, dropped %d\n", s.Sent, s.Delivered, s.Dropped)
	fmt.Fprintf(w, "auth      %d connections refused (hello or frame did not authenticate)\n", s.AuthRefused)
	if s.Error != "" {
		fmt.Fprintf(w, "error     %s\n", s.Error)
	}
}

// String writes the peer as ID@ADDR, the form ParsePeer reads.
func (p Peer) String() string { return fmt.Sprintf("%v@%s", p.ID, p.Addr) }

// ParsePeer reads ID@ADDR, where ID is on ring and ADDR is HOST:PORT.
func ParsePeer(v string, ring protocol.Ring) (Peer, error) {
	idText, addr, ok := strings.Cut(v, "@")
	id, err := strconv.ParseUint(idText, 10, 64)
	if !ok || err != nil || !ring.Contains(protocol.ID(id)) {
		return Peer{}, fmt.Errorf("want ID@ADDR with an ID on the %d-bit ring, got %q", ring.Bits, v)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Peer{}, err
	}
	return Peer{ID: protocol.ID(id), Addr: addr}, nil
}
