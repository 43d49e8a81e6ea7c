package cluster

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/dhtexp/dhtexp/analysis/stats"
	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/params"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/sim"
	"github.com/dhtexp/dhtexp/trace"
)

// Options describe a cluster of node processes. Run expects them checked (Validate): Members at
// least 1, Joiners not negative, Deadline positive, Build "prebuilt" or "join", Protocol a
// variant, every node's ID fitting Bits, and churn only with a variant that repairs.
type Options struct {
	Members, Joiners int
	Protocol         string
	Bits             uint
	Seed             uint64 // of the IDs and the contacts
	Deadline         time.Duration
	// Build is "prebuilt" (members start as a correct ring) or "join" (members join one
	// at a time through the first).
	Build       string
	PeerTimeout time.Duration // the nodes' --peer-timeout
	Timeout     time.Duration // the nodes' --timeout
	Retries     int           // the nodes' --retries
	LogLevel    string        // the nodes' --log-level
	Out         string        // the result folder; nodes/ holds each node's log and trace
	// Exe is the program started once per node as "Exe node FLAGS..."
	Exe string
	// Log hears of trouble that does not stop the run, such as a node that left no trace.
	Log io.Writer
	// Secret is the cluster secret the nodes authenticate their frames with; nil: Run draws
	// one for the run. The nodes get it in their environment (node.SecretEnv), never on
	// their command lines.
	Secret []byte

	// Stabilize is the nodes' --stabilize, passed only to a variant that stabilizes (0: its
	// default); Replicas their --replicas.
	Stabilize time.Duration
	Replicas  int
	// Keys are put through random nodes once the joins have settled, and judged at the end:
	// each must be reachable and have min(Replicas+1, live nodes) live copies.
	Keys int
	// Churn, after the keys: ChurnKill nodes are killed with SIGKILL and ChurnStart new
	// nodes join through a random live node, one event every ChurnInterval (0: three
	// stabilization periods), in a seeded order. The ring then has ChurnSettle stabilization
	// periods after the last event to become correct with every key replicated.
	ChurnKill, ChurnStart int
	ChurnInterval         time.Duration
	ChurnSettle           int
}

// DefaultChurnSettle is how many stabilization periods a ring has to repair itself after
// churn, as the simulator's churn settle (sim.Churn.Settle).
const DefaultChurnSettle = 20

// churn reports whether the run has churn.
func (o *Options) churn() bool { return o.ChurnKill > 0 || o.ChurnStart > 0 }

// period is the stabilization period in effect.
func (o *Options) period() time.Duration {
	if o.Stabilize > 0 {
		return o.Stabilize
	}
	return time.Duration(protocol.DefaultStabilize)
}

// interval is the time between two churn events.
func (o *Options) interval() time.Duration {
	if o.ChurnInterval > 0 {
		return o.ChurnInterval
	}
	return 3 * o.period()
}

// repairs reports whether the variant stabilizes (protocol.Variant.Repairs).
func (o *Options) repairs() bool {
	v, err := protocol.Lookup(o.Protocol)
	return err == nil && v.Repairs
}

// spec is the cluster's parameters as the manifest records them.
func (o *Options) spec() string {
	s := fmt.Sprintf("# dhtexp cluster\nmembers = %d\njoiners = %d\nprotocol = %q\nbits = %d\nseed = %d\ndeadline = %q\nbuild = %q\npeer_timeout = %q\ntimeout = %q\nretries = %d\n",
		o.Members, o.Joiners, o.Protocol, o.Bits, o.Seed, o.Deadline, o.Build, o.PeerTimeout, o.Timeout, o.Retries)
	// Written only when set, so that the spec hash of a run without them stays what it was.
	if o.repairs() {
		s += fmt.Sprintf("stabilize = %q\n", o.period())
	}
	if o.Replicas != 0 || o.Keys != 0 {
		s += fmt.Sprintf("replicas = %d\nkeys = %d\n", o.Replicas, o.Keys)
	}
	if o.churn() {
		s += fmt.Sprintf("churn_kill = %d\nchurn_start = %d\nchurn_interval = %q\nchurn_settle = %d\n",
			o.ChurnKill, o.ChurnStart, o.interval(), o.ChurnSettle)
	}
	return s
}

// proc is one node process.
type proc struct {
	id      protocol.ID
	addr    string
	member  bool
	contact protocol.ID
	trace   string
	client  *node.Client
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	exited  chan struct{}
	waitErr error
	killed  bool // by the churn, with SIGKILL
	crashed bool // exited by itself while the cluster ran (its log says why)
}

// cluster is one run's processes.
type cluster struct {
	o     Options
	ring  protocol.Ring
	procs []*proc
	byID  map[protocol.ID]*proc
	dead  []protocol.ID // killed by the churn
	// pending are the nodes the churn will start, not yet in procs.
	pending []*proc
}

// Run starts the cluster's node processes, lets the joiners join at once, judges the ring
// once it is quiet or the deadline passed, and writes the result set to o.Out. Every
// process it started is stopped before it returns, also on error; when ctx is cancelled
// it returns ctx's error.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Secret == nil {
		var b [32]byte
		if _, err := crand.Read(b[:]); err != nil {
			return nil, err
		}
		o.Secret = []byte(hex.EncodeToString(b[:]))
	}
	cl := &cluster{o: o, ring: protocol.Ring{Bits: o.Bits}, byID: map[protocol.ID]*proc{}}
	started := time.Now()
	res, err := cl.run(ctx)
	// Every process goes, whatever happened above.
	cl.stopAll()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if err := cl.writeResults(res, started, time.Now()); err != nil {
		return nil, fmt.Errorf("writing results to %s: %w", o.Out, err)
	}
	return res, nil
}

// Result is what a cluster run found out.
type Result struct {
	Statuses    []node.Status // of the nodes alive at the end
	Outcome     string
	Detail      string
	Violation   string // the safety property broken in the final state, if any
	RingCorrect bool
	Late        bool      // the deadline passed before the ring was quiet
	JoinSignal  time.Time // when the joiners were told to join
	Settled     time.Time
	Joins       int     // joiners alive at the end (with churn, those started during it too)
	Latencies   []int64 // their successful joins, sorted
	Failed      int     // joiners that gave up and reported it
	FirstStart  int64   // Unix ns when the first joiner started its join; 0 when none did
	LastEnd     int64   // Unix ns when the last successful join ended

	Keys  *KeyCheck // with Options.Keys: the keys as judged at the end
	Churn *Churn    // with churn: what it did and how the ring recovered
}

// Churn is what the churn did and how the ring came through it.
type Churn struct {
	Killed, Started []protocol.ID
	Start, End      time.Time // the first and the last event
	// RingCorrect is when the ring of live nodes was first seen correct after the last event
	// (and stayed so until the end); zero when it never was.
	RingCorrect time.Time
}

func (cl *cluster) run(ctx context.Context) (*Result, error) {
	o := &cl.o
	if err := os.MkdirAll(filepath.Join(o.Out, "nodes"), 0o755); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(o.Seed, 0x636c7573))
	ids := make([]protocol.ID, 0, o.Members+o.Joiners)
	seen := map[protocol.ID]bool{}
	for len(ids) < o.Members+o.Joiners {
		id := protocol.ID(r.Uint64N(cl.ring.Size()))
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	members := slices.Clone(ids[:o.Members])
	slices.Sort(members)
	// The churn's newcomers' IDs come after, so that the IDs of a run without churn are
	// what they were.
	idsChurn := make([]protocol.ID, 0, o.ChurnStart)
	for len(idsChurn) < o.ChurnStart {
		id := protocol.ID(r.Uint64N(cl.ring.Size()))
		if !seen[id] {
			seen[id] = true
			idsChurn = append(idsChurn, id)
		}
	}
	addrs, err := FreePorts(len(ids) + o.ChurnStart)
	if err != nil {
		return nil, err
	}
	addrsChurn := addrs[len(ids):]
	for i, id := range members {
		cl.add(&proc{id: id, addr: addrs[i], member: true, contact: protocol.None})
	}
	for k, id := range ids[o.Members:] {
		cl.add(&proc{id: id, addr: addrs[o.Members+k], contact: members[r.IntN(len(members))]})
	}
	// The nodes the churn starts; their contacts are drawn when they start.
	newcomers := make([]*proc, o.ChurnStart)
	for k := range newcomers {
		newcomers[k] = &proc{id: idsChurn[k], addr: addrsChurn[k], contact: protocol.None}
	}
	cl.pending = newcomers

	// The members.
	m := len(members)
	switch o.Build {
	case "prebuilt":
		for i := range m {
			p, l, rr := cl.procs[i], cl.procs[(i+m-1)%m], cl.procs[(i+1)%m]
			left, right := node.Peer{ID: l.id, Addr: l.addr}, node.Peer{ID: rr.id, Addr: rr.addr}
			if err := cl.start(p, "--left", left.String(), "--right", right.String()); err != nil {
				return nil, err
			}
		}
		for _, p := range cl.procs[:m] {
			if _, err := cl.waitUp(ctx, p, 10*time.Second); err != nil {
				return nil, err
			}
		}
	case "join":
		first := cl.procs[0]
		if err := cl.start(first); err != nil {
			return nil, err
		}
		if _, err := cl.waitUp(ctx, first, 10*time.Second); err != nil {
			return nil, err
		}
		end := time.Now().Add(o.Deadline)
		for _, p := range cl.procs[1:m] {
			p.contact = first.id
			if err := cl.start(p, "--join", first.addr); err != nil {
				return nil, err
			}
			for {
				s, err := cl.waitUp(ctx, p, time.Until(end))
				if err != nil {
					return nil, err
				}
				if s.Connected {
					break
				}
				if time.Now().After(end) {
					return nil, fmt.Errorf("member %v did not join within %v while building the ring", p.id, o.Deadline)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	// The joiners identify their contacts, wait for a "join" line, and then all get it at
	// once, so that process start-up times do not spread the joins out.
	for _, p := range cl.procs[m:] {
		if err := cl.start(p, "--join", cl.byID[p.contact].addr, "--defer-join"); err != nil {
			return nil, err
		}
	}
	for _, p := range cl.procs[m:] {
		if _, err := cl.waitUp(ctx, p, 10*time.Second); err != nil {
			return nil, err
		}
	}
	res := &Result{JoinSignal: time.Now()}
	for _, p := range cl.procs[m:] {
		if _, err := io.WriteString(p.stdin, "join\n"); err != nil {
			return nil, fmt.Errorf("node %v: %w", p.id, err)
		}
	}

	var (
		sts  []node.Status
		late bool
	)
	if o.repairs() {
		// Stabilization never goes quiet: the ring has settled once it is right and stays so.
		sts, late, _, _, err = cl.settleLive(ctx, res.JoinSignal.Add(o.Deadline), nil)
	} else {
		sts, late, err = cl.settle(ctx, res.JoinSignal.Add(o.Deadline))
	}
	if res, ok := cl.crashResult(ctx, res, err); ok {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	res.Settled = time.Now()
	cl.judge(res, sts, late)
	if (o.Keys == 0 && !o.churn()) || res.Outcome != observe.OutcomeOK {
		// A ring that did not form is the run's outcome: nothing is put into it.
		return res, nil
	}
	return cl.keysAndChurn(ctx, res)
}

// crashResult makes a node process that exited by itself the run's outcome, crash, judged
// over the nodes still alive: a result, not an error of the cluster.
func (cl *cluster) crashResult(ctx context.Context, res *Result, err error) (*Result, bool) {
	var c *crashedNode
	if !errors.As(err, &c) {
		return nil, false
	}
	sts, perr := cl.poll(ctx)
	if perr != nil {
		sts = nil
	}
	res.Settled = time.Now()
	cl.judge(res, sts, true)
	res.Outcome, res.Detail = observe.OutcomeCrash, c.Error()
	return res, true
}

// judge fills in the outcome and the joins from the statuses of the live nodes.
func (cl *cluster) judge(res *Result, sts []node.Status, late bool) {
	res.Statuses, res.Late = sts, late
	res.Outcome, res.Detail, res.RingCorrect = node.ClassifyLive(sts, cl.dead, cl.ring, late)
	if v := node.CheckLive(sts, cl.dead, cl.ring); v != nil {
		res.Violation = v.Property
	}
	// Only the joiners count: with --build join the members joined too, one at a time.
	res.Joins, res.Failed, res.FirstStart, res.LastEnd, res.Latencies = 0, 0, 0, 0, nil
	for _, s := range sts {
		if p := cl.byID[s.ID]; p == nil || p.member {
			continue
		}
		res.Joins++
		if s.Failed && !s.Connected {
			res.Failed++
		}
		if s.JoinStart == 0 {
			continue
		}
		if res.FirstStart == 0 || s.JoinStart < res.FirstStart {
			res.FirstStart = s.JoinStart
		}
		if s.JoinEnd != 0 {
			res.Latencies = append(res.Latencies, s.JoinEnd-s.JoinStart)
			res.LastEnd = max(res.LastEnd, s.JoinEnd)
		}
	}
	slices.Sort(res.Latencies)
}

func (cl *cluster) add(p *proc) {
	p.trace = filepath.Join(cl.o.Out, "nodes", fmt.Sprintf("%v.parquet", p.id))
	p.client = node.NewClient(p.addr, node.WithSecret(cl.o.Secret))
	cl.procs = append(cl.procs, p)
	cl.byID[p.id] = p
}

// FreePorts finds n distinct free loopback ports by binding them all at once. Another
// program could take one between here and the node binding it; the node then fails to
// start and the cluster reports it.
func FreePorts(n int) ([]string, error) {
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	addrs := make([]string, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs[i] = ln.Addr().String()
	}
	return addrs, nil
}

func (cl *cluster) start(p *proc, extra ...string) error {
	o := &cl.o
	args := append([]string{"node", "--listen", p.addr, "--id", strconv.FormatUint(uint64(p.id), 10),
		"--bits", strconv.FormatUint(uint64(o.Bits), 10), "--protocol", o.Protocol,
		"--trace", p.trace, "--exit-with-stdin", "--peer-timeout", o.PeerTimeout.String(),
		"--timeout", o.Timeout.String(), "--retries", strconv.Itoa(o.Retries),
		// The cluster measures joins, as the simulator does without a workload: no DHT
		// traffic of the nodes' own.
		"--finger-period", "0",
		"--replicas", strconv.Itoa(o.Replicas),
		"--log-level", o.LogLevel}, extra...)
	if o.repairs() {
		args = append(args, "--stabilize", o.period().String())
	}
	log, err := os.Create(filepath.Join(o.Out, "nodes", fmt.Sprintf("%v.log", p.id)))
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own copy
	p.cmd = exec.Command(cl.o.Exe, args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.Env = append(os.Environ(), node.SecretEnv+"="+string(o.Secret))
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return err
	}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("node %v: %w", p.id, err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// waitUp polls a node's status until it answers, it exits, or the timeout.
func (cl *cluster) waitUp(ctx context.Context, p *proc, timeout time.Duration) (node.Status, error) {
	end := time.Now().Add(timeout)
	for {
		s, err := cl.query(ctx, p)
		if err == nil || ctx.Err() != nil {
			return s, err
		}
		select {
		case <-p.exited:
			return s, fmt.Errorf("node %v exited (%v); see %s", p.id, p.waitErr, filepath.Join(cl.o.Out, "nodes", fmt.Sprintf("%v.log", p.id)))
		default:
		}
		if time.Now().After(end) {
			return s, fmt.Errorf("node %v at %s does not answer: %w", p.id, p.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (cl *cluster) query(ctx context.Context, p *proc) (node.Status, error) {
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.client.Status(qctx)
}

// live lists the nodes neither killed by the churn nor crashed.
func (cl *cluster) live() []*proc {
	return slices.DeleteFunc(slices.Clone(cl.procs), func(p *proc) bool { return p.killed || p.crashed })
}

// crashedNode is the error of a poll that found a node process gone without being killed.
type crashedNode struct {
	p   *proc
	err error
}

func (e *crashedNode) Error() string {
	return fmt.Sprintf("node %v exited by itself (%v)", e.p.id, e.err)
}

// findCrash returns a crashedNode for a live node whose process has ended, or err.
func (cl *cluster) findCrash(err error) error {
	for _, p := range cl.live() {
		select {
		case <-p.exited:
			p.crashed = true
			cl.dead = append(cl.dead, p.id)
			return &crashedNode{p: p, err: p.waitErr}
		default:
		}
	}
	return err
}

// poll reads the status of every live node, a few at a time.
func (cl *cluster) poll(ctx context.Context) ([]node.Status, error) {
	live := cl.live()
	sts := make([]node.Status, len(live))
	errs := make([]error, len(live))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, p := range live {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sts[i], errs[i] = cl.query(ctx, p)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("node %v: %w", p.id, errs[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return sts, cl.findCrash(err)
	}
	return sts, nil
}

// settle polls until every join has started, no message is in flight, no protocol timer
// is pending and nothing changed since the previous poll, or until the deadline. Waiting
// for the timers matters for the variants that retry: a ring with nothing in flight may
// still be waiting for a retransmission.
func (cl *cluster) settle(ctx context.Context, deadline time.Time) ([]node.Status, bool, error) {
	var prev []node.Status
	for {
		sts, err := cl.poll(ctx)
		if err != nil {
			return nil, false, err
		}
		if node.Quiet(sts) && slices.Equal(sts, prev) {
			return sts, false, nil
		}
		if time.Now().After(deadline) {
			return sts, true, nil
		}
		prev = sts
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopAll closes every node's stdin, which makes it leave and exit, and kills those that
// have not exited after a few seconds.
func (cl *cluster) stopAll() {
	for _, p := range cl.procs {
		p.client.Close()
		if p.stdin != nil {
			p.stdin.Close()
		}
	}
	grace := time.After(3 * time.Second)
	for _, p := range cl.procs {
		if p.exited == nil {
			continue
		}
		select {
		case <-p.exited:
		case <-grace:
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// Print reports the run of the cluster o describes.
func (res *Result) Print(w io.Writer, o *Options) {
	fmt.Fprintf(w, "cluster: %d members (%s) + %d joiners, protocol %s, %d bits, seed %d\n",
		o.Members, o.Build, o.Joiners, o.Protocol, o.Bits, o.Seed)
	fmt.Fprintf(w, "outcome: %s", res.Outcome)
	if res.Detail != "" {
		fmt.Fprintf(w, " (%s)", res.Detail)
	}
	fmt.Fprintln(w)
	if res.Violation != "" {
		fmt.Fprintf(w, "safety: %s broken in the final state\n", res.Violation)
	}
	ok := len(res.Latencies)
	fmt.Fprintf(w, "joins: %d/%d ok", ok, res.Joins)
	if res.Failed > 0 {
		fmt.Fprintf(w, ", %d failed (gave up and reported it)", res.Failed)
	}
	if ok > 0 {
		if res.Churn == nil {
			// With churn the joins are spread over it on purpose: no rate.
			span := time.Duration(res.LastEnd - res.FirstStart)
			fmt.Fprintf(w, " in %v (%.0f joins/s)", span.Round(time.Microsecond), float64(ok)/span.Seconds())
		}
		fmt.Fprintf(w, "; latency p50 %v p99 %v max %v", time.Duration(stats.NearestRank(res.Latencies, 50)).Round(time.Microsecond),
			time.Duration(stats.NearestRank(res.Latencies, 99)).Round(time.Microsecond), time.Duration(res.Latencies[ok-1]).Round(time.Microsecond))
	}
	fmt.Fprintln(w)
	var sent, dropped int64
	for _, s := range res.Statuses {
		sent, dropped = sent+s.Sent, dropped+s.Dropped
	}
	fmt.Fprintf(w, "messages: %d sent, %d dropped; settled %v after the join signal", sent, dropped,
		res.Settled.Sub(res.JoinSignal).Round(time.Millisecond))
	if res.Late {
		fmt.Fprint(w, " (deadline passed)")
	}
	fmt.Fprintln(w)
	if c := res.Churn; c != nil {
		fmt.Fprintf(w, "churn: %d killed (SIGKILL), %d started, one event every %v over %v; ", len(c.Killed), len(c.Started),
			o.interval(), c.End.Sub(c.Start).Round(time.Millisecond))
		if c.RingCorrect.IsZero() {
			fmt.Fprintf(w, "ring not correct %d stabilization periods after the last event\n", o.ChurnSettle)
		} else {
			after := c.RingCorrect.Sub(c.End)
			fmt.Fprintf(w, "ring correct %v (%.1f stabilization periods) after the last event\n",
				after.Round(time.Millisecond), after.Seconds()/o.period().Seconds())
		}
	}
	if k := res.Keys; k != nil {
		k.print(w)
	}
	fmt.Fprintf(w, "results: %s\n", o.Out)
}

// ---- result set ----

const clusterPart = "part-000000.parquet"

// writeResults merges the nodes' traces into one events part, derives the joins table
// from them, and writes the runs row and the manifest (docs/results.md, docs/nodes.md).
func (cl *cluster) writeResults(res *Result, started, finished time.Time) error {
	o := &cl.o
	specText := o.spec()
	sum := sha256.Sum256([]byte(specText))
	hash := hex.EncodeToString(sum[:])
	meta := map[string]string{"dhtexp.experiment": "cluster", "dhtexp.spec_hash": hash}

	var events []trace.Event
	for _, p := range cl.procs {
		if p.killed {
			// SIGKILL left its trace without the footer that makes it readable: the run's
			// events are the survivors'.
			continue
		}
		if p.crashed {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "cluster: node %v exited by itself; see %s\n", p.id, filepath.Join(o.Out, "nodes", fmt.Sprintf("%v.log", p.id)))
			}
			continue
		}
		err := trace.ReadEvents(p.trace, func(es []trace.Event) error {
			events = append(events, es...)
			return nil
		})
		if err != nil && o.Log != nil {
			fmt.Fprintf(o.Log, "cluster: node %v left no trace: %v\n", p.id, err)
		}
	}
	// One run, one sequence: events in time order across the nodes (each node's own
	// order is kept, since its times never go back), numbered from 0.
	slices.SortStableFunc(events, func(a, b trace.Event) int {
		return cmp.Or(cmp.Compare(a.TimeNs, b.TimeNs), cmp.Compare(a.Node, b.Node))
	})
	for i := range events {
		events[i].Seq = int64(i)
	}

	failed := map[protocol.ID]bool{}
	for _, s := range res.Statuses {
		failed[s.ID] = s.Failed && !s.Connected
	}
	// The joins of the nodes alive at the end: a killed node's own events, its join's end
	// among them, went with it.
	joiners := make([]joiner, 0, res.Joins)
	for _, p := range cl.procs[o.Members:] {
		if !p.killed {
			joiners = append(joiners, joiner{id: p.id, contact: p.contact, failed: failed[p.id]})
		}
	}
	joins, redirects := joinsOf(events, joiners, res.JoinSignal.UnixNano())

	for _, t := range []string{trace.TableEvents, trace.TableJoins, trace.TableRuns} {
		if err := os.MkdirAll(filepath.Join(o.Out, t), 0o755); err != nil {
			return err
		}
	}
	ew, err := trace.CreateEvents(filepath.Join(o.Out, trace.TableEvents, clusterPart), trace.ClockWall, trace.Options{Metadata: meta})
	if err != nil {
		return err
	}
	if err := ew.WriteEvents(events); err != nil {
		ew.Abort()
		return err
	}
	if err := ew.Close(); err != nil {
		return err
	}
	jw, err := trace.CreateJoins(filepath.Join(o.Out, trace.TableJoins, clusterPart), trace.ClockWall, trace.Options{Metadata: meta})
	if err != nil {
		return err
	}
	if err := jw.WriteJoins(joins); err != nil {
		jw.Abort()
		return err
	}
	if err := jw.Close(); err != nil {
		return err
	}

	var sent int64
	for _, s := range res.Statuses {
		sent += s.Sent
	}
	cfg := sim.DefaultConfig()
	cfg.Scenario, cfg.Protocol, cfg.Seed = "random", o.Protocol, o.Seed
	cfg.Nodes, cfg.Joiners, cfg.Bits = o.Members, o.Joiners, o.Bits
	cfg.Horizon, cfg.Timeout, cfg.Retries = int64(o.Deadline), int64(o.Timeout), o.Retries
	if o.repairs() {
		cfg.Stabilize = int64(o.period())
	}
	// The keys are a workload of puts only, made before the churn; the nodes refresh no
	// fingers (--finger-period 0).
	cfg.Workload.Keys, cfg.Workload.Replicas, cfg.Workload.Rate, cfg.Workload.FingerPeriod = o.Keys, o.Replicas, 0, 0
	facts := runner.RunFacts{Outcome: res.Outcome, Detail: res.Detail, Violation: res.Violation,
		RingCorrect: res.RingCorrect, Joins: int64(len(joiners)), Latencies: res.Latencies,
		Messages: sent, Redirects: redirects, Events: int64(len(events)),
		SimTime: int64(res.Settled.Sub(res.JoinSignal)), Wall: int64(finished.Sub(started))}
	if err := runner.WriteRunsFile(filepath.Join(o.Out, trace.TableRuns, clusterPart), trace.Options{Metadata: meta},
		params.ModeCluster, cfg, o.Seed, facts); err != nil {
		return err
	}

	man := trace.Manifest{
		Experiment:  "cluster",
		Description: cl.description(),
		Spec:        specText, SpecHash: hash, Axes: []trace.Axis{}, Seeds: 1, BaseSeed: o.Seed,
		Trace: trace.LevelMessages.String(), Grid: []trace.GridPoint{{Point: 0, Params: trace.Params{}}},
		RunsTotal: 1, Shard: trace.Shard{Index: 0, Count: 1, BlockRuns: 1}, ShardRuns: 1,
		GoVersion: runtime.Version(), Started: started.UTC().Format(time.RFC3339),
		Finished: finished.UTC().Format(time.RFC3339),
		Parts:    []string{clusterPart},
		Done: []trace.PartInfo{{Part: clusterPart, Runs: [][2]int64{{0, 0}}, Rows: 1,
			Joins: int64(len(joins)), Events: int64(len(events))}},
	}
	man.ToolVersion, man.VCSRevision = trace.BuildVersion()
	return trace.WriteManifest(o.Out, &man)
}

// description is the manifest's one line on the run.
func (cl *cluster) description() string {
	o := &cl.o
	d := fmt.Sprintf("%d members + %d joiners as real node processes on loopback", o.Members, o.Joiners)
	if o.Keys > 0 {
		d += fmt.Sprintf(", %d keys", o.Keys)
	}
	if o.churn() {
		d += fmt.Sprintf(", churn: %d killed with SIGKILL and %d started, one every %v", o.ChurnKill, o.ChurnStart, o.interval())
	}
	return d
}

// joiner is what the joins table needs to know of a joiner besides its events.
type joiner struct {
	id, contact protocol.ID
	failed      bool // it gave up and reported it
}

// joinsOf derives the joins table of one run from its merged events, in the order of
// joiners, and counts the run's redirects. signal (Unix ns) stands in for the start of a
// join that never traced one.
func joinsOf(events []trace.Event, joiners []joiner, signal int64) ([]trace.Join, int64) {
	type span struct{ start, end int64 }
	spans := map[int64]*span{}
	for _, j := range joiners {
		spans[int64(j.id)] = &span{start: -1, end: -1}
	}
	sends := observe.NewJoinSends()
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case trace.KindJoinStart:
			if a := spans[e.Node]; a != nil && a.start < 0 {
				a.start = e.TimeNs
			}
		case trace.KindJoinEnd:
			if a := spans[e.Node]; a != nil && a.end < 0 {
				a.end = e.TimeNs
			}
		case trace.KindSend:
			mt, _ := protocol.ParseMsgType(e.MsgType) // a type this build does not know is no hop
			by := protocol.None
			if e.Joiner >= 0 {
				by = protocol.ID(e.Joiner)
			}
			sends.Send(mt, by)
		}
	}
	joins := make([]trace.Join, 0, len(joiners))
	for _, jr := range joiners {
		a := spans[int64(jr.id)]
		j := trace.Join{RunID: 0, Joiner: int64(jr.id), Contact: int64(jr.contact), StartNs: a.start, EndNs: a.end,
			Hops: sends.Hops[jr.id], Messages: sends.Messages[jr.id], Outcome: trace.OutcomeOK}
		if j.StartNs < 0 {
			// The join never traced its start: count it from the join signal.
			j.StartNs = signal
		}
		switch {
		case j.EndNs >= 0:
		case jr.failed:
			// As in the simulator's joins: a reported failure has no end time.
			j.Outcome = trace.OutcomeFailed
		default:
			j.Outcome = trace.OutcomeNotJoined
		}
		joins = append(joins, j)
	}
	return joins, sends.Redirects
}
