package trace

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"

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

// Layout of DELTA_BINARY_PACKED blocks, as arrow-go and parquet-mr write them.
const (
	deltaBlock     = 128
	deltaMinis     = 4
	deltaMiniSize  = deltaBlock / deltaMinis
	deltaPageLimit = 1 << 16 // values per data page
)

// zigzag maps signed to unsigned integers as Parquet's zigzag varints do.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// appendDelta appends v encoded as DELTA_BINARY_PACKED to dst.
func appendDelta(dst []byte, v []int64) []byte {
	dst = binary.AppendUvarint(dst, deltaBlock)
	dst = binary.AppendUvarint(dst, deltaMinis)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	var first int64
	if len(v) > 0 {
		first = v[0]
	}
	dst = binary.AppendUvarint(dst, zigzag(first))
	var deltas [deltaBlock]uint64
	for i := 1; i < len(v); i += deltaBlock {
		n := min(deltaBlock, len(v)-i)
		minD := int64(math.MaxInt64)
		for j := range n {
			// Wraps around on overflow, as the format wants.
			d := v[i+j] - v[i+j-1]
			deltas[j] = uint64(d)
			minD = min(minD, d)
		}
		for j := n; j < deltaBlock; j++ {
			deltas[j] = uint64(minD) // pads to 0 below
		}
		dst = binary.AppendUvarint(dst, zigzag(minD))
		widths := len(dst)
		dst = append(dst, 0, 0, 0, 0) // unused miniblocks keep width 0
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
	return dst
}

// appendPacked appends the 32 values of mini bit-packed at width w, least
// significant bit first: 4*w bytes.
func appendPacked(dst []byte, mini *[deltaMiniSize]uint64, w int) []byte {
	if w == 0 {
		return dst
	}
	var acc uint64
	nbits := 0
	for _, u := range mini {
		acc |= u << nbits
		nbits += w
		if nbits >= 64 {
			dst = binary.LittleEndian.AppendUint64(dst, acc)
			nbits -= 64
			acc = 0
			if nbits > 0 {
				acc = u >> (w - nbits)
			}
		}
	}
	if nbits > 0 { // 32*w bits leave 0 or 32 bits over
		dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
	}
	return dst
}

// minRLE is the shortest run of equal levels written as an RLE run; shorter
// ones are bit-packed with their neighbours.
const minRLE = 16

// appendLevels appends definition levels (0 or 1) in the RLE/bit-packed
// hybrid encoding of bit width 1, preceded by its length in 4 bytes as data
// page v1 wants.
func appendLevels(dst []byte, def []int16) []byte {
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	n := len(def)
	// runAt returns the length of the run of equal levels at i, up to minRLE.
	runAt := func(i int) int {
		r := 1
		for i+r < n && r < minRLE && def[i+r] == def[i] {
			r++
		}
		return r
	}
	for pos := 0; pos < n; {
		if runAt(pos) >= minRLE {
			end := pos + minRLE
			for end < n && def[end] == def[pos] {
				end++
			}
			dst = binary.AppendUvarint(dst, uint64(end-pos)<<1)
			dst = append(dst, byte(def[pos]))
			pos = end
			continue
		}
		// Groups of 8 levels up to where a long run starts.
		start := pos
		for pos < n {
			pos += 8
			if pos < n && runAt(pos) >= minRLE {
				break
			}
		}
		groups := (min(pos, n) - start + 7) / 8
		dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
		for g := range groups {
			var b byte
			for k := range 8 {
				if i := start + g*8 + k; i < n && def[i] != 0 {
					b |= 1 << k
				}
			}
			dst = append(dst, b)
		}
		pos = min(pos, n)
	}
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst
}

// int64Stats are the statistics of an Int64 column's values, in the form
// arrow-go's writer gives them.
type int64Stats struct {
	min, max     int64
	values, nuls int64
}

func (s *int64Stats) add(v []int64, nulls int) {
	for _, x := range v {
		if s.values == 0 {
			s.min, s.max = x, x
		}
		s.min, s.max = min(s.min, x), max(s.max, x)
		s.values++
	}
	s.nuls += int64(nulls)
}

func (s *int64Stats) merge(o int64Stats) {
	if o.values > 0 {
		if s.values == 0 {
			s.min, s.max = o.min, o.max
		}
		s.min, s.max = min(s.min, o.min), max(s.max, o.max)
	}
	s.values += o.values
	s.nuls += o.nuls
}

func (s *int64Stats) encode() metadata.EncodedStatistics {
	var e metadata.EncodedStatistics
	if s.values > 0 {
		e.SetMax(binary.LittleEndian.AppendUint64(nil, uint64(s.max)))
		e.SetMin(binary.LittleEndian.AppendUint64(nil, uint64(s.min)))
	}
	e.SetNullCount(s.nuls)
	e.AllNullValue = s.values == 0
	e.Signed = true // INT64 sorts signed
	return e
}

// writeDeltaPages writes the row group's staged values of an Int64 Delta
// column as data pages through pager and returns the chunk's statistics;
// finishDelta then completes the chunk.
func (c *colBuf) writeDeltaPages(pager file.PageWriter, stats bool) (int64Stats, error) {
	defer c.reset()
	rows := c.n
	var chunk int64Stats
	val := 0
	for row := 0; row < rows; {
		end := min(rows, row+deltaPageLimit)
		nv := end - row
		c.page = c.page[:0]
		if c.nullable {
			def := c.def[row:end]
			nv = 0
			for _, d := range def {
				nv += int(d)
			}
			c.page = appendLevels(c.page, def)
		}
		vals := c.i64[val : val+nv]
		c.page = appendDelta(c.page, vals)

		var ps int64Stats
		ps.add(vals, (end-row)-nv)
		chunk.merge(ps)
		var enc metadata.EncodedStatistics
		if stats {
			enc = ps.encode()
		}

		data := c.page
		if pager.HasCompressor() {
			buf := bytes.NewBuffer(c.cbuf[:0])
			data = pager.Compress(buf, c.page)
			c.cbuf = data[:0] // whatever the compressor grew, for the next page
		}
		page := file.NewDataPageV1WithConfig(memory.NewBufferBytes(data), parquet.Encodings.RLE, parquet.Encodings.RLE,
			file.DataPageConfig{
				Num:              int32(end - row),
				Encoding:         parquet.Encodings.DeltaBinaryPacked,
				UncompressedSize: int32(len(c.page)),
				Stats:            enc,
				FirstRowIndex:    int64(row),
			})
		_, err := pager.WriteDataPage(page)
		page.Release()
		if err != nil {
			return chunk, err
		}
		row, val = end, val+nv
	}
	return chunk, nil
}

// finishDelta completes the column chunk whose pages writeDeltaPages wrote.
func finishDelta(pager file.PageWriter, meta *metadata.ColumnChunkMetaDataBuilder, chunk int64Stats, stats bool) error {
	if stats {
		meta.SetStats(chunk.encode())
	}
	return pager.Close(false, false)
}
