package trace

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestWriteColumns checks that events written column-wise, in slices that
// straddle row groups, make the same file as events written one by one.
func TestWriteColumns(t *testing.T) {
	events := append(nullEvents(), genEvents(5000, 3)...)
	for i := range events {
		events[i].Seq = int64(i)
	}
	events[100].Detail = "a detail"
	for _, opts := range []Options{{}, {RowGroupRows: 1000}, {RowGroupRows: 7}} {
		dir := t.TempDir()
		want := writeEvents(t, dir, events, ClockVirtual, opts)

		path := filepath.Join(dir, "columns.parquet")
		ew, err := CreateEvents(path, ClockVirtual, opts)
		if err != nil {
			t.Fatal(err)
		}
		var c EventColumns
		for lo := 0; lo < len(events); lo += 1234 {
			c.Reset()
			for i := lo; i < min(lo+1234, len(events)); i++ {
				c.Append(&events[i])
			}
			if err := ew.WriteColumns(&c); err != nil {
				t.Fatal(err)
			}
		}
		if err := ew.Close(); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(want)
		b, _ := os.ReadFile(path)
		if !bytes.Equal(a, b) {
			t.Errorf("RowGroupRows %d: column-wise file differs from the row-wise one", opts.RowGroupRows)
		}
	}
}

func TestWriteColumnsErrors(t *testing.T) {
	ew, err := CreateEvents(filepath.Join(t.TempDir(), "e.parquet"), ClockVirtual, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ew.Abort()
	var c EventColumns
	c.Append(&Event{Seq: 0, Kind: KindSend, From: -1, To: -1, Joiner: -1, Left: -1, Right: -1})
	c.Append(&Event{Seq: 1, From: -1, To: -1, Joiner: -1, Left: -1, Right: -1})
	if err := ew.WriteColumns(&c); err == nil {
		t.Error("no error for an event without kind")
	}
	c.Reset()
	c.Seq = append(c.Seq, 1)
	if err := ew.WriteColumns(&c); err == nil {
		t.Error("no error for columns of different lengths")
	}
}

// Row groups encoded on several goroutines make the same file as row groups
// encoded on one.
func TestParallelEncodeSameFile(t *testing.T) {
	events := genEvents(300_000, 4)
	for i := range events {
		events[i].Seq = int64(i)
		if i%1000 == 0 {
			events[i].Detail = "detail"
		}
	}
	dir := t.TempDir()
	opts := Options{RowGroupRows: 100_000}
	par := writeEvents(t, filepath.Join(dir), events, ClockVirtual, opts)
	a, _ := os.ReadFile(par)
	parallelEncode = false
	defer func() { parallelEncode = true }()
	ser := writeEvents(t, t.TempDir(), events, ClockVirtual, opts)
	b, _ := os.ReadFile(ser)
	if !bytes.Equal(a, b) {
		t.Errorf("files differ: %d bytes encoded in parallel, %d serially", len(a), len(b))
	}
	got := readAllEvents(t, par)
	if len(got) != len(events) {
		t.Fatalf("read %d events, wrote %d", len(got), len(events))
	}
	for i := range got {
		if got[i] != events[i] {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], events[i])
		}
	}
}

// Flush before Close makes the same file as Close alone; rows written after Flush start a
// row group of their own; values of an unfinished row make Flush fail.
func TestFlush(t *testing.T) {
	events := genEvents(5000, 3)
	for i := range events {
		events[i].Seq = int64(i)
	}
	whole := writeEvents(t, t.TempDir(), events, ClockVirtual, Options{})
	flushed := filepath.Join(t.TempDir(), "events.parquet")
	ew, err := CreateEvents(flushed, ClockVirtual, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEvents(events[:3000]); err != nil {
		t.Fatal(err)
	}
	if err := ew.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(flushed)
	partial := writeEvents(t, t.TempDir(), events[:3000], ClockVirtual, Options{})
	c, _ := os.ReadFile(partial)
	if !bytes.Equal(b, c) {
		t.Errorf("Flush then Close: %d bytes, Close alone %d", len(b), len(c))
	}

	split := filepath.Join(t.TempDir(), "events.parquet")
	if ew, err = CreateEvents(split, ClockVirtual, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEvents(events[:3000]); err != nil {
		t.Fatal(err)
	}
	if err := ew.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEvents(events[3000:]); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(split)
	if err != nil {
		t.Fatal(err)
	}
	groups := r.NumRowGroups()
	r.Close()
	if groups != 2 {
		t.Errorf("rows after Flush: %d row groups, want 2", groups)
	}
	if got := readAllEvents(t, split); !slices.Equal(got, events) {
		t.Errorf("read back %d events, wrote %d, or they differ", len(got), len(events))
	}
	if d, _ := os.ReadFile(split); bytes.Equal(d, a) {
		t.Error("a file of two row groups is the same as one of one")
	}

	w, err := Create(filepath.Join(t.TempDir(), "e.parquet"), EventSchema, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	w.Int64(evRunID, 1)
	if err := w.Flush(); err == nil {
		t.Error("no error for Flush after a partial row")
	}
}

// WriteEvent after values given through the generic Writer fails and drops them, as EndRow
// does for any row, and the next event is written; after Close it fails.
func TestWriteEventAfterMisuse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.parquet")
	ew, err := CreateEvents(path, ClockVirtual, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := Event{RunID: 1, Seq: 0, Kind: KindTimer, Node: 3, From: -1, To: -1, Joiner: -1, Left: -1, Right: -1}
	ew.Writer().Int64(evRunID, 9)
	if err := ew.WriteEvent(&e); err == nil {
		t.Error("no error for an event after a partial row")
	}
	e.Seq = 1
	if err := ew.WriteEvent(&e); err != nil {
		t.Fatalf("event after the failed one: %v", err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ew.WriteEvent(&e); err == nil {
		t.Error("no error for an event after Close")
	}
	got := readAllEvents(t, path)
	if len(got) != 1 || got[0] != e {
		t.Errorf("read back %+v, want only %+v", got, e)
	}
}
