package trace

import (
	"container/heap"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/dhtexp/dhtexp/observe"
	"github.com/dhtexp/dhtexp/protocol"
)

// genEvents produces n events of a plausible simulated run: nodes with ids
// below 1000 join a ring one after another, a few joins overlapping. Each
// join sends connect to a contact, is redirected a few hops, ends with
// new_neighbour/change_neighbour/success_join, and every protocol message
// appears as a send at the sender and a deliver at the addressee after a
// latency of 1-10 ms (whole microseconds). Timers, state changes and the odd
// drop are mixed in. Every event at a ring member carries its current
// neighbours, the worst case for the left/right columns.
func genEvents(n int, seed uint64) []Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	const idSpace = 1000
	const concurrency = 4

	members := []int64{0, 500}
	left := map[int64]int64{0: 500, 500: 0}
	right := map[int64]int64{0: 500, 500: 0}
	used := map[int64]bool{0: true, 500: true}

	succ := func(id int64) int64 { // first member after id on the ring
		i, _ := slices.BinarySearch(members, id+1)
		if i == len(members) {
			i = 0
		}
		return members[i]
	}
	pred := func(id int64) int64 { // last member before id on the ring
		i, _ := slices.BinarySearch(members, id)
		if i == 0 {
			i = len(members)
		}
		return members[i-1]
	}

	out := make([]Event, 0, n)
	var now int64
	q := &msgQueue{}
	emit := func(kind, typ string, node, from, to, joiner int64, detail string) {
		e := Event{TimeNs: now, Kind: kind, MsgType: typ, Node: node, From: from, To: to, Joiner: joiner, Left: -1, Right: -1, Detail: detail}
		if l, ok := left[node]; ok {
			e.Left, e.Right = l, right[node]
		}
		out = append(out, e)
	}
	latency := func() int64 { return (1000 + rng.Int64N(9000)) * 1000 }
	send := func(typ string, from, to, joiner int64) {
		if rng.IntN(100) == 0 {
			emit(KindDrop, typ, from, from, to, joiner, "")
			return
		}
		emit(KindSend, typ, from, from, to, joiner, "")
		heap.Push(q, pending{at: now + latency(), typ: typ, from: from, to: to, joiner: joiner})
	}
	active := 0
	startJoin := func() {
		if len(used) >= idSpace-1 {
			return
		}
		j := rng.Int64N(idSpace)
		for used[j] {
			j = rng.Int64N(idSpace)
		}
		used[j] = true
		active++
		emit(KindJoinStart, "", j, -1, -1, j, "")
		send("connect", j, members[rng.IntN(len(members))], j)
	}

	for len(out) < n {
		if len(used) >= idSpace-1 && q.Len() == 0 {
			// Ring is full: start the next run's ring afresh.
			members = []int64{0, 500}
			left = map[int64]int64{0: 500, 500: 0}
			right = map[int64]int64{0: 500, 500: 0}
			used = map[int64]bool{0: true, 500: true}
		}
		for active < concurrency && len(used) < idSpace-1 {
			startJoin()
		}
		if q.Len() == 0 {
			active = 0
			continue
		}
		if rng.IntN(10) == 0 {
			now += rng.Int64N(500) * 1000
			m := members[rng.IntN(len(members))]
			emit(KindTimer, "", m, -1, -1, -1, "")
			continue
		}
		p := heap.Pop(q).(pending)
		now = max(now, p.at)
		emit(KindDeliver, p.typ, p.to, p.from, p.to, p.joiner, "")
		x, j := p.to, p.joiner
		switch p.typ {
		case "connect", "connect_redirect":
			if _, member := left[j]; member {
				break
			}
			if pr := pred(j); pr == x {
				s := succ(j)
				if i, found := slices.BinarySearch(members, j); !found {
					members = slices.Insert(members, i, j)
				}
				right[x], left[j], right[j], left[s] = j, x, s, j
				emit(KindState, "", x, -1, -1, j, "")
				send("new_neighbour", x, j, j)
				send("change_neighbour", x, s, j)
			} else {
				// Redirect halfway towards the joiner's predecessor, so a
				// join takes a logarithmic number of hops.
				i, _ := slices.BinarySearch(members, x)
				k, _ := slices.BinarySearch(members, pr)
				d := (k - i + len(members)) % len(members)
				send("connect_redirect", x, members[(i+max(1, d/2))%len(members)], j)
			}
		case "new_neighbour":
			emit(KindState, "", x, -1, -1, j, "")
			send("success_join", x, p.from, j)
		case "success_join":
			emit(KindJoinEnd, "", j, -1, -1, j, "")
			active--
		}
	}
	out = out[:n]
	for i := range out {
		out[i].Seq = int64(i)
	}
	return out
}

type pending struct {
	at               int64
	typ              string
	from, to, joiner int64
}

type msgQueue []pending

func (q msgQueue) Len() int           { return len(q) }
func (q msgQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q msgQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *msgQueue) Push(x any)        { *q = append(*q, x.(pending)) }
func (q *msgQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

const benchEvents = 1 << 20

var benchEventData = map[bool][]Event{}

// benchData returns the benchmark's event stream. With stateOnly, left and
// right are set on state events only, as a tracer that records neighbours
// when they change would write them; otherwise every event at a ring member
// carries them.
func benchData(stateOnly bool) []Event {
	if benchEventData[stateOnly] == nil {
		es := genEvents(benchEvents, 42)
		if stateOnly {
			for i := range es {
				if es[i].Kind != KindState {
					es[i].Left, es[i].Right = -1, -1
				}
			}
		}
		benchEventData[stateOnly] = es
	}
	return benchEventData[stateOnly]
}

// BenchmarkEventWriter writes the generated stream of 2^20 events through
// WriteEvent, one file per op. Metrics: rows/s, B/row (bytes allocated per
// row), file-B/row (file size per row) and cpu-ns/row (process CPU time,
// garbage collection included).
func BenchmarkEventWriter(b *testing.B) {
	for _, bc := range []struct {
		name      string
		stateOnly bool
	}{{"neighbours=every-event", false}, {"neighbours=state-only", true}} {
		b.Run(bc.name, func(b *testing.B) {
			events := benchData(bc.stateOnly)
			benchEventFiles(b, len(events), func(ew *EventWriter) error {
				for k := range events {
					if err := ew.WriteEvent(&events[k]); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkEventColumns is BenchmarkEventWriter through WriteColumns, handed
// 4096 events at a time, as the sweep runner does it: with strings (Append), and
// as a driver's events (AppendObserved), whose kinds and message types stay codes.
func BenchmarkEventColumns(b *testing.B) {
	all := benchData(false)
	var strs, coded EventColumns
	for i := range all {
		strs.Append(&all[i])
		e := observedEvent(b, &all[i])
		coded.AppendObserved(all[i].RunID, &e)
	}
	for _, bc := range []struct {
		name string
		src  *EventColumns
	}{{"strings", &strs}, {"observed", &coded}} {
		b.Run(bc.name, func(b *testing.B) {
			const piece = 4096
			benchEventFiles(b, len(all), func(ew *EventWriter) error {
				for lo := 0; lo < len(all); lo += piece {
					c := bc.src.slice(lo, min(lo+piece, len(all)))
					if err := ew.WriteColumns(&c); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkEventEncoder writes the stream of BenchmarkEventWriter as a sweep's worker and
// its writer do: events added to an ObservedChunk, which goes to an EventEncoder whenever
// it is full, and the encoded rows taken and appended to the file every 65,536 events (a
// piece), with the encoder and its storage kept from file to file.
func BenchmarkEventEncoder(b *testing.B) {
	all := benchData(false)
	observed := make([]observe.Event, len(all))
	for i := range all {
		observed[i] = observedEvent(b, &all[i])
	}
	enc, err := NewEventEncoder(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Release()
	var (
		chunk ObservedChunk
		piece Encoded
	)
	const pieceEvents = 1 << 16
	benchEventFiles(b, len(all), func(ew *EventWriter) error {
		for i := range observed {
			if chunk.Full() {
				if err := enc.WriteChunk(&chunk); err != nil {
					return err
				}
				chunk.Reset()
			}
			chunk.Append(all[i].RunID, &observed[i])
			if (i+1)%pieceEvents == 0 || i == len(observed)-1 {
				if err := enc.WriteChunk(&chunk); err != nil {
					return err
				}
				chunk.Reset()
				if err := enc.Take(&piece); err != nil {
					return err
				}
				if err := ew.WriteEncoded(&piece); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// benchEventFiles writes b.N events files of rows rows each, through write, and reports the
// write benchmarks' metrics.
func benchEventFiles(b *testing.B, rows int, write func(*EventWriter) error) {
	dir := b.TempDir()
	m := startWriteBench(b)
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, "events.parquet")
		ew, err := CreateEvents(path, ClockVirtual, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := write(ew); err != nil {
			b.Fatal(err)
		}
		if err := ew.Close(); err != nil {
			b.Fatal(err)
		}
		m.file(b, path, rows)
	}
	m.report(b)
}

// slice returns events lo to hi of c, sharing its storage.
func (c *EventColumns) slice(lo, hi int) EventColumns {
	s := EventColumns{RunID: c.RunID[lo:hi], Seq: c.Seq[lo:hi], TimeNs: c.TimeNs[lo:hi], Node: c.Node[lo:hi],
		From: c.From[lo:hi], To: c.To[lo:hi], Joiner: c.Joiner[lo:hi], Left: c.Left[lo:hi], Right: c.Right[lo:hi],
		Detail: c.Detail[lo:hi]}
	if c.coded() {
		s.kinds, s.msgTypes = c.kinds[lo:hi], c.msgTypes[lo:hi]
	} else {
		s.Kind, s.MsgType = c.Kind[lo:hi], c.MsgType[lo:hi]
	}
	return s
}

// observedEvent is the driver's event that EventOf turns into e.
func observedEvent(tb testing.TB, e *Event) observe.Event {
	o := observe.Event{Seq: e.Seq, Time: e.TimeNs, Node: protocol.ID(e.Node), From: idOf(e.From), To: idOf(e.To),
		Joiner: idOf(e.Joiner), Left: idOf(e.Left), Right: idOf(e.Right), Detail: e.Detail}
	for k := observe.EventKind(1); k.String() != "unknown"; k++ {
		if k.String() == e.Kind {
			o.Kind = k
		}
	}
	if e.MsgType != "" {
		t, err := protocol.ParseMsgType(e.MsgType)
		if err != nil {
			tb.Fatal(err)
		}
		o.MsgType = t
	}
	if got := EventOf(e.RunID, &o); got != *e {
		tb.Fatalf("event %+v converts back to %+v", *e, got)
	}
	return o
}

func idOf(v int64) protocol.ID {
	if v == -1 {
		return protocol.None
	}
	return protocol.ID(v)
}

// writeBench measures a benchmark whose ops each write one file of rows.
type writeBench struct {
	rows, fileBytes int64
	cpu0            int64
	cpuOK           bool
	mem0            runtime.MemStats
}

// startWriteBench starts the measurement; the benchmark's data must be ready.
func startWriteBench(b *testing.B) *writeBench {
	b.Helper()
	m := &writeBench{}
	runtime.GC()
	runtime.ReadMemStats(&m.mem0)
	m.cpu0, m.cpuOK = processCPU()
	b.ResetTimer()
	return m
}

// file records that an op wrote rows rows to path.
func (m *writeBench) file(b *testing.B, path string, rows int) {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	m.rows += int64(rows)
	m.fileBytes += st.Size()
}

// report stops the timer and reports rows/s, bytes allocated per row (B/row), file bytes
// per row (file-B/row) and, where the process CPU time is known, CPU ns per row.
func (m *writeBench) report(b *testing.B) {
	b.Helper()
	b.StopTimer()
	cpu1, _ := processCPU()
	var mem1 runtime.MemStats
	runtime.ReadMemStats(&mem1)
	rows := float64(m.rows)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(mem1.TotalAlloc-m.mem0.TotalAlloc)/rows, "B/row")
	b.ReportMetric(float64(m.fileBytes)/rows, "file-B/row")
	if m.cpuOK {
		// Includes the garbage collector's work on other threads.
		b.ReportMetric(float64(cpu1-m.cpu0)/rows, "cpu-ns/row")
	}
}

// BenchmarkReadEvents reads a file of 2^20 events through ReadEvents; an op
// is the whole file.
func BenchmarkReadEvents(b *testing.B) {
	events := benchData(false)
	path := filepath.Join(b.TempDir(), "events.parquet")
	ew, err := CreateEvents(path, ClockVirtual, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := ew.WriteEvents(events); err != nil {
		b.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		err := ReadEvents(path, func(es []Event) error {
			rows += len(es)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu1, _ := processCPU()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(rows), "cpu-ns/row")
	}
}
