package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dhtexp/dhtexp/cluster"
	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/trace"
)

// execEnv makes the test binary act as dhtexp, so that the node and cluster commands can
// start real node processes from it (the cluster re-executes os.Executable()).
const execEnv = "DHTEXP_TEST_EXEC_MAIN"

func init() {
	if os.Getenv(execEnv) == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
}

// nodeProc is a "dhtexp node" child process.
type nodeProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	id     string
	addr   string
	stderr *strings.Builder
}

var listening = regexp.MustCompile(`^node (\d+) listening on (\S+)$`)

func startNode(t *testing.T, args ...string) *nodeProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{cmd: exec.Command(exe, append([]string{"node", "--log-level", "debug"}, args...)...), stderr: &strings.Builder{}}
	p.cmd.Env = append(os.Environ(), execEnv+"=1")
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	m := listening.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		t.Fatalf("node did not come up: %q %v\n%s", line, err, p.stderr)
	}
	p.id, p.addr = m[1], m[2]
	return p
}

// stop sends sig and checks that the node exits cleanly within a second.
func (p *nodeProc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("node %s: %v\n%s", p.id, err, p.stderr)
		}
		if el := time.Since(start); el > time.Second {
			t.Errorf("node %s took %v to leave", p.id, el)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("node %s still running 3s after %v", p.id, sig)
	}
}

func TestNodeStatusLeaveAndTrace(t *testing.T) {
	dir := t.TempDir()
	first := startNode(t, "--id", "100", "--trace", filepath.Join(dir, "first.parquet"))
	second := startNode(t, "--join", first.addr, "--seed", "5", "--trace", filepath.Join(dir, "second.parquet"))

	var st map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, stdout, stderr := dhtexp(t, "status", "--json", second.addr)
		if code != 0 {
			t.Fatalf("status: exit %d: %s", code, stderr)
		}
		st = nil
		if err := json.Unmarshal([]byte(stdout), &st); err != nil {
			t.Fatalf("%v: %s", err, stdout)
		}
		if st["connected"] == true || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st["connected"] != true || st["left"] != 100.0 || st["right"] != 100.0 || st["contact"] != 100.0 || st["left_addr"] != first.addr {
		t.Fatalf("joiner's status: %v", st)
	}
	code, stdout, _ := dhtexp(t, "status", first.addr)
	for _, want := range []string{"node      100 at " + first.addr + " (predlock-retry, 16 bits)",
		"left      " + second.id + " at " + second.addr, "flags     connected", "queue     0", "member"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, stdout)
		}
	}

	second.stop(t, syscall.SIGTERM)
	first.stop(t, os.Interrupt)
	// The joiner leaves through the variant's leave exchange if it has one, else with the
	// leave notice (TestNodeGracefulLeave has both).
	v, _ := protocol.Lookup(defaultNodeProtocol)
	if v.Leaves && !strings.Contains(second.stderr.String(), "left the ring") {
		t.Errorf("the joiner did not leave through the exchange:\n%s", second.stderr)
	}
	if !v.Leaves && !strings.Contains(first.stderr.String(), "peer left") {
		t.Errorf("the first node was not told of the leave:\n%s", first.stderr)
	}

	// The joiner's trace: wall clock, and the events the simulator would record.
	path := filepath.Join(dir, "second.parquet")
	r, err := trace.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Metadata(trace.MetaClock); c != string(trace.ClockWall) {
		t.Errorf("clock %q", c)
	}
	r.Close()
	kinds := map[string]int{}
	var last int64
	err = trace.ReadEvents(path, func(es []trace.Event) error {
		for _, e := range es {
			kinds[e.Kind]++
			if e.Node != mustAtoi(t, second.id) || e.TimeNs < last || e.TimeNs < time.Now().Add(-time.Minute).UnixNano() {
				t.Errorf("event %+v", e)
			}
			last = e.TimeNs
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{trace.KindJoinStart, trace.KindSend, trace.KindDeliver, trace.KindState, trace.KindJoinEnd, trace.KindFault} {
		if k == trace.KindFault && v.Leaves {
			continue // a graceful leave is no fault
		}
		if kinds[k] == 0 {
			t.Errorf("no %s event: %v", k, kinds)
		}
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		v = 10*v + int64(c-'0')
	}
	return v
}

// A node started with --exit-with-stdin goes when its parent closes the pipe.
func TestNodeExitsWithStdin(t *testing.T) {
	p := startNode(t, "--exit-with-stdin")
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("node still running after its stdin closed")
	}
}

func TestNodeCommandBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "--listen", ":7000"}, "with a host"},
		{[]string{"node", "--left", "1@127.0.0.1:1"}, "--left and --right go together"},
		{[]string{"node", "--left", "1@127.0.0.1:1", "--right", "2@127.0.0.1:2"}, "needs its --id"},
		{[]string{"node", "--left", "x", "--right", "2@127.0.0.1:2", "--id", "3"}, "want ID@ADDR"},
		{[]string{"node", "--join", "127.0.0.1:1", "--left", "1@127.0.0.1:1", "--right", "2@127.0.0.1:2"}, "exclude each other"},
		{[]string{"node", "--id", "70000"}, "outside the 16-bit ring"},
		{[]string{"node", "--protocol", "nope"}, "unknown protocol"},
		{[]string{"node", "--defer-join"}, "need --join"},
		{[]string{"node", "--log-level", "loud"}, "--log-level"},
		{[]string{"node", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"node", "--retries", "0"}, "--retries must be at least 1"},
		{[]string{"node", "--finger-period", "-1s"}, "--finger-period must not be negative"},
		{[]string{"node", "--hop-budget", "0"}, "--hop-budget must be in 1..65535, got 0"},
		{[]string{"node", "--hop-budget", "65536"}, "--hop-budget must be in 1..65535, got 65536"},
		{[]string{"node", "--op-timeout", "0s"}, "--op-timeout must be positive"},
		{[]string{"cluster", "--timeout", "-1s"}, "--timeout must be positive"},
		{[]string{"cluster", "--retries", "-2"}, "--retries must be at least 1"},
		{[]string{"status"}, "want one node address"},
		{[]string{"cluster", "--members", "0"}, "--members must be at least 1"},
		{[]string{"cluster", "--build", "tower"}, "prebuilt or join"},
		{[]string{"cluster", "--bits", "2", "--members", "3", "--joiners", "2"}, "do not fit"},
		{[]string{"node", "--stabilize", "1s"}, "--stabilize: protocol predlock-retry does not stabilize"},
		{[]string{"node", "--protocol", "repair", "--stabilize", "-1s"}, "--stabilize must be positive"},
		{[]string{"cluster", "--churn-kill", "2"}, "need a variant that repairs crashes"},
		{[]string{"cluster", "--protocol", "repair", "--nodes", "4", "--joiners", "0", "--churn-kill", "4"}, "would kill every one of the 4 nodes"},
		{[]string{"cluster", "--protocol", "repair", "--churn-start", "-1"}, "--churn-start must not be negative"},
	} {
		code, _, stderr := dhtexp(t, tc.args...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", tc.args, code, exitBadInput, tc.want, stderr)
		}
	}
	// Nothing listens on port 1: a failure to report, not bad input.
	if code, _, stderr := dhtexp(t, "status", "--timeout", "1s", "127.0.0.1:1"); code != exitFailure || !strings.Contains(stderr, "status of 127.0.0.1:1") {
		t.Errorf("status of nothing: exit %d: %s", code, stderr)
	}
}

func TestClusterCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	t.Setenv(execEnv, "1")
	for _, build := range []string{"prebuilt", "join"} {
		t.Run(build, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "c")
			code, stdout, stderr := dhtexp(t, "cluster", "--members", "3", "--joiners", "6", "--seed", "4",
				"--build", build, "--deadline", "20s", "-o", out)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			for _, want := range []string{"outcome: ok\n", "joins: 6/6 ok", "results: " + out} {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			// The run drew a secret and every node authenticated its frames with it.
			logs, _ := filepath.Glob(filepath.Join(out, "nodes", "*.log"))
			for _, l := range logs {
				if b, err := os.ReadFile(l); err != nil || !strings.Contains(string(b), "authenticated=true") ||
					strings.Contains(string(b), "does not authenticate") {
					t.Errorf("%s: %v\n%s", l, err, b)
				}
			}
			if len(logs) != 9 {
				t.Errorf("%d node logs, want 9", len(logs))
			}
			m, err := trace.ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Complete() || m.Done[0].Joins != 6 || m.Done[0].Events == 0 {
				t.Errorf("manifest: %+v", m.Done)
			}
			var joins []trace.Join
			if err := trace.ReadJoins(filepath.Join(out, "joins", "part-000000.parquet"), func(js []trace.Join) error {
				joins = append(joins, js...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, j := range joins {
				if j.Outcome != trace.OutcomeOK || j.EndNs <= j.StartNs || j.Messages < 5 {
					t.Errorf("join %+v", j)
				}
			}
			var seq int64
			if err := trace.ReadEvents(filepath.Join(out, "events", "part-000000.parquet"), func(es []trace.Event) error {
				for _, e := range es {
					if e.Seq != seq {
						t.Fatalf("event %d has seq %d", seq, e.Seq)
					}
					seq++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			r, err := trace.Open(filepath.Join(out, "runs", "part-000000.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			c, err := r.ReadColumns(0, "outcome", "joins_ok", "timing")
			if err != nil {
				t.Fatal(err)
			}
			if c.String("outcome")[0] != "ok" || c.Int64("joins_ok")[0] != 6 || c.String("timing")[0] != "real" {
				t.Errorf("runs row: %v %v %v", c.String("outcome"), c.Int64("joins_ok"), c.String("timing"))
			}
		})
	}
}

// A node process killed with SIGKILL in the middle of joins leaves every surviving
// newcomer with an outcome within its timeouts (connected, or failed and reported), no
// survivor waiting, locked or holding requests unless it waits for the dead node, and
// pointers that pass the safety checker
// when those to the dead node count as pending.
func TestNodeProcessKilledDuringJoins(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	tuning := []string{"--protocol", "predlock-retry", "--timeout", "50ms", "--retries", "4", "--peer-timeout", "500ms"}
	// A joiner gives up after 50+100+200+400+800 ms of silence; waits behind owners that
	// unlock after 50+100+200+400 ms can come on top.
	const bound = 2*1550*time.Millisecond + 750*time.Millisecond + 3*time.Second
	members := []protocol.ID{10000, 25000, 40000, 55000}
	// The first three join into the gap after the victim (10000), its contact.
	joiners := []protocol.ID{12000, 15000, 20000, 27000, 33000, 45000, 50000, 60000, 3000}
	addrs, err := cluster.FreePorts(len(members))
	if err != nil {
		t.Fatal(err)
	}
	m := len(members)
	var procs []*nodeProc
	for i, id := range members {
		l, r := (i+m-1)%m, (i+1)%m
		procs = append(procs, startNode(t, append([]string{"--listen", addrs[i], "--id", fmt.Sprint(id),
			"--left", fmt.Sprintf("%v@%s", members[l], addrs[l]), "--right", fmt.Sprintf("%v@%s", members[r], addrs[r])}, tuning...)...))
	}
	for i, id := range joiners {
		procs = append(procs, startNode(t, append([]string{"--id", fmt.Sprint(id), "--join", addrs[i%m], "--defer-join"}, tuning...)...))
	}
	victim, survivors := procs[0], procs[1:]
	victimID := members[0]
	vc := node.NewClient(victim.addr)
	defer vc.Close()

	for _, p := range procs[m:] {
		if _, err := io.WriteString(p.stdin, "join\n"); err != nil {
			t.Fatal(err)
		}
	}
	// Kill the victim once a join request has reached it, before it can finish serving it.
	var before node.Status
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		before, err = vc.Status(ctx)
		cancel()
		if err == nil && before.Delivered > 0 {
			break
		}
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := victim.cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("victim: %v", err)
	}

	clients := make([]*node.Client, len(survivors))
	for i, p := range survivors {
		clients[i] = node.NewClient(p.addr)
		defer clients[i].Close()
	}
	poll := func() []node.Status {
		sts := make([]node.Status, len(clients))
		for i, c := range clients {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s, err := c.Status(ctx)
			cancel()
			if err != nil {
				t.Fatalf("a survivor does not answer: %v", err)
			}
			sts[i] = s
		}
		return sts
	}
	var sts, prev []node.Status
	final := false
	for !final && time.Since(killed) < bound+2*time.Second {
		time.Sleep(50 * time.Millisecond)
		sts = poll()
		for i := range sts {
			if s := &sts[i]; (s.Left == victimID || s.Right == victimID) && (s.Locked || s.Waiting) {
				// Next to the dead node: a committed insertion, its undo, or a request to
				// be unlinked waits for it, and predlock-retry never gives those up on its
				// own, so this node keeps retransmitting to it (docs/protocol.md).
				s.Sent, s.Delivered, s.Dropped = 0, 0, 0
			}
		}
		final = slices.Equal(sts, prev)
		for _, s := range sts {
			if (s.Left == victimID || s.Right == victimID) && (s.Locked || s.Waiting) {
				continue
			}
			if (!s.Member && (s.JoinStart == 0 || !(s.Connected || s.Failed))) || s.Waiting || s.Locked || s.Queue > 0 || s.Timers > 0 {
				final = false
			}
		}
		prev = sts
	}
	settled := time.Since(killed)
	if !final {
		t.Fatalf("survivors not final %v after the kill: %+v", settled, sts)
	}
	joined, failed := 0, 0
	for _, s := range sts {
		switch {
		case s.Member:
		case s.Connected:
			joined++
		default:
			failed++
		}
	}
	ring := protocol.Ring{Bits: 16}
	dead := []protocol.ID{members[0]}
	if v := node.CheckLive(sts, dead, ring); v != nil {
		t.Errorf("%s: %s", v.Property, v.Detail)
	}
	outcome, detail, _ := node.ClassifyLive(sts, dead, ring, false)
	switch outcome {
	case observe.OutcomeOK, observe.OutcomeJoinFailed, observe.OutcomeWrongNeighbours:
	default:
		t.Errorf("outcome %s (%s)", outcome, detail)
	}
	t.Logf("SIGKILL to %v (locked %v, queue %d, %d delivered); survivors final within %v: %s (%s); of %d newcomers %d joined, %d failed",
		members[0], before.Locked, before.Queue, before.Delivered, settled.Round(10*time.Millisecond), outcome, detail, len(joiners), joined, failed)
}

// A predlock "dhtexp node" that gets SIGTERM leaves through the protocol's exchange: its
// key moves to its right neighbour, which answers for it afterwards, and the two that stay
// point to each other. A node stopped through --exit-with-stdin sends the leave notice
// instead.
func TestNodeGracefulLeave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	pl := []string{"--protocol", "predlock", "--finger-period", "0"}
	first := startNode(t, append([]string{"--id", "100"}, pl...)...)
	second := startNode(t, append([]string{"--id", "30000", "--join", first.addr, "--exit-with-stdin"}, pl...)...)
	third := startNode(t, append([]string{"--id", "50000", "--join", first.addr}, pl...)...)
	ringOf := func(want map[string][2]string, procs ...*nodeProc) {
		t.Helper()
		var sts []string
		for end := time.Now().Add(5 * time.Second); ; {
			sts = sts[:0]
			ok := true
			for _, p := range procs {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				s, err := node.QueryStatus(ctx, p.addr)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				sts = append(sts, fmt.Sprintf("%v<-%v->%v connected=%v locked=%v", s.Left, s.ID, s.Right, s.Connected, s.Locked))
				w := want[p.id]
				ok = ok && s.Connected && !s.Locked && s.Left.String() == w[0] && s.Right.String() == w[1]
			}
			if ok {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("ring not right within 5s: %v", sts)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	ringOf(map[string][2]string{"100": {"50000", "30000"}, "30000": {"100", "50000"}, "50000": {"30000", "100"}}, first, second, third)

	// "pear" hashes to 38863, which 50000 owns.
	if code, stdout, stderr := dhtexp(t, "kv", second.addr, "put", "pear", "yellow"); code != 0 || !strings.Contains(stdout, "owner 50000") {
		t.Fatalf("put: exit %d: %s%s", code, stdout, stderr)
	}
	third.stop(t, syscall.SIGTERM)
	for _, want := range []string{"leaving: asking the left neighbour", "handing the keys to the right neighbour\" node=50000 to=100 keys=1", "left the ring"} {
		if !strings.Contains(third.stderr.String(), want) {
			t.Errorf("the leaver's log lacks %q:\n%s", want, third.stderr)
		}
	}
	if strings.Contains(first.stderr.String(), "peer left") {
		t.Errorf("the right neighbour was sent the leave notice too:\n%s", first.stderr)
	}
	ringOf(map[string][2]string{"100": {"30000", "30000"}, "30000": {"100", "100"}}, first, second)
	code, stdout, stderr := dhtexp(t, "kv", second.addr, "get", "pear")
	if code != 0 || !strings.Contains(stdout, `owner 100 at `+first.addr) || !strings.Contains(stdout, `value "yellow"`) {
		t.Errorf("get after the leave: exit %d: %s%s", code, stdout, stderr)
	}

	// With its stdin closed a node goes with the notice, whatever the variant.
	second.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- second.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("node still running 3s after its stdin closed")
	}
	if !strings.Contains(second.stderr.String(), "msg=leaving") || strings.Contains(second.stderr.String(), "left the ring") {
		t.Errorf("closing stdin did not make the node leave with the notice:\n%s", second.stderr)
	}

	var b strings.Builder
	(&node.Status{ID: 5, Left: protocol.None, Right: protocol.None, Contact: protocol.None, Leaving: true, Departed: true}).WriteText(&b)
	if !strings.Contains(b.String(), "flags     leaving,departed") {
		t.Errorf("status of a departed node:\n%s", b.String())
	}
}
