package trace

import (
	"container/heap"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
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
			dir := b.TempDir()
			m := startWriteBench(b)
			for i := 0; i < b.N; i++ {
				path := filepath.Join(dir, "events.parquet")
				ew, err := CreateEvents(path, ClockVirtual, Options{})
				if err != nil {
					b.Fatal(err)
				}
				for k := range events {
					if err := ew.WriteEvent(&events[k]); err != nil {
						b.Fatal(err)
					}
				}
				if err := ew.Close(); err != nil {
					b.Fatal(err)
				}
				m.file(b, path, len(events))
			}
			m.report(b)
		})
	}
}

// BenchmarkEventColumns is BenchmarkEventWriter through WriteColumns, handed
// 4096 events at a time, as the sweep runner does it.
func BenchmarkEventColumns(b *testing.B) {
	all := benchData(false)
	var src EventColumns
	for i := range all {
		src.Append(&all[i])
	}
	const piece = 4096
	dir := b.TempDir()
	m := startWriteBench(b)
	for i := 0; i < b.N; i++ {
		path := filepath.Join(dir, "events.parquet")
		ew, err := CreateEvents(path, ClockVirtual, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for lo := 0; lo < len(all); lo += piece {
			hi := min(lo+piece, len(all))
			c := EventColumns{RunID: src.RunID[lo:hi], Seq: src.Seq[lo:hi], TimeNs: src.TimeNs[lo:hi], Node: src.Node[lo:hi],
				Kind: src.Kind[lo:hi], MsgType: src.MsgType[lo:hi], From: src.From[lo:hi], To: src.To[lo:hi],
				Joiner: src.Joiner[lo:hi], Left: src.Left[lo:hi], Right: src.Right[lo:hi], Detail: src.Detail[lo:hi]}
			if err := ew.WriteColumns(&c); err != nil {
				b.Fatal(err)
			}
		}
		if err := ew.Close(); err != nil {
			b.Fatal(err)
		}
		m.file(b, path, len(all))
	}
	m.report(b)
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
