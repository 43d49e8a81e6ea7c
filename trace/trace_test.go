package trace

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// writeEvents writes events to a new file in dir and returns its path.
func writeEvents(t testing.TB, dir string, events []Event, clock Clock, opts Options) string {
	t.Helper()
	path := filepath.Join(dir, "events.parquet")
	ew, err := CreateEvents(path, clock, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEvents(events); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readAllEvents(t testing.TB, path string) []Event {
	t.Helper()
	var got []Event
	if err := ReadEvents(path, func(es []Event) error {
		got = append(got, es...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// nullEvents covers every nullable column both null and set, and strings
// that need escaping in other formats.
func nullEvents() []Event {
	return []Event{
		{RunID: 7, Seq: 0, TimeNs: 0, Kind: KindJoinStart, Node: 3, From: -1, To: -1, Joiner: 3, Left: -1, Right: -1},
		{RunID: 7, Seq: 1, TimeNs: 10, Kind: KindSend, MsgType: "connect", Node: 3, From: 3, To: 0, Joiner: 3, Left: -1, Right: -1},
		{RunID: 7, Seq: 2, TimeNs: 1_500_000, Kind: KindDeliver, MsgType: "connect", Node: 0, From: 3, To: 0, Joiner: 3, Left: 0, Right: 0},
		{RunID: 7, Seq: 3, TimeNs: 1_500_001, Kind: KindState, Node: 0, From: -1, To: -1, Joiner: 3, Left: 3, Right: 3},
		{RunID: 7, Seq: 4, TimeNs: 1_500_001, Kind: KindViolation, Node: 0, From: -1, To: -1, Joiner: -1, Left: 3, Right: 3,
			Detail: "ring broken: 0.right=3 but 3.left=-1, \"quoted\"\nsecond line, ünïcödé"},
		{RunID: 7, Seq: 5, TimeNs: math.MaxInt64, Kind: "custom_kind", MsgType: "not yet known", Node: math.MaxInt64, From: 0, To: math.MinInt64, Joiner: 0, Left: -2, Right: 999},
	}
}

func TestEventsRoundTrip(t *testing.T) {
	big := genEvents(150_000, 7) // more than one staging batch per row group
	allNullMsg := genEvents(300, 3)
	for i := range allNullMsg {
		allNullMsg[i].MsgType = ""
	}
	cases := []struct {
		name      string
		events    []Event
		opts      Options
		clock     Clock
		rowGroups int
	}{
		{"empty", nil, Options{}, ClockVirtual, 0},
		{"nulls", nullEvents(), Options{}, ClockWall, 1},
		{"one row per group", nullEvents(), Options{RowGroupRows: 1}, ClockVirtual, 6},
		{"partial last group", genEvents(1000, 1), Options{RowGroupRows: 64}, ClockVirtual, 16},
		{"exact groups", genEvents(300, 2), Options{RowGroupRows: 100}, ClockVirtual, 3},
		{"all msg_type null", allNullMsg, Options{RowGroupRows: 128}, ClockVirtual, 3},
		{"default options", big, Options{}, ClockVirtual, 2},
		{"groups across batches", big, Options{RowGroupRows: 100_000, CompressionLevel: 3}, ClockVirtual, 2},
		{"groups cut mid batch", big, Options{RowGroupRows: 40_000}, ClockVirtual, 4},
		{"metadata", nullEvents(), Options{Metadata: map[string]string{"dhtexp.git": "abc123", "experiment": "x/y"}}, ClockVirtual, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeEvents(t, t.TempDir(), tc.events, tc.clock, tc.opts)
			got := readAllEvents(t, path)
			if len(got) != len(tc.events) {
				t.Fatalf("read %d events, wrote %d", len(got), len(tc.events))
			}
			for i := range got {
				if got[i] != tc.events[i] {
					t.Fatalf("event %d:\n got %+v\nwant %+v", i, got[i], tc.events[i])
				}
			}

			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.NumRows() != int64(len(tc.events)) || r.NumRowGroups() != tc.rowGroups {
				t.Errorf("NumRows, NumRowGroups = %d, %d; want %d, %d", r.NumRows(), r.NumRowGroups(), len(tc.events), tc.rowGroups)
			}
			// Every row group but the last is full.
			limit := cmp.Or(tc.opts.RowGroupRows, DefaultRowGroupRows)
			for g := 0; g < r.NumRowGroups(); g++ {
				want := min(limit, len(tc.events)-g*limit)
				if got := r.pf.RowGroup(g).NumRows(); got != int64(want) {
					t.Errorf("row group %d has %d rows, want %d", g, got, want)
				}
			}
			want := map[string]string{MetaSchema: "dhtexp.events", MetaSchemaVersion: "1", MetaClock: string(tc.clock)}
			for k, v := range tc.opts.Metadata {
				want[k] = v
			}
			for k, v := range want {
				if got, ok := r.Metadata(k); !ok || got != v {
					t.Errorf("Metadata(%q) = %q, %v; want %q", k, got, ok, v)
				}
			}
			if _, ok := r.Metadata("absent"); ok {
				t.Error("Metadata(absent) reported a value")
			}
			s := r.Schema()
			if err := sameLayout(s, EventSchema); err != nil {
				t.Error(err)
			}
			for i, c := range s.Columns {
				if c.Doc != EventSchema.Columns[i].Doc {
					t.Errorf("column %s doc %q, want %q", c.Name, c.Doc, EventSchema.Columns[i].Doc)
				}
			}
		})
	}
}

func TestJoinsRoundTrip(t *testing.T) {
	var many []Join
	for i := range 5000 {
		j := Join{RunID: int64(i / 1000), Joiner: int64(i % 997), Contact: int64(i % 13), StartNs: int64(i) * 1000,
			EndNs: int64(i)*1000 + 500, Hops: int64(i % 7), Messages: int64(i % 31), Outcome: OutcomeOK}
		switch i % 10 {
		case 3:
			j.EndNs, j.Outcome = -1, OutcomeNotJoined
		case 7:
			j.Outcome = OutcomeFailed
		}
		many = append(many, j)
	}
	cases := []struct {
		name      string
		joins     []Join
		opts      Options
		rowGroups int
	}{
		{"empty", nil, Options{}, 0},
		{"one", []Join{{RunID: 1, Joiner: 2, Contact: 3, StartNs: 4, EndNs: -1, Hops: 0, Messages: 1, Outcome: "timeout"}}, Options{}, 1},
		{"many", many, Options{RowGroupRows: 1024}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "joins.parquet")
			jw, err := CreateJoins(path, ClockVirtual, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := jw.WriteJoins(tc.joins); err != nil {
				t.Fatal(err)
			}
			if err := jw.Close(); err != nil {
				t.Fatal(err)
			}
			var got []Join
			if err := ReadJoins(path, func(js []Join) error {
				got = append(got, js...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.joins) {
				t.Fatalf("read back %d joins that differ from the %d written", len(got), len(tc.joins))
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.NumRowGroups() != tc.rowGroups {
				t.Errorf("NumRowGroups = %d, want %d", r.NumRowGroups(), tc.rowGroups)
			}
			if err := sameLayout(r.Schema(), JoinSchema); err != nil {
				t.Error(err)
			}
			if v, _ := r.Metadata(MetaClock); v != string(ClockVirtual) {
				t.Errorf("clock %q", v)
			}
		})
	}
}

// Ops cover every nullable column both null and set: an unanswered operation has no end,
// status or owner, and only inconsistent gets have a class.
func TestOpsRoundTrip(t *testing.T) {
	ops := []Op{
		{RunID: 3, Op: 1, Kind: "lookup", Key: 1 << 40, Origin: 7, StartNs: 1000, EndNs: 4000, Hops: 2, Status: "ok", Owner: 9, Correct: true, Phase: "before"},
		{RunID: 3, Op: 2, Kind: "get", Key: 0, Origin: 0, StartNs: 2000, EndNs: -1, Hops: 5, Owner: -1, Phase: "during"},
		{RunID: 3, Op: 3, Kind: "get", Key: 12, Origin: 7, StartNs: 2500, EndNs: 9000, Hops: 1, Status: "not_found", Owner: 0, Class: "missing", Phase: "during"},
		{RunID: 4, Op: 1, Kind: "put", Key: math.MaxInt64, Origin: 2, StartNs: 0, EndNs: 0, Hops: 0, Status: "timeout", Owner: -1, Phase: "after"},
	}
	for i := range 3000 {
		ops = append(ops, Op{RunID: 5, Op: int64(i + 1), Kind: []string{"lookup", "get", "put"}[i%3], Key: int64(i * 7919),
			Origin: int64(i % 17), StartNs: int64(i) * 100, EndNs: int64(i)*100 + 50, Hops: int64(i % 9), Status: "ok",
			Owner: int64(i % 17), Correct: i%5 != 0, Phase: "after"})
	}
	path := filepath.Join(t.TempDir(), "ops.parquet")
	ow, err := CreateOps(path, ClockVirtual, Options{RowGroupRows: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := ow.WriteOps(ops); err != nil {
		t.Fatal(err)
	}
	if err := ow.WriteOp(&Op{RunID: 6, Kind: "get"}); err == nil {
		t.Error("an operation without a phase was written")
	}
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	var got []Op
	if err := ReadOps(path, func(batch []Op) error {
		got = append(got, batch...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ops) {
		for i := range min(len(got), len(ops)) {
			if got[i] != ops[i] {
				t.Fatalf("row %d read back as %+v, written as %+v", i, got[i], ops[i])
			}
		}
		t.Fatalf("read back %d ops, wrote %d", len(got), len(ops))
	}
	// The nulls are Parquet nulls, not -1 or "".
	groups := 0
	err = ForEachRowGroup(path, []string{"end_ns", "status", "owner", "class"}, func(c *Chunk) error {
		if groups++; groups > 1 {
			return nil
		}
		for _, col := range []string{"end_ns", "status", "owner"} {
			if v := c.Valid(col); !v[0] || v[1] {
				return fmt.Errorf("%s: valid %v %v, want true false", col, v[0], v[1])
			}
		}
		if v := c.Valid("class"); v[0] || !v[2] {
			return fmt.Errorf("class: valid %v %v, want false true", v[0], v[2])
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := ReadOps(writeEvents(t, t.TempDir(), nullEvents(), ClockVirtual, Options{}), func([]Op) error { return nil }); err == nil {
		t.Error("ReadOps read an events file")
	}
}

func TestReadWrongTable(t *testing.T) {
	dir := t.TempDir()
	events := writeEvents(t, dir, nullEvents(), ClockVirtual, Options{})
	err := ReadJoins(events, func([]Join) error { return nil })
	if err == nil || !strings.Contains(err.Error(), events) {
		t.Errorf("ReadJoins on an events file: %v", err)
	}
}

// runSchema resembles the per-run table: one typed column per parameter,
// with every type, nullability and encoding hint.
var runSchema = Schema{
	Name:    "dhtexp.runs",
	Version: 3,
	Columns: []Column{
		{Name: "run_id", Type: Int64, Doc: "run"},
		{Name: "grid_point", Type: Int64, Encoding: Plain},
		{Name: "replica", Type: Int64, Encoding: Dictionary},
		{Name: "seed", Type: Int64, Nullable: true},
		{Name: "loss", Type: Float64, Doc: "message loss probability"},
		{Name: "jitter", Type: Float64, Nullable: true, Encoding: Dictionary},
		{Name: "churn", Type: Bool},
		{Name: "fifo", Type: Bool, Nullable: true},
		{Name: "topology", Type: String},
		{Name: "variant", Type: String, Nullable: true},
		{Name: "note", Type: Text, Nullable: true},
		{Name: "label", Type: Text},
	},
}

type runRow struct {
	runID, grid, replica int64
	seed                 *int64
	loss                 float64
	jitter               *float64
	churn                bool
	fifo                 *bool
	topology             string
	variant, note        *string
	label                string
}

func makeRuns(n int) []runRow {
	rows := make([]runRow, n)
	for i := range rows {
		r := runRow{runID: int64(i), grid: int64(i / 3), replica: int64(i % 3), loss: float64(i%5) / 10,
			churn: i%2 == 0, topology: []string{"ring", "line", "star"}[i%3], label: fmt.Sprintf("run-%05d", i)}
		if i%4 != 0 {
			seed := int64(i) * 7919
			r.seed = &seed
		}
		if i%3 != 1 {
			j := math.Inf(1)
			if i%3 == 2 {
				j = float64(i) / 7
			}
			r.jitter = &j
		}
		if i%5 != 0 {
			b := i%5 > 2
			r.fifo = &b
		}
		if i%6 != 0 {
			v := []string{"a", "b"}[i%2]
			r.variant = &v
		}
		if i%7 == 0 {
			note := strings.Repeat("n", i%50)
			r.note = &note
		}
		rows[i] = r
	}
	return rows
}

func writeRuns(t *testing.T, path string, rows []runRow, opts Options) {
	t.Helper()
	w, err := Create(path, runSchema, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, r := range rows {
		w.Int64(0, r.runID)
		w.Int64(1, r.grid)
		w.Int64(2, r.replica)
		if r.seed != nil {
			w.Int64(3, *r.seed)
		} else {
			w.Null(3)
		}
		w.Float64(4, r.loss)
		if r.jitter != nil {
			w.Float64(5, *r.jitter)
		} else {
			w.Null(5)
		}
		w.Bool(6, r.churn)
		if r.fifo != nil {
			w.Bool(7, *r.fifo)
		} else {
			w.Null(7)
		}
		w.String(8, r.topology)
		if r.variant != nil {
			w.String(9, *r.variant)
		} else {
			w.Null(9)
		}
		if r.note != nil {
			w.String(10, *r.note)
		} else {
			w.Null(10)
		}
		w.String(11, r.label)
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != int64(len(rows)) {
		t.Errorf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGenericRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 17, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "runs.parquet")
			rows := makeRuns(n)
			writeRuns(t, path, rows, Options{RowGroupRows: 256})

			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			s := r.Schema()
			if s.Name != runSchema.Name || s.Version != runSchema.Version {
				t.Errorf("schema %s v%d, want %s v%d", s.Name, s.Version, runSchema.Name, runSchema.Version)
			}
			if err := sameLayout(s, runSchema); err != nil {
				t.Error(err)
			}
			if s.Columns[4].Doc != "message loss probability" {
				t.Errorf("doc not kept: %q", s.Columns[4].Doc)
			}

			seen := 0
			for g := 0; g < r.NumRowGroups(); g++ {
				// Projection, in an order unlike the file's.
				c, err := r.ReadColumns(g, "label", "seed", "jitter", "fifo", "variant", "note")
				if err != nil {
					t.Fatal(err)
				}
				if c.RowGroup() != g || !slices.Equal(c.Columns(), []string{"label", "seed", "jitter", "fifo", "variant", "note"}) {
					t.Errorf("chunk row group %d columns %v", c.RowGroup(), c.Columns())
				}
				if c.Has("run_id") {
					t.Error("unrequested column in chunk")
				}
				label, seed, seedOK := c.String("label"), c.Int64("seed"), c.Valid("seed")
				jitter, jitterOK := c.Float64("jitter"), c.Valid("jitter")
				fifo, fifoOK := c.Bool("fifo"), c.Valid("fifo")
				variant, variantOK := c.String("variant"), c.Valid("variant")
				note, noteOK := c.String("note"), c.Valid("note")
				if c.Valid("label") != nil {
					t.Error("Valid of a required column is not nil")
				}
				for i := 0; i < c.NumRows(); i++ {
					want := rows[seen+i]
					if label[i] != want.label ||
						seedOK[i] != (want.seed != nil) || (want.seed != nil && seed[i] != *want.seed) || (want.seed == nil && seed[i] != 0) ||
						jitterOK[i] != (want.jitter != nil) || (want.jitter != nil && jitter[i] != *want.jitter) ||
						fifoOK[i] != (want.fifo != nil) || (want.fifo != nil && fifo[i] != *want.fifo) ||
						variantOK[i] != (want.variant != nil) || (want.variant != nil && variant[i] != *want.variant) ||
						noteOK[i] != (want.note != nil) || (want.note != nil && note[i] != *want.note) {
						t.Fatalf("row %d differs: %+v", seen+i, want)
					}
				}

				all, err := r.ReadColumns(g)
				if err != nil {
					t.Fatal(err)
				}
				ids, grid, replica, loss := all.Int64("run_id"), all.Int64("grid_point"), all.Int64("replica"), all.Float64("loss")
				churn, topo := all.Bool("churn"), all.String("topology")
				for i := 0; i < all.NumRows(); i++ {
					want := rows[seen+i]
					if ids[i] != want.runID || grid[i] != want.grid || replica[i] != want.replica ||
						loss[i] != want.loss || churn[i] != want.churn || topo[i] != want.topology {
						t.Fatalf("row %d differs: %+v", seen+i, want)
					}
				}
				seen += c.NumRows()
			}
			if seen != n {
				t.Errorf("read %d rows, wrote %d", seen, n)
			}
		})
	}
}

func TestForEachRowGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.parquet")
	rows := makeRuns(100)
	writeRuns(t, path, rows, Options{RowGroupRows: 30})
	var ids []int64
	var groups []int
	err := ForEachRowGroup(path, []string{"run_id"}, func(c *Chunk) error {
		groups = append(groups, c.RowGroup())
		ids = append(ids, c.Int64("run_id")...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups, []int{0, 1, 2, 3}) || len(ids) != 100 || ids[99] != 99 {
		t.Errorf("groups %v, %d ids", groups, len(ids))
	}

	stop := errors.New("stop")
	calls := 0
	err = ForEachRowGroup(path, nil, func(c *Chunk) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("callback error: got %v after %d calls", err, calls)
	}

	err = ForEachRowGroup(path, []string{"nope"}, func(*Chunk) error { return nil })
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown column: %v", err)
	}
}

func TestChunkMisuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.parquet")
	writeRuns(t, path, makeRuns(3), Options{})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.ReadColumns(1); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("row group out of range: %v", err)
	}
	if _, err := r.ReadColumns(0, "seed", "seed"); err == nil {
		t.Error("duplicate column accepted")
	}
	c, err := r.ReadColumns(0, "seed", "label")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"wrong type":   func() { c.Float64("seed") },
		"not read":     func() { c.Int64("run_id") },
		"no such name": func() { c.Valid("nope") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// A column declared String whose values are all distinct outgrows the
// writer's dictionary and must still round-trip; one with a hundred values
// stays dictionary encoded.
func TestDictionaryOverflow(t *testing.T) {
	s := Schema{Name: "t.overflow", Version: 1, Columns: []Column{
		{Name: "s", Type: String, Nullable: true},
		{Name: "k", Type: String},
	}}
	n := maxDictEntries + 2*maxBatchRows + 10
	value := func(i int) string {
		if i%9 == 0 {
			return ""
		}
		return fmt.Sprintf("value-%d", i)
	}
	path := filepath.Join(t.TempDir(), "o.parquet")
	w, err := Create(path, s, Options{RowGroupRows: maxBatchRows + maxDictEntries})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if v := value(i); v == "" {
			w.Null(0)
		} else {
			w.String(0, v)
		}
		w.String(1, fmt.Sprint("k", i%100)) // past smallDict: found by hashing
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	i := 0
	err = ForEachRowGroup(path, nil, func(c *Chunk) error {
		vs, ok, ks := c.String("s"), c.Valid("s"), c.String("k")
		for j := range vs {
			if want := value(i); vs[j] != want || ok[j] != (want != "") || ks[j] != fmt.Sprint("k", i%100) {
				return fmt.Errorf("row %d: %q %v %q", i, vs[j], ok[j], ks[j])
			}
			i++
		}
		return nil
	})
	if err != nil || i != n {
		t.Fatalf("read %d of %d rows: %v", i, n, err)
	}
}

func TestRowErrors(t *testing.T) {
	s := Schema{Name: "t.rows", Version: 1, Columns: []Column{
		{Name: "a", Type: Int64},
		{Name: "b", Type: String, Nullable: true},
		{Name: "c", Type: Text},
		{Name: "d", Type: Int64, Nullable: true},
		{Name: "e", Type: Text, Nullable: true},
	}}
	path := filepath.Join(t.TempDir(), "rows.parquet")
	w, err := Create(path, s, Options{RowGroupRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := func(a int64) {
		t.Helper()
		w.Int64(0, a)
		w.String(1, "b")
		w.String(2, "c")
		if a%2 == 0 {
			w.Int64(3, a)
			w.String(4, "e")
		} else {
			w.Null(3)
			w.Null(4)
		}
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	de := func() { w.Int64(3, -1); w.String(4, "bad") }
	bad := []struct {
		name string
		fill func()
		msg  string
	}{
		{"missing value", func() { w.Int64(0, 1); w.Null(1); de() }, `no value for column "c"`},
		{"two values", func() { w.Int64(0, 1); w.Int64(0, 2); w.Null(1); w.String(2, "x"); de() }, `2 values for column "a"`},
		{"two nullable values", func() { w.Int64(0, 1); w.Null(1); w.String(2, "x"); de(); w.Int64(3, 5) }, `2 values for column "d"`},
		{"two null", func() {
			w.Int64(0, 1)
			w.Null(1)
			w.String(2, "x")
			w.Null(3)
			w.Null(3)
			w.Null(4)
		}, `2 values for column "d"`},
		{"wrong type", func() { w.String(0, "1"); w.Null(1); w.String(2, "x"); de() }, `String on int64 column "a"`},
		{"null on required", func() { w.Null(0); w.Null(1); w.String(2, "x"); de() }, `Null on required column "a"`},
		{"bool on string", func() { w.Int64(0, 1); w.Bool(1, true); w.String(2, "x"); de() }, `Bool on string column "b"`},
		{"float on text", func() { w.Int64(0, 1); w.Null(1); w.Float64(2, 1); de() }, `Float64 on text column "c"`},
	}
	good(0)
	for i, b := range bad {
		b.fill()
		err := w.EndRow()
		if err == nil || !strings.Contains(err.Error(), b.msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: EndRow error %v, want one naming %s and %q", b.name, err, path, b.msg)
		}
		good(int64(i + 1))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var got []int64
	if err := ForEachRowGroup(path, nil, func(c *Chunk) error {
		a, d, dOK, e, eOK := c.Int64("a"), c.Int64("d"), c.Valid("d"), c.String("e"), c.Valid("e")
		got = append(got, a...)
		for i, v := range c.String("b") {
			even := a[i]%2 == 0
			if v != "b" || dOK[i] != even || eOK[i] != even || (even && (d[i] != a[i] || e[i] != "e")) {
				t.Errorf("row a=%d: b=%q d=%d,%v e=%q,%v: a discarded row leaked into the file", a[i], v, d[i], dOK[i], e[i], eOK[i])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	one := func(c Column) Schema { return Schema{Name: "t", Version: 1, Columns: []Column{c}} }
	cases := []struct {
		name string
		path string
		s    Schema
		opts Options
	}{
		{"no name", "a", Schema{Version: 1, Columns: []Column{{Name: "a", Type: Int64}}}, Options{}},
		{"version 0", "a", Schema{Name: "t", Columns: []Column{{Name: "a", Type: Int64}}}, Options{}},
		{"no columns", "a", Schema{Name: "t", Version: 1}, Options{}},
		{"duplicate", "a", Schema{Name: "t", Version: 1, Columns: []Column{{Name: "a", Type: Int64}, {Name: "a", Type: Bool}}}, Options{}},
		{"dotted name", "a", one(Column{Name: "a.b", Type: Int64}), Options{}},
		{"empty name", "a", one(Column{Type: Int64}), Options{}},
		{"no type", "a", one(Column{Name: "a"}), Options{}},
		{"delta string", "a", one(Column{Name: "a", Type: String, Encoding: Delta}), Options{}},
		{"dictionary bool", "a", one(Column{Name: "a", Type: Bool, Encoding: Dictionary}), Options{}},
		{"bad encoding", "a", one(Column{Name: "a", Type: Int64, Encoding: 9}), Options{}},
		{"bad compression", "a", one(Column{Name: "a", Type: Int64, Compression: 9}), Options{}},
		{"negative compression", "a", one(Column{Name: "a", Type: Int64, Compression: -1}), Options{}},
		{"reserved key", "a", one(Column{Name: "a", Type: Int64}), Options{Metadata: map[string]string{MetaSchema: "x"}}},
		{"bad level", "a", one(Column{Name: "a", Type: Int64}), Options{CompressionLevel: 23}},
		{"negative rows", "a", one(Column{Name: "a", Type: Int64}), Options{RowGroupRows: -1}},
		{"missing dir", "nodir/a", one(Column{Name: "a", Type: Int64}), Options{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.path)
			w, err := Create(path, tc.s, tc.opts)
			if err == nil {
				w.Abort()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
	if _, err := CreateEvents(filepath.Join(dir, "e"), "lunar", Options{}); err == nil {
		t.Error("invalid clock accepted")
	}
	if _, err := CreateEvents(filepath.Join(dir, "e"), ClockWall, Options{Metadata: map[string]string{MetaClock: "virtual"}}); err == nil {
		t.Error("contradicting clock metadata accepted")
	}
	ew, err := CreateEvents(filepath.Join(dir, "e"), ClockWall, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ew.Abort()
	if err := ew.WriteEvent(&Event{}); err == nil {
		t.Error("event without kind accepted")
	}
	jw, err := CreateJoins(filepath.Join(dir, "j"), ClockWall, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer jw.Abort()
	if err := jw.WriteJoin(&Join{}); err == nil {
		t.Error("join without outcome accepted")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("failed creates left files behind: %v", entries)
	}
}

// names lists the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range es {
		ns = append(ns, e.Name())
	}
	return ns
}

func TestWriterLifecycle(t *testing.T) {
	t.Run("not closed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "e.parquet")
		ew, err := CreateEvents(path, ClockVirtual, Options{RowGroupRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := ew.WriteEvents(nullEvents()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("final file exists before Close: %v", err)
		}
		ns := names(t, dir)
		if len(ns) != 1 || !strings.HasPrefix(ns[0], "e.parquet.tmp-") {
			t.Errorf("directory holds %v, want one e.parquet.tmp-* file", ns)
		}
		// Never closed: as after a crash, only the temporary file exists.
	})
	t.Run("abort", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "e.parquet")
		ew, err := CreateEvents(path, ClockVirtual, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ew.WriteEvents(nullEvents()); err != nil {
			t.Fatal(err)
		}
		if err := ew.Abort(); err != nil {
			t.Fatal(err)
		}
		if ns := names(t, dir); len(ns) != 0 {
			t.Errorf("Abort left %v", ns)
		}
		if err := ew.Abort(); err != nil {
			t.Errorf("second Abort: %v", err)
		}
		if err := ew.Close(); err == nil {
			t.Error("Close after Abort succeeded")
		}
		if err := ew.WriteEvent(&nullEvents()[0]); err == nil {
			t.Error("write after Abort succeeded")
		}
		if ns := names(t, dir); len(ns) != 0 {
			t.Errorf("Close after Abort left %v", ns)
		}
	})
	t.Run("close", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "e.parquet")
		ew, err := CreateEvents(path, ClockVirtual, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		if ns := names(t, dir); !slices.Equal(ns, []string{"e.parquet"}) {
			t.Errorf("after Close directory holds %v", ns)
		}
		// The file gets the permissions os.Create would give it.
		ref, err := os.Create(filepath.Join(t.TempDir(), "ref"))
		if err != nil {
			t.Fatal(err)
		}
		ref.Close()
		want, err := os.Stat(ref.Name())
		if err != nil {
			t.Fatal(err)
		}
		if got, err := os.Stat(path); err != nil || got.Mode() != want.Mode() {
			t.Errorf("mode %v, want %v (%v)", got.Mode(), want.Mode(), err)
		}
		if err := ew.Abort(); err != nil {
			t.Errorf("Abort after Close: %v", err)
		}
		if err := ew.Close(); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("second Close: %v", err)
		}
		if _, err := os.Stat(path); err != nil {
			t.Errorf("Abort after Close removed the file: %v", err)
		}
	})
	t.Run("replaces", func(t *testing.T) {
		dir := t.TempDir()
		writeEvents(t, dir, nullEvents(), ClockVirtual, Options{})
		path := writeEvents(t, dir, nullEvents()[:2], ClockVirtual, Options{})
		if got := readAllEvents(t, path); len(got) != 2 {
			t.Errorf("rewritten file has %d events", len(got))
		}
	})
	t.Run("partial row", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.parquet")
		w, err := Create(path, runSchema, Options{})
		if err != nil {
			t.Fatal(err)
		}
		w.Int64(0, 1)
		if err := w.Close(); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Close with a partial row: %v", err)
		}
		if ns := names(t, dir); len(ns) != 0 {
			t.Errorf("failed Close left %v", ns)
		}
	})
}

// Identical input gives identical bytes, so reruns can be compared by hash.
func TestDeterministic(t *testing.T) {
	events := genEvents(5000, 11)
	md := map[string]string{"z": "1", "a": "2", "m": "3", "dhtexp.run": "r"}
	a := writeEvents(t, t.TempDir(), events, ClockVirtual, Options{RowGroupRows: 1000, Metadata: md})
	b := writeEvents(t, t.TempDir(), events, ClockVirtual, Options{RowGroupRows: 1000, Metadata: md})
	ba, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba, bb) {
		t.Error("same events written twice give different files")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeEvents(t, dir, genEvents(2000, 5), ClockVirtual, Options{RowGroupRows: 500})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	truncated := write("truncated.parquet", data[:len(data)/2])
	tail := write("tail-only.parquet", append([]byte("PAR1"), data[len(data)/2:]...))
	empty := write("empty.parquet", nil)
	plain := writePlainParquet(t, filepath.Join(dir, "plain.parquet"), nil)
	noVersion := writePlainParquet(t, filepath.Join(dir, "noversion.parquet"), map[string]string{MetaSchema: "dhtexp.runs"})
	badVersion := writePlainParquet(t, filepath.Join(dir, "badversion.parquet"), map[string]string{MetaSchema: "dhtexp.runs", MetaSchemaVersion: "one"})

	future := cloneSchema(EventSchema)
	future.Version = 2
	futurePath := filepath.Join(dir, "future.parquet")
	w, err := Create(futurePath, future, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	other := cloneSchema(JoinSchema)
	other.Columns = other.Columns[:3]
	otherPath := filepath.Join(dir, "other.parquet")
	if w, err = Create(otherPath, other, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path, msg string
	}{
		{"not parquet", filepath.Join("testdata", "not-parquet.txt"), "Parquet"},
		{"truncated", truncated, "Parquet"},
		{"tail only", tail, ""},
		{"empty file", empty, "Parquet"},
		{"missing file", filepath.Join(dir, "absent.parquet"), "no such file"},
		{"directory", dir, ""},
		{"no dhtexp metadata", plain, MetaSchema},
		{"no version", noVersion, MetaSchemaVersion},
		{"bad version", badVersion, MetaSchemaVersion},
		{"future version", futurePath, "version 2"},
		{"wrong columns", otherPath, "columns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(tc.path)
			if err == nil {
				r.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q should name %s and say %q", err, tc.path, tc.msg)
			}
			err = ReadEvents(tc.path, func([]Event) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("ReadEvents: %v", err)
			}
		})
	}
}

// TestGolden reads a file written by an earlier build, so that format
// changes that would break files already on disk are noticed. The expected
// rows are kept beside it as JSON. Regenerate both with
//
//	go test ./trace -run Golden -args -update
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "events-v1.parquet")
	wantPath := filepath.Join("testdata", "events-v1.json")
	if *update {
		events := append(nullEvents(), genEvents(200, 99)...)
		for i := range events {
			events[i].Seq = int64(i)
		}
		ew, err := CreateEvents(path, ClockVirtual, Options{RowGroupRows: 64, Metadata: map[string]string{"dhtexp.note": "golden file for trace tests"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := ew.WriteEvents(events); err != nil {
			t.Fatal(err)
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		js, err := json.MarshalIndent(events, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(wantPath, append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []Event
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	got := readAllEvents(t, path)
	if len(got) != len(want) {
		t.Fatalf("golden file holds %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if v, _ := r.Metadata("dhtexp.note"); v != "golden file for trace tests" || r.NumRowGroups() != 4 {
		t.Errorf("note %q, %d row groups", v, r.NumRowGroups())
	}
}
