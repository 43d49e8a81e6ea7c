package trace

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// plainRow is one row of TestPlainColumns; the null flags say which values are null.
type plainRow struct {
	seed                int64
	x, y                float64
	ok, maybe           bool
	yNull, maybeNull, z bool // z: the all-null column's row is null (always)
}

// Float64, Bool and Plain Int64 columns, whose pages this package encodes, read back through
// arrow-go's column readers with their values and nulls, and with the column chunk statistics
// that arrow-go's own column writers give the same rows: NaN, infinities and both zeros,
// row groups where every value is NaN or null, booleans all alike, pages of more than one
// page's values, serial and parallel encoding.
func TestPlainColumns(t *testing.T) {
	s := Schema{Name: "test.plain", Version: 1, Columns: []Column{
		{Name: "seed", Type: Int64, Encoding: Plain},
		{Name: "x", Type: Float64},
		{Name: "y", Type: Float64, Nullable: true},
		{Name: "ok", Type: Bool},
		{Name: "maybe", Type: Bool, Nullable: true},
		{Name: "none", Type: Float64, Nullable: true},
	}}
	const group = 70_000 // more than a page of this package's (65,536 values)
	const n = 5 * group
	rng := rand.New(rand.NewPCG(5, 6))
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, -math.SmallestNonzeroFloat64}
	rows := make([]plainRow, n)
	for i := range rows {
		r := plainRow{seed: int64(rng.Uint64()), x: rng.NormFloat64() * 1e6, ok: rng.IntN(2) == 0, z: true}
		if i%1000 < 3 {
			r.seed = []int64{math.MinInt64, math.MaxInt64, 0}[i%3]
		}
		if rng.IntN(50) == 0 {
			r.x = odd[rng.IntN(len(odd))]
		}
		switch g := i / group; g {
		case 0: // plain values, scattered nulls
			r.y, r.yNull = rng.Float64(), rng.IntN(3) == 0
			r.maybe, r.maybeNull = rng.IntN(2) == 0, rng.IntN(3) == 0
		case 1: // every y NaN or null; every maybe true
			r.y, r.yNull = math.NaN(), rng.IntN(2) == 0
			r.maybe = true
		case 2: // zeros of both signs only; every maybe false or null
			r.y = []float64{0, math.Copysign(0, -1)}[rng.IntN(2)]
			r.maybe, r.maybeNull = false, rng.IntN(5) == 0
			r.ok = true
		case 3: // only nulls
			r.yNull, r.maybeNull = true, true
		default: // one value among nulls
			r.yNull, r.maybeNull = i != 4*group+7, i != 4*group+7
			r.y, r.maybe = -2.5, true
		}
		rows[i] = r
	}
	write := func(t *testing.T, own, parallel bool) string {
		ownPlain, parallelEncode = own, parallel
		defer func() { ownPlain, parallelEncode = true, true }()
		path := filepath.Join(t.TempDir(), "p.parquet")
		w, err := Create(path, s, Options{RowGroupRows: group})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			w.Int64(0, r.seed)
			w.Float64(1, r.x)
			if r.yNull {
				w.Null(2)
			} else {
				w.Float64(2, r.y)
			}
			w.Bool(3, r.ok)
			if r.maybeNull {
				w.Null(4)
			} else {
				w.Bool(4, r.maybe)
			}
			w.Null(5)
			if err := w.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	arrow := write(t, false, false)
	for _, parallel := range []bool{false, true} {
		path := write(t, true, parallel)
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := file.OpenParquetFile(arrow, false)
		if err != nil {
			t.Fatal(err)
		}
		if pf.NumRows() != n || pf.NumRowGroups() != ref.NumRowGroups() {
			t.Fatalf("parallel=%v: %d rows in %d row groups, want %d in %d", parallel, pf.NumRows(), pf.NumRowGroups(), n, ref.NumRowGroups())
		}
		got := readPlain(t, pf)
		for i, r := range rows {
			g := got[i]
			same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
			if g.seed != r.seed || !same(g.x, r.x) || g.ok != r.ok || g.yNull != r.yNull || g.maybeNull != r.maybeNull || !g.z ||
				!r.yNull && !same(g.y, r.y) || !r.maybeNull && g.maybe != r.maybe {
				t.Fatalf("parallel=%v: row %d reads %+v, want %+v", parallel, i, g, r)
			}
		}
		for g := 0; g < pf.NumRowGroups(); g++ {
			for col := range s.Columns {
				cc, err := pf.MetaData().RowGroup(g).ColumnChunk(col)
				if err != nil {
					t.Fatal(err)
				}
				rc, err := ref.MetaData().RowGroup(g).ColumnChunk(col)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(cc.Encodings(), parquet.Encodings.Plain) {
					t.Errorf("parallel=%v: row group %d column %s: encodings %v", parallel, g, s.Columns[col].Name, cc.Encodings())
				}
				st, err := cc.Statistics()
				if err != nil || st == nil {
					t.Fatalf("row group %d column %s: statistics %v, %v", g, s.Columns[col].Name, st, err)
				}
				rst, err := rc.Statistics()
				if err != nil || rst == nil {
					t.Fatalf("arrow-go's row group %d column %s: statistics %v, %v", g, s.Columns[col].Name, rst, err)
				}
				e, _ := st.Encode()
				re, _ := rst.Encode()
				if e.HasMin != re.HasMin || e.HasMax != re.HasMax || !bytes.Equal(e.Min, re.Min) || !bytes.Equal(e.Max, re.Max) ||
					e.NullCount != re.NullCount || e.AllNullValue != re.AllNullValue || st.NumValues() != rst.NumValues() {
					t.Errorf("parallel=%v: row group %d column %s: statistics %+v (%d values), arrow-go's %+v (%d values)",
						parallel, g, s.Columns[col].Name, e, st.NumValues(), re, rst.NumValues())
				}
			}
		}
		pf.Close()
		ref.Close()
	}
}

// readPlain reads TestPlainColumns's file back row by row.
func readPlain(t *testing.T, pf *file.Reader) []plainRow {
	t.Helper()
	var out []plainRow
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := pf.RowGroup(g)
		m := int(rg.NumRows())
		rows := make([]plainRow, m)
		read := func(col int) {
			cr, err := rg.Column(col)
			if err != nil {
				t.Fatal(err)
			}
			def := make([]int16, m)
			var total int64
			switch r := cr.(type) {
			case *file.Int64ColumnChunkReader:
				vals := make([]int64, m)
				total, _, err = r.ReadBatch(int64(m), vals, def, nil)
				for k := range rows {
					rows[k].seed = vals[k]
				}
			case *file.Float64ColumnChunkReader:
				vals := make([]float64, m)
				total, _, err = r.ReadBatch(int64(m), vals, def, nil)
				j := 0
				for k := range rows {
					present := col == 1 || def[k] == 1
					switch col {
					case 1:
						rows[k].x = vals[k]
					case 2:
						rows[k].yNull = !present
						if present {
							rows[k].y = vals[j]
						}
					case 5:
						rows[k].z = !present
					}
					if present {
						j++
					}
				}
			case *file.BooleanColumnChunkReader:
				vals := make([]bool, m)
				total, _, err = r.ReadBatch(int64(m), vals, def, nil)
				j := 0
				for k := range rows {
					present := col == 3 || def[k] == 1
					switch col {
					case 3:
						rows[k].ok = vals[k]
					case 4:
						rows[k].maybeNull = !present
						if present {
							rows[k].maybe = vals[j]
						}
					}
					if present {
						j++
					}
				}
			}
			if err != nil || total != int64(m) {
				t.Fatalf("row group %d column %d: read %d of %d: %v", g, col, total, m, err)
			}
		}
		for col := range 6 {
			read(col)
		}
		out = append(out, rows...)
	}
	return out
}
