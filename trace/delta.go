package trace

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// Int64 columns with Delta encoding are encoded by this package rather than
// by arrow-go's column writers, whose DELTA_BINARY_PACKED encoder writes one
// value at a time through a generic bit writer and copies every page again to
// prepend its header, and whose level encoder does the same per level: the
// two took half the CPU time of writing an events file. The pages built here
// are the same format (DELTA_BINARY_PACKED values, RLE/bit-packed definition
// levels, data page v1, the file's compression) and carry the same page and
// column chunk statistics; arrow-go still writes the page headers and the
// column chunk metadata.

//go:generate go run gen_pack.go

// Layout of DELTA_BINARY_PACKED blocks, as arrow-go and parquet-mr write them.
const (
	deltaBlock     = 128
	deltaMinis     = 4
	deltaMiniSize  = deltaBlock / deltaMinis
	deltaPageLimit = 1 << 16 // values per data page
)

// zigzag maps signed to unsigned integers as Parquet's zigzag varints do.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// appendDelta appends v encoded as DELTA_BINARY_PACKED to dst. It also returns
// the least and greatest value of v, for the statistics, which cost a pass of
// their own otherwise; they are 0 for no values.
func appendDelta(dst []byte, v []int64) (_ []byte, lo, hi int64) {
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
		blk := v[i-1 : min(i+deltaBlock, len(v))]
		n := len(blk) - 1
		var minD, maxD int64
		minD, maxD, lo, hi = blockDeltas(&deltas, blk, lo, hi)
		dst = binary.AppendUvarint(dst, zigzag(minD))
		if minD == maxD {
			// Every delta is the least one, so every miniblock has width 0: most blocks of a
			// runs table, whose parameter columns are constant over a grid point's runs.
			dst = append(dst, 0, 0, 0, 0)
			continue
		}
		for j := n; j < deltaBlock; j++ {
			deltas[j] = uint64(minD) // pads to 0 below
		}
		widths := len(dst)
		dst = append(dst, 0, 0, 0, 0) // unused miniblocks keep width 0
		for m := 0; m*deltaMiniSize < n; m++ {
			mini := (*[deltaMiniSize]uint64)(deltas[m*deltaMiniSize : (m+1)*deltaMiniSize])
			w := bits.Len64(subtract(mini, uint64(minD)))
			dst[widths+m] = byte(w)
			dst = appendPacked(dst, mini, w)
		}
	}
	return dst, lo, hi
}

// blockDeltas stores in deltas the differences between the consecutive values of blk
// (two to deltaBlock+1 of them) and returns their least and greatest, and lo and hi
// widened to the values of blk: a pass for each cost more than the packing. It is a
// function of its own so that its few variables stay in registers.
//
//go:noinline
func blockDeltas(deltas *[deltaBlock]uint64, blk []int64, lo, hi int64) (minD, maxD, _, _ int64) {
	ds := deltas[:len(blk)-1]
	prev := blk[0]
	minD, maxD = math.MaxInt64, math.MinInt64
	for j, x := range blk[1:] {
		// Wraps around on overflow, as the format wants.
		d := x - prev
		prev = x
		ds[j] = uint64(d)
		minD, maxD = min(minD, d), max(maxD, d)
		lo, hi = min(lo, x), max(hi, x)
	}
	return minD, maxD, lo, hi
}

// subtract subtracts m from every value of mini and returns the bitwise or of the results.
//
//go:noinline
func subtract(mini *[deltaMiniSize]uint64, m uint64) uint64 {
	var or uint64
	for k := range mini {
		u := mini[k] - m
		mini[k] = u
		or |= u
	}
	return or
}

// appendPacked appends the 32 values of mini bit-packed at width w, least
// significant bit first: 4*w bytes.
func appendPacked(dst []byte, mini *[deltaMiniSize]uint64, w int) []byte {
	if w == 0 {
		return dst
	}
	at := len(dst)
	dst = slices.Grow(dst, 4*w)[:at+4*w]
	packers[w](dst[at:], mini)
	return dst
}

// minRLE is the shortest run of equal values written as an RLE run; shorter
// ones are bit-packed with their neighbours.
const minRLE = 16

// appendLevels appends definition levels (0 or 1) in the RLE/bit-packed
// hybrid encoding of bit width 1, preceded by its length in 4 bytes as data
// page v1 wants. The levels are the same bytes as appendHybrid(dst, def, 1)
// gives; they are first packed into a bitmap, where runs and groups of 8 are
// found a word at a time: appendHybrid compared the values one by one, which
// cost as much as the delta encoding of the column.
func appendLevels(dst []byte, def []int16) []byte {
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if len(def) <= deltaPageLimit {
		var bm [deltaPageLimit/64 + 2]uint64
		dst = appendLevelBits(dst, levelBitmap(&bm, def), len(def))
	} else {
		dst = appendHybrid(dst, def, 1)
	}
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst
}

// levelBitmap packs def (0 or 1, up to deltaPageLimit of them) into bm, least
// significant bit first, and returns the words used and two more; bits past
// len(def) are 0, as bm must be on entry.
func levelBitmap(bm *[deltaPageLimit/64 + 2]uint64, def []int16) []uint64 {
	words := (len(def) + 63) / 64
	for q := range len(def) / 64 {
		d := (*[64]int16)(def[q*64 : q*64+64])
		var x uint64
		for k := 0; k < 64; k += 4 {
			// Four levels, one a lane of 16 bits; the product gathers lane j's bit at
			// bit 48+j, and its other terms fall below bit 48 or past bit 63.
			u := uint64(uint16(d[k])) | uint64(uint16(d[k+1]))<<16 | uint64(uint16(d[k+2]))<<32 | uint64(uint16(d[k+3]))<<48
			x |= ((u & 0x0001_0001_0001_0001) * (1<<48 | 1<<33 | 1<<18 | 1<<3) >> 48) << k
		}
		bm[q] = x
	}
	if r := len(def) % 64; r > 0 {
		var x uint64
		for k, l := range def[len(def)-r:] {
			x |= uint64(l&1) << k
		}
		bm[len(def)/64] = x
	}
	return bm[:words+2]
}

// bitsAt returns the 64 bits of bm from bit i on; bm holds a word past i's.
func bitsAt(bm []uint64, i int) uint64 {
	q, s := i>>6, uint(i&63)
	return bm[q]>>s | bm[q+1]<<(63-s)<<1
}

// appendLevelBits is appendHybrid at width 1 for the n levels packed in bm
// (with two words past the last one used, 0).
func appendLevelBits(dst []byte, bm []uint64, n int) []byte {
	// longRun reports whether the minRLE levels from i on are equal, which
	// appendHybrid writes as a run.
	longRun := func(i int) bool {
		if i+minRLE > n {
			return false
		}
		g := uint16(bitsAt(bm, i))
		return g == 0 || g == 0xFFFF
	}
	for pos := 0; pos < n; {
		if longRun(pos) {
			val := bm[pos>>6] >> uint(pos&63) & 1
			// The run ends at the first level from pos+minRLE on that differs.
			end := pos + minRLE
			for end < n {
				x := bitsAt(bm, end)
				if val == 1 {
					x = ^x
				}
				if x != 0 {
					end += bits.TrailingZeros64(x)
					break
				}
				end += 64
			}
			end = min(end, n)
			dst = binary.AppendUvarint(dst, uint64(end-pos)<<1)
			dst = append(dst, byte(val))
			pos = end
			continue
		}
		// Groups of 8 levels up to where a long run starts.
		start := pos
		for pos < n {
			pos += 8
			if longRun(pos) {
				break
			}
		}
		groups := (min(pos, n) - start + 7) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		at := len(dst)
		dst = slices.Grow(dst, groups+8)[:at+groups]
		out := dst[at : at+groups+8]
		for g := 0; g < groups; g += 8 {
			// Levels past n are 0 in bm, as the format wants the last group padded.
			binary.LittleEndian.PutUint64(out[g:], bitsAt(bm, start+8*g))
		}
		pos = min(pos, n)
	}
	return dst
}

// appendHybrid appends v in the RLE/bit-packed hybrid encoding of bit width
// w (1 to 32), which levels and dictionary indices use.
func appendHybrid[T int16 | int32](dst []byte, v []T, w int) []byte {
	n := len(v)
	// runAt returns the length of the run of equal values at i, up to minRLE.
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
		// Groups of 8 values up to where a long run starts.
		start := pos
		for pos < n {
			pos += 8
			if pos < n && runAt(pos) >= minRLE {
				break
			}
		}
		groups := (min(pos, n) - start + 7) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		if w == 1 {
			// Definition levels: a byte per group of 8, built at once.
			dst = appendBits(dst, v[start:min(start+groups*8, n)], groups)
			pos = min(pos, n)
			continue
		}
		if w <= 8 {
			// A group of 8 values of up to 8 bits fits a word: w bytes of it are the group.
			dst = appendGroups(dst, v[start:min(start+groups*8, n)], groups, w)
			pos = min(pos, n)
			continue
		}
		var acc uint64
		nb := 0
		for i := start; i < start+groups*8; i++ {
			if i < n {
				acc |= uint64(uint32(v[i])) << nb
			}
			nb += w
			for nb >= 8 {
				dst = append(dst, byte(acc))
				acc >>= 8
				nb -= 8
			}
		}
		pos = min(pos, n)
	}
	return dst
}

// appendGroups appends the groups*w bytes of values v (up to 8*groups of them,
// each below 1<<w) bit-packed at width w, 2 to 8, least significant bit first,
// the missing values of the last group 0.
func appendGroups[T int16 | int32](dst []byte, v []T, groups, w int) []byte {
	at := len(dst)
	dst = slices.Grow(dst, groups*w+8)[:at+groups*w]
	out := dst[at : at+groups*w+8]
	s := uint(w)
	o := 0
	for g := 0; g*8+8 <= len(v); g++ {
		b := v[g*8 : g*8+8 : g*8+8]
		acc := uint64(uint32(b[0])) | uint64(uint32(b[1]))<<s | uint64(uint32(b[2]))<<(2*s) | uint64(uint32(b[3]))<<(3*s) |
			uint64(uint32(b[4]))<<(4*s) | uint64(uint32(b[5]))<<(5*s) | uint64(uint32(b[6]))<<(6*s) | uint64(uint32(b[7]))<<(7*s)
		binary.LittleEndian.PutUint64(out[o:], acc)
		o += w
	}
	if r := len(v) % 8; r > 0 {
		var acc uint64
		for i, x := range v[len(v)-r:] {
			acc |= uint64(uint32(x)) << (uint(i) * s)
		}
		binary.LittleEndian.PutUint64(out[o:], acc)
	}
	return dst
}

// appendBits appends the groups bytes of values v (0 or 1, up to 8*groups of
// them) bit-packed at width 1, least significant bit first, the missing values
// of the last group 0.
func appendBits[T int16 | int32](dst []byte, v []T, groups int) []byte {
	at := len(dst)
	dst = slices.Grow(dst, groups)[:at+groups]
	out := dst[at:]
	g := 0
	for ; g*8+8 <= len(v); g++ {
		b := v[g*8 : g*8+8 : g*8+8]
		out[g] = byte(b[0]&1) | byte(b[1]&1)<<1 | byte(b[2]&1)<<2 | byte(b[3]&1)<<3 |
			byte(b[4]&1)<<4 | byte(b[5]&1)<<5 | byte(b[6]&1)<<6 | byte(b[7]&1)<<7
	}
	if g < groups {
		var x byte
		for i, d := range v[g*8:] {
			x |= byte(d&1) << i
		}
		out[g] = x
	}
	return dst
}

// writeDeltaPages writes the row group's staged values of an Int64 Delta
// column as data pages through pager and returns the chunk's statistics;
// finishDelta then completes the chunk.
func (c *colBuf) writeDeltaPages(pager file.PageWriter, stats bool) (colStats, error) {
	defer c.reset()
	rows := c.n
	chunk := colStats{typ: Int64, signed: true}
	val := 0
	for row := 0; row < rows; {
		end := min(rows, row+deltaPageLimit)
		nv := c.startPage(row, end)
		var lo, hi int64
		c.page, lo, hi = appendDelta(c.page, c.i64[val:val+nv])

		ps := colStats{typ: Int64, signed: true, has: nv > 0, imin: lo, imax: hi, values: int64(nv), nuls: int64(end - row - nv)}
		chunk.merge(ps)
		var enc metadata.EncodedStatistics
		if stats {
			enc = ps.encode()
		}

		if err := c.writePage(pager, parquet.Encodings.DeltaBinaryPacked, row, end, enc); err != nil {
			return chunk, err
		}
		row, val = end, val+nv
	}
	return chunk, nil
}

// writeDictPages writes the row group's staged indices of a dictionary-encoded
// string column through pager: its dictionary page, then data pages of
// RLE_DICTIONARY indices, which arrow-go's column writer spent more time on
// than on anything else of these columns. The column must have a dictionary
// within its bounds; the caller completes the chunk with pager.Close(true,
// false).
func (c *colBuf) writeDictPages(pager file.PageWriter, props *parquet.WriterProperties) error {
	defer c.reset()
	c.page = c.page[:0]
	for _, v := range c.dictVals {
		c.page = binary.LittleEndian.AppendUint32(c.page, uint32(len(v)))
		c.page = append(c.page, v...)
	}
	dp := file.NewDictionaryPage(memory.NewBufferBytes(c.page), int32(len(c.dictVals)), props.DictionaryPageEncoding())
	_, err := pager.WriteDictionaryPage(dp)
	dp.Release()
	if err != nil {
		return err
	}
	width := max(1, bits.Len32(uint32(len(c.dictVals)-1)))
	for row := 0; row < c.n; {
		end := min(c.n, row+deltaPageLimit)
		c.page = c.page[:0]
		idx := c.idx[row:end]
		if c.nullable {
			def := c.def[row:end]
			c.page = appendLevels(c.page, def)
			// Only present values have an index in the page. The loop has no branch on
			// the level: nulls come and go from row to row.
			c.dense = slices.Grow(c.dense[:0], len(def))[:len(def)]
			k := 0
			for i, d := range def {
				c.dense[k] = idx[i] // overwritten by the next index when the row is null
				k += int(d)
			}
			idx = c.dense[:k]
		}
		c.page = append(c.page, byte(width))
		c.page = appendHybrid(c.page, idx, width)

		if err := c.writePage(pager, props.DictionaryIndexEncoding(), row, end, metadata.EncodedStatistics{}); err != nil {
			return err
		}
		row = end
	}
	return nil
}

// writePage compresses c.page, the encoded rows row to end of a column chunk, with the
// file's compression and writes it through pager as a data page (v1) with RLE levels.
func (c *colBuf) writePage(pager file.PageWriter, encoding parquet.Encoding, row, end int, stats metadata.EncodedStatistics) error {
	data := c.page
	if pager.HasCompressor() {
		buf := bytes.NewBuffer(c.cbuf[:0])
		data = pager.Compress(buf, c.page)
		c.cbuf = data[:0] // whatever the compressor grew, for the next page
	}
	page := file.NewDataPageV1WithConfig(memory.NewBufferBytes(data), parquet.Encodings.RLE, parquet.Encodings.RLE,
		file.DataPageConfig{
			Num:              int32(end - row),
			Encoding:         encoding,
			UncompressedSize: int32(len(c.page)),
			Stats:            stats,
			FirstRowIndex:    int64(row),
		})
	_, err := pager.WriteDataPage(page)
	page.Release()
	return err
}

// startPage begins c.page with the definition levels of rows row to end, if the column is
// nullable, and returns how many of those rows have a value.
func (c *colBuf) startPage(row, end int) (present int) {
	c.page = c.page[:0]
	if !c.nullable {
		return end - row
	}
	def := c.def[row:end]
	for _, d := range def {
		present += int(d)
	}
	c.page = appendLevels(c.page, def)
	return present
}
