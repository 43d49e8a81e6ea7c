package trace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// Int64 Delta columns, whose pages this package encodes, read back through arrow-go's
// column readers with their values, nulls and statistics, whatever the values: deltas that overflow, widths from 0 to 64 bits, runs of
// nulls long and short, pages of several row groups and of more than one page.
func TestDeltaColumns(t *testing.T) {
	s := Schema{Name: "test.delta", Version: 1, Columns: []Column{
		{Name: "walk", Type: Int64},
		{Name: "wild", Type: Int64, Nullable: true},
		{Name: "runs", Type: Int64, Nullable: true},
		{Name: "none", Type: Int64, Nullable: true},
		{Name: "tag", Type: String},
	}}
	const n = 300_000
	rng := rand.New(rand.NewPCG(1, 2))
	type row struct {
		walk       int64
		wild, runs int64
		wildNull   bool
		runsNull   bool
	}
	rows := make([]row, n)
	var walk int64
	runNull := false
	for i := range rows {
		switch {
		case i%50_000 < 3: // extremes next to each other: deltas wrap around
			walk = []int64{math.MinInt64, math.MaxInt64, 0}[i%3]
		case i%7000 < 500: // a constant stretch: width 0
		default:
			walk += rng.Int64N(2000) - 1000
		}
		r := row{walk: walk, wild: int64(rng.Uint64()), wildNull: rng.IntN(3) == 0}
		if rng.IntN(200) == 0 {
			runNull = !runNull
		}
		r.runsNull = runNull
		r.runs = int64(i / 10)
		rows[i] = r
	}
	for _, parallel := range []bool{false, true} {
		parallelEncode = parallel
		path := filepath.Join(t.TempDir(), "d.parquet")
		w, err := Create(path, s, Options{RowGroupRows: 140_000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			w.Int64(0, r.walk)
			if r.wildNull {
				w.Null(1)
			} else {
				w.Int64(1, r.wild)
			}
			if r.runsNull {
				w.Null(2)
			} else {
				w.Int64(2, r.runs)
			}
			w.Null(3)
			w.String(4, "x")
			if err := w.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}

		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		if pf.NumRows() != n {
			t.Fatalf("parallel=%v: %d rows, want %d", parallel, pf.NumRows(), n)
		}
		// Column by column, nulls as in the rows.
		var cols [4][]int64
		var nulls [4][]bool
		for g := 0; g < pf.NumRowGroups(); g++ {
			rg := pf.RowGroup(g)
			m := rg.NumRows()
			for col := range cols {
				cr, err := rg.Column(col)
				if err != nil {
					t.Fatal(err)
				}
				vals, def := make([]int64, m), make([]int16, m)
				total, nv, err := cr.(*file.Int64ColumnChunkReader).ReadBatch(m, vals, def, nil)
				if err != nil || total != m {
					t.Fatalf("parallel=%v: column %d row group %d: read %d of %d: %v", parallel, col, g, total, m, err)
				}
				j := 0
				for k := range m {
					if col > 0 && def[k] == 0 {
						cols[col], nulls[col] = append(cols[col], 0), append(nulls[col], true)
						continue
					}
					cols[col], nulls[col] = append(cols[col], vals[j]), append(nulls[col], false)
					j++
				}
				if j != nv {
					t.Fatalf("parallel=%v: column %d row group %d: %d values, %d definition levels set", parallel, col, g, nv, j)
				}
			}
		}
		for i, r := range rows {
			if v, null := cols[0][i], nulls[0][i]; v != r.walk || null {
				t.Fatalf("parallel=%v: walk row %d = %d (null %v), want %d", parallel, i, v, null, r.walk)
			}
			if v, null := cols[1][i], nulls[1][i]; null != r.wildNull || !null && v != r.wild {
				t.Fatalf("parallel=%v: wild row %d = %d (null %v), want %d (null %v)", parallel, i, v, null, r.wild, r.wildNull)
			}
			if v, null := cols[2][i], nulls[2][i]; null != r.runsNull || !null && v != r.runs {
				t.Fatalf("parallel=%v: runs row %d = %d (null %v), want %d (null %v)", parallel, i, v, null, r.runs, r.runsNull)
			}
			if !nulls[3][i] {
				t.Fatalf("parallel=%v: none row %d is not null", parallel, i)
			}
		}

		// Column chunk statistics, as arrow-go's own column writers give them.
		md := pf.MetaData()
		start := 0
		for g := 0; g < md.NumRowGroups(); g++ {
			rg := md.RowGroup(g)
			end := start + int(rg.NumRows())
			for col, pick := range []func(r row) (int64, bool){
				func(r row) (int64, bool) { return r.walk, false },
				func(r row) (int64, bool) { return r.wild, r.wildNull },
				func(r row) (int64, bool) { return r.runs, r.runsNull },
				func(r row) (int64, bool) { return 0, true },
			} {
				var lo, hi, nulls int64
				seen := false
				for _, r := range rows[start:end] {
					v, null := pick(r)
					if null {
						nulls++
						continue
					}
					if !seen {
						lo, hi, seen = v, v, true
					}
					lo, hi = min(lo, v), max(hi, v)
				}
				cc, err := rg.ColumnChunk(col)
				if err != nil {
					t.Fatal(err)
				}
				st, err := cc.Statistics()
				if err != nil || st == nil {
					t.Fatalf("row group %d column %d: statistics %v, %v", g, col, st, err)
				}
				enc := st.Encode
				e, _ := enc()
				if e.NullCount != nulls || e.HasMin != seen || e.HasMax != seen {
					t.Errorf("row group %d column %d: %d nulls (min %v max %v), want %d (%v)", g, col, e.NullCount, e.HasMin, e.HasMax, nulls, seen)
				}
				if seen && (int64(binary.LittleEndian.Uint64(e.Min)) != lo || int64(binary.LittleEndian.Uint64(e.Max)) != hi) {
					t.Errorf("row group %d column %d: min %d max %d, want %d %d", g, col,
						int64(binary.LittleEndian.Uint64(e.Min)), int64(binary.LittleEndian.Uint64(e.Max)), lo, hi)
				}
				if cc.Encodings()[0] != parquet.Encodings.DeltaBinaryPacked {
					t.Errorf("row group %d column %d: encodings %v", g, col, cc.Encodings())
				}
			}
			start = end
		}
		pf.Close()
	}
	parallelEncode = true
}

// String columns, whose dictionary and index pages this package encodes, read back
// through arrow-go's column readers: few values and many (indices up to 15 bits wide),
// nulls in runs and scattered, a row group with only nulls, and a dictionary that outgrows
// its bounds, after which the row group is written as plain strings.
func TestDictColumns(t *testing.T) {
	s := Schema{Name: "test.dict", Version: 1, Columns: []Column{
		{Name: "few", Type: String},
		{Name: "many", Type: String, Nullable: true},
		{Name: "sparse", Type: Text, Nullable: true, Encoding: Dictionary},
	}}
	const n = 250_000
	const group = 100_000
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"send", "deliver", "drop", "timer", "state"}
	type row struct{ few, many, sparse string } // "" is null
	rows := make([]row, n)
	for i := range rows {
		r := row{few: words[rng.IntN(len(words))]}
		switch g := i / group; {
		case g == 0 && rng.IntN(4) > 0: // up to 20,000 distinct values
			r.many = fmt.Sprintf("m%d", rng.IntN(20_000))
		case g == 1 && rng.IntN(4) > 0: // more distinct values than a dictionary may hold
			r.many = fmt.Sprintf("u%d", i)
		}
		if i < group && i%1000 < 30 { // the last row group has only nulls here
			r.sparse = words[(i/7)%len(words)]
		}
		rows[i] = r
	}
	for _, parallel := range []bool{false, true} {
		parallelEncode = parallel
		path := filepath.Join(t.TempDir(), "s.parquet")
		w, err := Create(path, s, Options{RowGroupRows: group})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			w.String(0, r.few)
			for col, v := range []string{r.many, r.sparse} {
				if v == "" {
					w.Null(col + 1)
				} else {
					w.String(col+1, v)
				}
			}
			if err := w.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		var cols [3][]string
		for g := 0; g < pf.NumRowGroups(); g++ {
			rg := pf.RowGroup(g)
			m := rg.NumRows()
			for col := range cols {
				cr, err := rg.Column(col)
				if err != nil {
					t.Fatal(err)
				}
				vals, def := make([]parquet.ByteArray, m), make([]int16, m)
				total, _, err := cr.(*file.ByteArrayColumnChunkReader).ReadBatch(m, vals, def, nil)
				if err != nil || total != m {
					t.Fatalf("parallel=%v: column %d row group %d: read %d of %d: %v", parallel, col, g, total, m, err)
				}
				j := 0
				for k := range m {
					if col > 0 && def[k] == 0 {
						cols[col] = append(cols[col], "")
						continue
					}
					cols[col] = append(cols[col], string(vals[j]))
					j++
				}
			}
			for col := range cols {
				cc, err := pf.MetaData().RowGroup(g).ColumnChunk(col)
				if err != nil {
					t.Fatal(err)
				}
				if dict := cc.HasDictionaryPage(); !dict {
					t.Errorf("parallel=%v: row group %d column %d: dictionary page %v", parallel, g, col, dict)
				}
			}
		}
		for i, r := range rows {
			if got := (row{cols[0][i], cols[1][i], cols[2][i]}); got != r {
				t.Fatalf("parallel=%v: row %d = %+v, want %+v", parallel, i, got, r)
			}
		}
		pf.Close()
	}
	parallelEncode = true
}

// packedRef and hybridRef pack bits one at a time, as the format describes them: the
// reference for appendPacked and appendHybrid, which pack by words and bytes.
func packedRef(mini *[deltaMiniSize]uint64, w int) []byte {
	out := make([]byte, 4*w)
	for k, u := range mini {
		for b := range w {
			if u>>b&1 != 0 {
				bit := k*w + b
				out[bit/8] |= 1 << (bit % 8)
			}
		}
	}
	return out
}

func hybridRef(v []int32, w int) []byte {
	var dst []byte
	n := len(v)
	runAt := func(i int) int {
		r := 1
		for i+r < n && r < minRLE && v[i+r] == v[i] {
			r++
		}
		return r
	}
	for pos := 0; pos < n; {
		if runAt(pos) >= minRLE {
			end := pos + minRLE
			for end < n && v[end] == v[pos] {
				end++
			}
			dst = binary.AppendUvarint(dst, uint64(end-pos)<<1)
			for x, b := uint32(v[pos]), 0; b < w; b += 8 {
				dst = append(dst, byte(x))
				x >>= 8
			}
			pos = end
			continue
		}
		start := pos
		for pos < n {
			pos += 8
			if pos < n && runAt(pos) >= minRLE {
				break
			}
		}
		groups := (min(pos, n) - start + 7) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		packed := make([]byte, groups*w)
		for i := start; i < min(start+groups*8, n); i++ {
			for b := range w {
				if v[i]>>b&1 != 0 {
					bit := (i-start)*w + b
					packed[bit/8] |= 1 << (bit % 8)
				}
			}
		}
		dst = append(dst, packed...)
		pos = min(pos, n)
	}
	return dst
}

// The word- and byte-wise packers write the bits the format asks for, at every width,
// after whatever the buffer held, and with runs and stray values mixed.
func TestPackers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for w := 0; w <= 64; w++ {
		for trial := range 20 {
			var mini [deltaMiniSize]uint64
			for k := range mini {
				if w > 0 {
					mini[k] = rng.Uint64() >> (64 - w)
				}
				if trial == 0 && w > 0 {
					mini[k] = math.MaxUint64 >> (64 - w) // every bit set
				}
			}
			prefix := []byte{0xAA, 0x55, 0x01}
			got := appendPacked(append([]byte(nil), prefix...), &mini, w)
			want := append(append([]byte(nil), prefix...), packedRef(&mini, w)...)
			if string(got) != string(want) {
				t.Fatalf("width %d trial %d: appendPacked = %x, want %x", w, trial, got, want)
			}
		}
	}
	for _, w := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 13} {
		for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 40, 1000} {
			for _, runny := range []bool{false, true} {
				v := make([]int32, n)
				for i := range v {
					switch {
					case runny && (i/20)%2 == 0:
						v[i] = int32(i / 40 % (1 << w))
					default:
						v[i] = int32(rng.IntN(1 << w))
					}
				}
				got := appendHybrid(nil, v, w)
				if want := hybridRef(v, w); string(got) != string(want) {
					t.Fatalf("width %d, %d values, runs %v: appendHybrid = %x, want %x", w, n, runny, got, want)
				}
				if w == 1 {
					lv := make([]int16, n)
					for i, x := range v {
						lv[i] = int16(x)
					}
					if got16, want := appendHybrid(nil, lv, 1), hybridRef(v, 1); string(got16) != string(want) {
						t.Fatalf("levels, %d values, runs %v: appendHybrid = %x, want %x", n, runny, got16, want)
					}
				}
			}
		}
	}
}

// appendDeltaRef is appendDelta without its path for blocks of equal deltas: every block
// packed miniblock by miniblock.
func appendDeltaRef(dst []byte, v []int64) (_ []byte, lo, hi int64) {
	dst = binary.AppendUvarint(dst, deltaBlock)
	dst = binary.AppendUvarint(dst, deltaMinis)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	var first int64
	if len(v) > 0 {
		first = v[0]
	}
	lo, hi = first, first
	dst = binary.AppendUvarint(dst, zigzag(first))
	var deltas [deltaBlock]uint64
	for i := 1; i < len(v); i += deltaBlock {
		n := min(deltaBlock, len(v)-i)
		minD := int64(math.MaxInt64)
		for j := range n {
			x := v[i+j]
			d := x - v[i+j-1]
			deltas[j] = uint64(d)
			minD = min(minD, d)
			lo, hi = min(lo, x), max(hi, x)
		}
		for j := n; j < deltaBlock; j++ {
			deltas[j] = uint64(minD)
		}
		dst = binary.AppendUvarint(dst, zigzag(minD))
		widths := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		for m := 0; m*deltaMiniSize < n; m++ {
			mini := (*[deltaMiniSize]uint64)(deltas[m*deltaMiniSize:])
			var or uint64
			for k := range mini {
				mini[k] -= uint64(minD)
				or |= mini[k]
			}
			w := bits.Len64(or)
			dst[widths+m] = byte(w)
			dst = appendPacked(dst, mini, w)
		}
	}
	return dst, lo, hi
}

// Blocks of equal deltas (constants, counters, steps that wrap around or nearly do) encode
// as every block is encoded, with the same least and greatest values.
func TestAppendDeltaSameDeltas(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	cases := map[string][]int64{"empty": nil, "one": {7}, "two": {7, 7}}
	for _, n := range []int{2, 127, 128, 129, 130, 257, 1000, 4096} {
		constant, counter, down, wrapUp, wrapDown, nearTop, mixed := make([]int64, n), make([]int64, n), make([]int64, n),
			make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		for i := range n {
			constant[i] = -5
			counter[i] = int64(i) + 1000
			down[i] = 50 - 3*int64(i)
			wrapUp[i] = math.MaxInt64 - 100 + int64(i)*7     // wraps around within a block
			wrapDown[i] = math.MinInt64 + 300 - int64(i)*9   // wraps around the other way
			nearTop[i] = math.MaxInt64 - int64(n) + int64(i) // reaches MaxInt64 and stops
			switch {
			case i%300 < 150:
				mixed[i] = int64(i / 300)
			case i%300 < 200:
				mixed[i] = int64(i)
			default:
				mixed[i] = rng.Int64N(1000)
			}
		}
		for name, v := range map[string][]int64{"constant": constant, "counter": counter, "down": down,
			"wrapUp": wrapUp, "wrapDown": wrapDown, "nearTop": nearTop, "mixed": mixed} {
			cases[fmt.Sprintf("%s/%d", name, n)] = v
		}
	}
	cases["extremes"] = []int64{math.MinInt64, math.MaxInt64, math.MinInt64, math.MaxInt64}
	for name, v := range cases {
		got, lo, hi := appendDelta(nil, v)
		want, wlo, whi := appendDeltaRef(nil, v)
		if !bytes.Equal(got, want) || lo != wlo || hi != whi {
			t.Errorf("%s: %d bytes, range [%d, %d]; want %d bytes, [%d, %d]", name, len(got), lo, hi, len(want), wlo, whi)
		}
	}
}

// BenchmarkAppendDelta encodes a data page's worth of values of the shapes an events file's
// Int64 columns have: random node ids of 16 bits, times that grow by up to 10 ms, and a
// counter (whose blocks take the path for equal deltas). Metric: ns/value.
func BenchmarkAppendDelta(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids, times, counter := make([]int64, deltaPageLimit), make([]int64, deltaPageLimit), make([]int64, deltaPageLimit)
	var t int64
	for i := range ids {
		ids[i] = rng.Int64N(1 << 16)
		t += rng.Int64N(10_000_000)
		times[i] = t
		counter[i] = int64(i)
	}
	for _, bc := range []struct {
		name string
		v    []int64
	}{{"ids", ids}, {"times", times}, {"counter", counter}} {
		b.Run(bc.name, func(b *testing.B) {
			var dst []byte
			for range b.N {
				dst, _, _ = appendDelta(dst[:0], bc.v)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.v)), "ns/value")
		})
	}
}

// appendLevels, which finds runs a word at a time, writes the bytes of appendHybrid at
// width 1 for levels of every length around word and group boundaries, in runs long and
// short, alternating and random, up to a whole page.
func TestAppendLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 4099, deltaPageLimit - 1, deltaPageLimit}
	patterns := map[string]func(i int) int16{
		"zeros":       func(int) int16 { return 0 },
		"ones":        func(int) int16 { return 1 },
		"alternating": func(i int) int16 { return int16(i & 1) },
		"random":      func(int) int16 { return int16(rng.IntN(2)) },
		"sparse":      func(int) int16 { return int16(min(1, rng.IntN(40))) },
		"runs":        func(i int) int16 { return int16(i / 23 % 2) },
		"mixed": func(i int) int16 {
			if i/100%2 == 0 {
				return int16(i / 17 % 2)
			}
			return int16(rng.IntN(2))
		},
	}
	for name, f := range patterns {
		for _, n := range lengths {
			def := make([]int16, n)
			for i := range def {
				def[i] = f(i)
			}
			prefix := []byte{0xAA, 0x55}
			got := appendLevels(append([]byte(nil), prefix...), def)
			want := append(append([]byte(nil), prefix...), 0, 0, 0, 0)
			want = appendHybrid(want, def, 1)
			binary.LittleEndian.PutUint32(want[len(prefix):], uint32(len(want)-len(prefix)-4))
			if !bytes.Equal(got, want) {
				t.Errorf("%s, %d levels: appendLevels = %x, want %x", name, n, got[:min(len(got), 40)], want[:min(len(want), 40)])
			}
		}
	}
}

// BenchmarkAppendLevels encodes a page of definition levels: random ones, and runs of
// 1 to 40 equal ones. Metric: ns/value.
func BenchmarkAppendLevels(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	random, runs := make([]int16, deltaPageLimit), make([]int16, deltaPageLimit)
	var d int16
	for i := 0; i < len(runs); {
		for r := 1 + rng.IntN(40); r > 0 && i < len(runs); r-- {
			runs[i] = d
			i++
		}
		d ^= 1
	}
	for i := range random {
		random[i] = int16(rng.IntN(2))
	}
	for _, bc := range []struct {
		name string
		def  []int16
	}{{"random", random}, {"runs", runs}} {
		b.Run(bc.name, func(b *testing.B) {
			var dst []byte
			for range b.N {
				dst = appendLevels(dst[:0], bc.def)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.def)), "ns/value")
		})
	}
}

// BenchmarkAppendHybrid encodes a page of dictionary indices of width 4 (the kinds of
// events): random ones, and runs of 1 to 40 equal ones. Metric: ns/value.
func BenchmarkAppendHybrid(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	random, runs := make([]int32, deltaPageLimit), make([]int32, deltaPageLimit)
	for i := 0; i < len(runs); {
		x := int32(rng.IntN(9))
		for r := 1 + rng.IntN(40); r > 0 && i < len(runs); r-- {
			runs[i] = x
			i++
		}
	}
	for i := range random {
		random[i] = int32(rng.IntN(9))
	}
	for _, bc := range []struct {
		name string
		v    []int32
	}{{"random", random}, {"runs", runs}} {
		b.Run(bc.name, func(b *testing.B) {
			var dst []byte
			for range b.N {
				dst = appendHybrid(dst[:0], bc.v, 4)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bc.v)), "ns/value")
		})
	}
}
