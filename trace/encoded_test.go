package trace

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Events encoded away from the file by an EventEncoder and appended with WriteEncoded make
// the same file, byte for byte, as the same events written to the file with a Flush at
// every Take: row groups cut by the row limit inside a Take, columns that arrow-go's
// column writer encodes (a detail dictionary that outgrows its bounds, a dictionary column
// with no value in a row group), compressed and uncompressed columns, and rows written to
// the file directly between encoded ones.
func TestEncodedSameFile(t *testing.T) {
	observed := observedEvents(30_000, 11)
	var coded EventColumns
	for i := range observed {
		coded.AppendObserved(int64(i/700), &observed[i])
	}
	// Every detail different, and none at all: past the dictionary's bounds, then no value.
	var distinct, none EventColumns
	for i := range 40_000 {
		e := Event{RunID: 3, Seq: int64(i), TimeNs: int64(i) * 7, Kind: KindViolation, Node: int64(i % 97), From: -1, To: -1,
			Joiner: -1, Left: int64(i % 13), Right: -1, Detail: fmt.Sprintf("violation %d: %s", i, strings.Repeat("x", i%40))}
		distinct.Append(&e)
		e.Detail = ""
		none.Append(&e)
	}
	for _, tc := range []struct {
		name string
		opts Options
		src  *EventColumns
		// pieces lists the pieces handed over, as [lo, hi) of the events, each a Take; a
		// negative lo writes the piece to the file directly.
		pieces [][2]int
	}{
		{"observed", Options{RowGroupRows: 8_000}, &coded, [][2]int{{0, 5_000}, {5_000, 21_000}, {21_000, 21_001}, {21_001, 30_000}}},
		{"direct rows between", Options{RowGroupRows: 8_000}, &coded, [][2]int{{0, 9_000}, {-9_000, 12_000}, {12_000, 30_000}}},
		{"overflowing detail", Options{}, &distinct, [][2]int{{0, 20_000}, {20_000, 40_000}}},
		{"no detail", Options{RowGroupRows: 16_000, CompressionLevel: 3}, &none, [][2]int{{0, 40_000}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			direct, err := CreateEvents(filepath.Join(dir, "direct.parquet"), ClockVirtual, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			viaEnc, err := CreateEvents(filepath.Join(dir, "encoded.parquet"), ClockVirtual, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := NewEventEncoder(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Release()
			var held Encoded
			for _, p := range tc.pieces {
				lo, hi := p[0], p[1]
				piece := tc.src.slice(abs(lo), hi)
				if err := direct.WriteColumns(&piece); err != nil {
					t.Fatal(err)
				}
				// WriteEncoded puts rows written directly before it in a row group of their own.
				if err := direct.Flush(); err != nil {
					t.Fatal(err)
				}
				if lo < 0 {
					if err := viaEnc.WriteColumns(&piece); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := enc.WriteColumns(&piece); err != nil {
					t.Fatal(err)
				}
				if got := enc.Rows(); got != int64(hi-lo) {
					t.Fatalf("encoder holds %d rows, want %d", got, hi-lo)
				}
				if err := enc.Take(&held); err != nil {
					t.Fatal(err)
				}
				if held.Rows() != int64(hi-lo) || enc.Rows() != 0 {
					t.Fatalf("took %d rows, %d left; want %d, 0", held.Rows(), enc.Rows(), hi-lo)
				}
				if err := viaEnc.WriteEncoded(&held); err != nil {
					t.Fatal(err)
				}
				if held.Rows() != 0 || held.Size() != 0 {
					t.Fatalf("written Encoded still holds %d rows, %d bytes", held.Rows(), held.Size())
				}
			}
			if err := direct.Close(); err != nil {
				t.Fatal(err)
			}
			if err := viaEnc.Close(); err != nil {
				t.Fatal(err)
			}
			a, err := os.ReadFile(filepath.Join(dir, "direct.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "encoded.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("files differ: %d and %d bytes", len(a), len(b))
			}
			got := readAllEvents(t, filepath.Join(dir, "encoded.parquet"))
			if len(got) != tc.src.Len() {
				t.Fatalf("read %d events, wrote %d", len(got), tc.src.Len())
			}
			for i := range got {
				if want := tc.src.Event(i); got[i] != want {
					t.Fatalf("event %d: got %+v, want %+v", i, got[i], want)
				}
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }

// WriteEncoded refuses rows encoded for another table or at another zstd level, and
// leaves the file usable.
func TestWriteEncodedMismatch(t *testing.T) {
	enc, err := NewEventEncoder(Options{CompressionLevel: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Release()
	es := nullEvents()
	var c EventColumns
	for i := range es {
		c.Append(&es[i])
	}
	if err := enc.WriteColumns(&c); err != nil {
		t.Fatal(err)
	}
	var held Encoded
	if err := enc.Take(&held); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "events.parquet")
	ew, err := CreateEvents(path, ClockVirtual, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = ew.WriteEncoded(&held)
	if err == nil || !strings.Contains(err.Error(), "zstd level 5") {
		t.Fatalf("WriteEncoded at another level: %v", err)
	}
	if err := ew.WriteEvents(es); err != nil {
		t.Fatal(err)
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAllEvents(t, path); len(got) != len(es) {
		t.Fatalf("read %d events, want %d", len(got), len(es))
	}
}

// An Encoder refuses the options a Writer refuses, naming them.
func TestNewEncoderBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{RowGroupRows: -1}, "negative RowGroupRows -1"},
		{Options{CompressionLevel: 23}, "zstd level 23 out of range"},
	} {
		if _, err := NewEventEncoder(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewEventEncoder(%+v): %v, want an error with %q", tc.opts, err, tc.want)
		}
	}
	if _, err := NewEncoder(Schema{Name: "t"}, Options{}); err == nil {
		t.Error("NewEncoder of a table with no columns: no error")
	}
}
