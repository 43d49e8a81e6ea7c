package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dhtexp/dhtexp/node"
	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
	"github.com/dhtexp/dhtexp/runner"
	"github.com/dhtexp/dhtexp/trace"
)

func init() {
	commands = append(commands, clusterCommand())
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name:      "cluster",
		Usage:     "run a ring of real node processes on loopback and judge the joins",
		ArgsUsage: " ",
		Description: `Starts members+joiners "dhtexp node" processes on 127.0.0.1, lays out a ring of the
members, lets every joiner join at once through a random member (seeded), waits until the
ring is quiet or the deadline passes, reads every node's status and judges the ring as the
simulator does. It writes a result set (docs/results.md, docs/nodes.md): the merged events,
a joins table and a runs row, plus each node's log and raw trace under nodes/. Every
process it started is stopped before it returns, also on error or Ctrl-C. Exits 1 when the
outcome is not ok.

Examples:
  dhtexp cluster --members 8 --joiners 24
  dhtexp cluster --members 32 --joiners 96 --protocol seed --seed 3 -o /tmp/c`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "members", Value: 8, Usage: "nodes of the initial ring"},
			&cli.IntFlag{Name: "joiners", Value: 24, Usage: "nodes that join at once"},
			&cli.StringFlag{Name: "protocol", Value: defaultNodeProtocol, Usage: "protocol variant: " + strings.Join(protocol.VariantNames(), " | ")},
			timeoutFlag(), retriesFlag(),
			&cli.UintFlag{Name: "bits", Value: 16, Usage: "ID space is 2^bits"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the IDs and contacts"},
			&cli.DurationFlag{Name: "deadline", Value: 30 * time.Second, Usage: "give the joins this long to settle"},
			&cli.StringFlag{Name: "build", Value: "prebuilt", Usage: "prebuilt (members start as a correct ring) | join (members join one at a time through the first)"},
			&cli.DurationFlag{Name: "peer-timeout", Value: 2 * time.Second, Usage: "nodes' --peer-timeout"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "nodes' --log-level (their logs go to nodes/ID.log)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "result folder (default: results/cluster-PROTOCOL-mM-kK-sSEED); must not exist or be empty"},
		},
		Action: clusterAction,
	}
}

type clusterOpts struct {
	members, joiners int
	protocol         string
	bits             uint
	seed             uint64
	deadline         time.Duration
	build            string
	peerTimeout      time.Duration
	timeout          time.Duration
	retries          int
	logLevel         string
	out              string
}

func clusterOptions(c *cli.Context) (clusterOpts, error) {
	o := clusterOpts{members: c.Int("members"), joiners: c.Int("joiners"), protocol: c.String("protocol"),
		bits: c.Uint("bits"), seed: c.Uint64("seed"), deadline: c.Duration("deadline"), build: c.String("build"),
		peerTimeout: c.Duration("peer-timeout"), logLevel: c.String("log-level"), out: c.String("out")}
	switch {
	case c.Args().Len() > 0:
		return o, usagef("cluster takes no arguments, got %q", c.Args().Slice())
	case o.members < 1:
		return o, usagef("--members must be at least 1")
	case o.joiners < 0:
		return o, usagef("--joiners must not be negative")
	case o.deadline <= 0:
		return o, usagef("--deadline must be positive")
	case o.build != "prebuilt" && o.build != "join":
		return o, usagef("--build must be prebuilt or join, got %q", o.build)
	}
	if _, err := protocol.Lookup(o.protocol); err != nil {
		return o, usagef("--protocol: %v", err)
	}
	var err error
	if o.timeout, o.retries, err = retryParams(c); err != nil {
		return o, err
	}
	ring := protocol.Ring{Bits: o.bits}
	if err := ring.Validate(); err != nil {
		return o, usagef("--bits: %v", err)
	}
	if uint64(o.members+o.joiners) > ring.Size() {
		return o, usagef("%d nodes do not fit a %d-bit ring", o.members+o.joiners, o.bits)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, err
	}
	if o.out == "" {
		o.out = filepath.Join("results", fmt.Sprintf("cluster-%s-m%d-k%d-s%d", o.protocol, o.members, o.joiners, o.seed))
	}
	if ents, err := os.ReadDir(o.out); err == nil && len(ents) > 0 {
		return o, usagef("%s exists and is not empty", o.out)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return o, usagef("%v", err)
	}
	return o, nil
}

// spec is the cluster's parameters as the manifest records them.
func (o *clusterOpts) spec() string {
	return fmt.Sprintf("# dhtexp cluster\nmembers = %d\njoiners = %d\nprotocol = %q\nbits = %d\nseed = %d\ndeadline = %q\nbuild = %q\npeer_timeout = %q\ntimeout = %q\nretries = %d\n",
		o.members, o.joiners, o.protocol, o.bits, o.seed, o.deadline, o.build, o.peerTimeout, o.timeout, o.retries)
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
}

type cluster struct {
	o     clusterOpts
	exe   string
	ring  protocol.Ring
	procs []*proc
	byID  map[protocol.ID]*proc
	logs  io.Writer
}

func clusterAction(c *cli.Context) error {
	o, err := clusterOptions(c)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cl := &cluster{o: o, exe: exe, ring: protocol.Ring{Bits: o.bits}, byID: map[protocol.ID]*proc{}, logs: c.App.ErrWriter}
	started := time.Now()
	res, err := cl.run(ctx)
	// Every process goes, whatever happened above.
	cl.stopAll()
	if ctx.Err() != nil {
		return exitError{exitInterrupted, errors.New("interrupted; every node process was stopped")}
	}
	if err != nil {
		return err
	}
	if err := cl.writeResults(res, started, time.Now()); err != nil {
		return fmt.Errorf("writing results to %s: %w", o.out, err)
	}
	res.print(c.App.Writer, &o)
	if res.outcome != observe.OutcomeOK {
		return exitError{exitFailure, fmt.Errorf("outcome %s", res.outcome)}
	}
	return nil
}

// clusterResult is what the run found out.
type clusterResult struct {
	statuses    []node.Status
	outcome     string
	detail      string
	violation   string
	ringCorrect bool
	late        bool
	joinSignal  time.Time // when the joiners were told to join
	settled     time.Time
	latencies   []int64 // successful joins, sorted
	failed      int     // joiners that gave up and reported it
	firstStart  int64
	lastEnd     int64
}

func (cl *cluster) run(ctx context.Context) (*clusterResult, error) {
	o := &cl.o
	if err := os.MkdirAll(filepath.Join(o.out, "nodes"), 0o755); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(o.seed, 0x636c7573))
	ids := make([]protocol.ID, 0, o.members+o.joiners)
	seen := map[protocol.ID]bool{}
	for len(ids) < o.members+o.joiners {
		id := protocol.ID(r.Uint64N(cl.ring.Size()))
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	members := slices.Clone(ids[:o.members])
	slices.Sort(members)
	addrs, err := freePorts(len(ids))
	if err != nil {
		return nil, err
	}
	for i, id := range members {
		cl.add(&proc{id: id, addr: addrs[i], member: true, contact: protocol.None})
	}
	for k, id := range ids[o.members:] {
		cl.add(&proc{id: id, addr: addrs[o.members+k], contact: members[r.IntN(len(members))]})
	}

	// The members.
	m := len(members)
	switch o.build {
	case "prebuilt":
		for i := range m {
			p, l, rr := cl.procs[i], cl.procs[(i+m-1)%m], cl.procs[(i+1)%m]
			if err := cl.start(p, "--left", fmt.Sprintf("%v@%s", l.id, l.addr), "--right", fmt.Sprintf("%v@%s", rr.id, rr.addr)); err != nil {
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
		end := time.Now().Add(o.deadline)
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
					return nil, fmt.Errorf("member %v did not join within %v while building the ring", p.id, o.deadline)
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
	res := &clusterResult{joinSignal: time.Now()}
	for _, p := range cl.procs[m:] {
		if _, err := io.WriteString(p.stdin, "join\n"); err != nil {
			return nil, fmt.Errorf("node %v: %w", p.id, err)
		}
	}

	sts, late, err := cl.settle(ctx, res.joinSignal.Add(o.deadline))
	if err != nil {
		return nil, err
	}
	res.settled = time.Now()
	res.statuses, res.late = sts, late
	res.outcome, res.detail, res.ringCorrect = node.Classify(sts, cl.ring, late)
	states := make([]protocol.State, len(sts))
	for i := range sts {
		states[i] = sts[i].State()
	}
	if v := observe.CheckSafety(states, cl.ring); v != nil {
		res.violation = v.Property
	}
	// Only the joiners count: with --build join the members joined too, one at a time.
	for _, s := range sts[m:] {
		if s.Failed && !s.Connected {
			res.failed++
		}
		if s.JoinStart == 0 {
			continue
		}
		if res.firstStart == 0 || s.JoinStart < res.firstStart {
			res.firstStart = s.JoinStart
		}
		if s.JoinEnd != 0 {
			res.latencies = append(res.latencies, s.JoinEnd-s.JoinStart)
			res.lastEnd = max(res.lastEnd, s.JoinEnd)
		}
	}
	slices.Sort(res.latencies)
	return res, nil
}

func (cl *cluster) add(p *proc) {
	p.trace = filepath.Join(cl.o.out, "nodes", fmt.Sprintf("%v.parquet", p.id))
	p.client = node.NewClient(p.addr)
	cl.procs = append(cl.procs, p)
	cl.byID[p.id] = p
}

// freePorts finds n distinct free loopback ports by binding them all at once. Another
// program could take one between here and the node binding it; the node then fails to
// start and the cluster reports it.
func freePorts(n int) ([]string, error) {
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
		"--bits", strconv.FormatUint(uint64(o.bits), 10), "--protocol", o.protocol,
		"--trace", p.trace, "--exit-with-stdin", "--peer-timeout", o.peerTimeout.String(),
		"--timeout", o.timeout.String(), "--retries", strconv.Itoa(o.retries),
		// The cluster measures joins, as the simulator does without a workload: no DHT
		// traffic of the nodes' own.
		"--finger-period", "0",
		"--log-level", o.logLevel}, extra...)
	log, err := os.Create(filepath.Join(o.out, "nodes", fmt.Sprintf("%v.log", p.id)))
	if err != nil {
		return err
	}
	defer log.Close() // the child has its own copy
	p.cmd = exec.Command(cl.exe, args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
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
			return s, fmt.Errorf("node %v exited (%v); see %s", p.id, p.waitErr, filepath.Join(cl.o.out, "nodes", fmt.Sprintf("%v.log", p.id)))
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

// poll reads every node's status, a few at a time.
func (cl *cluster) poll(ctx context.Context) ([]node.Status, error) {
	sts := make([]node.Status, len(cl.procs))
	errs := make([]error, len(cl.procs))
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, p := range cl.procs {
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
	return sts, errors.Join(errs...)
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

func (res *clusterResult) print(w io.Writer, o *clusterOpts) {
	fmt.Fprintf(w, "cluster: %d members (%s) + %d joiners, protocol %s, %d bits, seed %d\n",
		o.members, o.build, o.joiners, o.protocol, o.bits, o.seed)
	fmt.Fprintf(w, "outcome: %s", res.outcome)
	if res.detail != "" {
		fmt.Fprintf(w, " (%s)", res.detail)
	}
	fmt.Fprintln(w)
	if res.violation != "" {
		fmt.Fprintf(w, "safety: %s broken in the final state\n", res.violation)
	}
	ok := len(res.latencies)
	fmt.Fprintf(w, "joins: %d/%d ok", ok, o.joiners)
	if res.failed > 0 {
		fmt.Fprintf(w, ", %d failed (gave up and reported it)", res.failed)
	}
	if ok > 0 {
		span := time.Duration(res.lastEnd - res.firstStart)
		fmt.Fprintf(w, " in %v (%.0f joins/s); latency p50 %v p99 %v max %v", span.Round(time.Microsecond),
			float64(ok)/span.Seconds(), time.Duration(pctl(res.latencies, 50)).Round(time.Microsecond),
			time.Duration(pctl(res.latencies, 99)).Round(time.Microsecond), time.Duration(res.latencies[ok-1]).Round(time.Microsecond))
	}
	fmt.Fprintln(w)
	var sent, dropped int64
	for _, s := range res.statuses {
		sent, dropped = sent+s.Sent, dropped+s.Dropped
	}
	fmt.Fprintf(w, "messages: %d sent, %d dropped; settled %v after the join signal", sent, dropped,
		res.settled.Sub(res.joinSignal).Round(time.Millisecond))
	if res.late {
		fmt.Fprint(w, " (deadline passed)")
	}
	fmt.Fprintf(w, "\nresults: %s\n", o.out)
}

// pctl is the nearest-rank percentile of sorted values, as the runs table computes it.
func pctl(sorted []int64, pct int) int64 {
	if len(sorted) == 0 {
		return -1
	}
	k := (pct*len(sorted) + 99) / 100
	return sorted[max(k, 1)-1]
}

// ---- result set ----

const clusterPart = "part-000000.parquet"

// writeResults merges the nodes' traces into one events part, derives the joins table
// from them, and writes the runs row and the manifest (docs/results.md, docs/nodes.md).
func (cl *cluster) writeResults(res *clusterResult, started, finished time.Time) error {
	o := &cl.o
	specText := o.spec()
	sum := sha256.Sum256([]byte(specText))
	hash := hex.EncodeToString(sum[:])
	meta := map[string]string{"dhtexp.experiment": "cluster", "dhtexp.spec_hash": hash}

	var events []trace.Event
	for _, p := range cl.procs {
		err := trace.ReadEvents(p.trace, func(es []trace.Event) error {
			events = append(events, es...)
			return nil
		})
		if err != nil {
			fmt.Fprintf(cl.logs, "cluster: node %v left no trace: %v\n", p.id, err)
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

	type joinAcc struct {
		start, end, hops, msgs int64
	}
	acc := map[int64]*joinAcc{}
	var redirects int64
	for _, p := range cl.procs[o.members:] {
		acc[int64(p.id)] = &joinAcc{start: -1, end: -1}
	}
	for i := range events {
		e := &events[i]
		switch e.Kind {
		case trace.KindJoinStart:
			if a := acc[e.Node]; a != nil && a.start < 0 {
				a.start = e.TimeNs
			}
		case trace.KindJoinEnd:
			if a := acc[e.Node]; a != nil && a.end < 0 {
				a.end = e.TimeNs
			}
		case trace.KindSend:
			if e.MsgType == protocol.ConnectRedirect.String() {
				redirects++
			}
			if a := acc[e.Joiner]; a != nil {
				a.msgs++
				if e.MsgType == protocol.ConnectRedirect.String() {
					a.hops++
				}
			}
		}
	}
	failed := map[protocol.ID]bool{}
	for _, s := range res.statuses {
		failed[s.ID] = s.Failed && !s.Connected
	}
	joins := make([]trace.Join, 0, o.joiners)
	for _, p := range cl.procs[o.members:] {
		a := acc[int64(p.id)]
		j := trace.Join{RunID: 0, Joiner: int64(p.id), Contact: int64(p.contact), StartNs: a.start, EndNs: a.end,
			Hops: a.hops, Messages: a.msgs, Outcome: trace.OutcomeOK}
		if j.StartNs < 0 {
			// The join never traced its start: count it from the join signal.
			j.StartNs = res.joinSignal.UnixNano()
		}
		switch {
		case j.EndNs >= 0:
		case failed[p.id]:
			// As in the simulator's joins: a reported failure has no end time.
			j.Outcome = trace.OutcomeFailed
		default:
			j.Outcome = trace.OutcomeNotJoined
		}
		joins = append(joins, j)
	}

	for _, t := range []string{"events", "joins", "runs"} {
		if err := os.MkdirAll(filepath.Join(o.out, t), 0o755); err != nil {
			return err
		}
	}
	ew, err := trace.CreateEvents(filepath.Join(o.out, "events", clusterPart), trace.ClockWall, trace.Options{Metadata: meta})
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
	jw, err := trace.CreateJoins(filepath.Join(o.out, "joins", clusterPart), trace.ClockWall, trace.Options{Metadata: meta})
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
	for _, s := range res.statuses {
		sent += s.Sent
	}
	row := map[string]any{
		"run_id": int64(0), "grid_point": int64(0), "replica": int64(0), "seed": int64(o.seed),
		"scenario": "random", "mode": "cluster", "protocol": o.protocol, "timing": "real", "link": "tcp", "delay_kind": "real",
		"nodes": int64(o.members), "joiners": int64(o.joiners), "bits": int64(o.bits),
		"check": false, "horizon_ns": int64(o.deadline),
		"timeout_ns": int64(o.timeout), "retries": int64(o.retries),
		"outcome": res.outcome, "ring_correct": res.ringCorrect, "detail": res.detail, "violation": res.violation,
		"joins": int64(o.joiners), "joins_ok": int64(len(res.latencies)),
		"messages": sent, "redirects": redirects, "events": int64(len(events)),
		"sim_time_ns": int64(res.settled.Sub(res.joinSignal)), "wall_ns": int64(finished.Sub(started)),
	}
	if len(res.latencies) > 0 {
		row["latency_p50_ns"], row["latency_p99_ns"] = pctl(res.latencies, 50), pctl(res.latencies, 99)
		row["latency_max_ns"] = res.latencies[len(res.latencies)-1]
	}
	if err := writeRow(filepath.Join(o.out, "runs", clusterPart), runner.RunSchema, trace.Options{Metadata: meta}, row); err != nil {
		return err
	}

	man := runner.Manifest{
		Format: 1, Experiment: "cluster",
		Description: fmt.Sprintf("%d members + %d joiners as real node processes on loopback", o.members, o.joiners),
		Spec:        specText, SpecHash: hash, Axes: []runner.AxisInfo{}, Seeds: 1, BaseSeed: o.seed,
		Trace: "messages", Grid: []runner.GridPoint{{Point: 0, Params: runner.Params{}}},
		RunsTotal: 1, Shard: runner.ShardInfo{Index: 0, Count: 1, BlockRuns: 1}, ShardRuns: 1,
		GoVersion: runtime.Version(), Started: started.UTC().Format(time.RFC3339),
		Finished: finished.UTC().Format(time.RFC3339),
		Parts:    []string{clusterPart},
		Done: []runner.PartInfo{{Part: clusterPart, Runs: [][2]int64{{0, 0}}, Rows: 1,
			Joins: int64(len(joins)), Events: int64(len(events))}},
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		man.ToolVersion = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				man.VCSRevision = s.Value
			}
		}
	}
	data, err := json.MarshalIndent(&man, "", "  ")
	if err != nil {
		return err
	}
	// The manifest is the commit point of the result set, so it appears whole or not at all.
	tmp := filepath.Join(o.out, runner.ManifestName+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(o.out, runner.ManifestName))
}

// writeRow writes a one-row file of schema s, filling columns by name: a column the row
// does not name (or names with "") is null if it may be, else zero.
func writeRow(path string, s trace.Schema, opts trace.Options, row map[string]any) error {
	w, err := trace.Create(path, s, opts)
	if err != nil {
		return err
	}
	for i, col := range s.Columns {
		v := row[col.Name]
		if col.Nullable && (v == nil || v == "") {
			w.Null(i)
			continue
		}
		ok := v == nil
		switch col.Type {
		case trace.Int64:
			x, isT := v.(int64)
			ok = ok || isT
			w.Int64(i, x)
		case trace.Float64:
			x, isT := v.(float64)
			ok = ok || isT
			w.Float64(i, x)
		case trace.Bool:
			x, isT := v.(bool)
			ok = ok || isT
			w.Bool(i, x)
		default:
			x, isT := v.(string)
			ok = ok || isT
			w.String(i, x)
		}
		if !ok {
			w.Abort()
			return fmt.Errorf("%s: column %s is %s, not %T", path, col.Name, col.Type, v)
		}
	}
	if err := w.EndRow(); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}
