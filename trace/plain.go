package trace

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// Float64 and Bool columns, and Int64 columns with Plain encoding, are encoded by this
// package as well (see delta.go). Their PLAIN values are the values' bytes back to back, one
// bit each for booleans, yet arrow-go's column writers built them through encoders whose
// pooled buffers are cleared in full every time they are reset: on a runs table of short
// runs, whose hundred-odd columns hold a few thousand values each, those 19 columns took
// about 60 % of the CPU time of encoding a part, the 108 others 40 %. The pages are the same
// format (PLAIN values, RLE definition levels, data page v1, the file's compression) with
// the same page and column chunk statistics, which TestPlainColumns compares with arrow-go's.

// ownPlain lets this package encode plain columns; tests turn it off to compare with
// arrow-go's column writers.
var ownPlain = true

// colStats are the statistics of a page or column chunk written by this package, kept as
// arrow-go's writer keeps them: the least and greatest value (for floating point, NaN left
// out, a zero least value written as -0 and a zero greatest as +0), and the counts.
type colStats struct {
	typ          ColumnType
	signed       bool // the column sorts signed (all but Bool)
	has          bool // min and max are set
	imin, imax   int64
	fmin, fmax   float64
	bmin, bmax   bool
	values, nuls int64
}

func (s *colStats) merge(o colStats) {
	s.values += o.values
	s.nuls += o.nuls
	if !o.has {
		return
	}
	if !s.has {
		s.has = true
		s.imin, s.imax, s.fmin, s.fmax, s.bmin, s.bmax = o.imin, o.imax, o.fmin, o.fmax, o.bmin, o.bmax
		return
	}
	switch s.typ {
	case Int64:
		s.imin, s.imax = min(s.imin, o.imin), max(s.imax, o.imax)
	case Float64:
		if !(s.fmin < o.fmin) {
			s.fmin = o.fmin
		}
		if s.fmax < o.fmax {
			s.fmax = o.fmax
		}
	case Bool:
		s.bmin, s.bmax = s.bmin && o.bmin, s.bmax || o.bmax
	}
}

func (s *colStats) encode() metadata.EncodedStatistics {
	var e metadata.EncodedStatistics
	if s.has {
		var lo, hi []byte
		switch s.typ {
		case Int64:
			lo = binary.LittleEndian.AppendUint64(nil, uint64(s.imin))
			hi = binary.LittleEndian.AppendUint64(nil, uint64(s.imax))
		case Float64:
			lo = binary.LittleEndian.AppendUint64(nil, math.Float64bits(s.fmin))
			hi = binary.LittleEndian.AppendUint64(nil, math.Float64bits(s.fmax))
		case Bool:
			lo, hi = []byte{boolByte(s.bmin)}, []byte{boolByte(s.bmax)}
		}
		e.SetMax(hi)
		e.SetMin(lo)
	}
	e.SetNullCount(s.nuls)
	e.AllNullValue = s.values == 0
	e.Signed = s.signed
	return e
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// finishChunk completes a column chunk whose pages writeDeltaPages or writePlainPages wrote.
func finishChunk(pager file.PageWriter, meta *metadata.ColumnChunkMetaDataBuilder, chunk colStats, stats bool) error {
	if stats {
		meta.SetStats(chunk.encode())
	}
	return pager.Close(false, false)
}

// writePlainPages writes the row group's staged values of a plain column as data pages
// through pager and returns the chunk's statistics; finishChunk then completes the chunk.
func (c *colBuf) writePlainPages(pager file.PageWriter, stats, signed bool) (colStats, error) {
	defer c.reset()
	rows := c.n
	chunk := colStats{typ: c.typ, signed: signed}
	val := 0
	for row := 0; row < rows; {
		end := min(rows, row+deltaPageLimit)
		nv := c.startPage(row, end)
		ps := colStats{typ: c.typ, signed: signed, values: int64(nv), nuls: int64(end - row - nv)}
		switch c.typ {
		case Int64:
			v := c.i64[val : val+nv]
			for _, x := range v {
				c.page = binary.LittleEndian.AppendUint64(c.page, uint64(x))
			}
			if nv > 0 {
				ps.has, ps.imin, ps.imax = true, v[0], v[0]
				for _, x := range v[1:] {
					ps.imin, ps.imax = min(ps.imin, x), max(ps.imax, x)
				}
			}
		case Float64:
			v := c.f64[val : val+nv]
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, x := range v {
				c.page = binary.LittleEndian.AppendUint64(c.page, math.Float64bits(x))
				if x < lo {
					lo = x
				}
				if hi < x {
					hi = x
				}
			}
			if lo <= hi { // else every value is NaN, or there are none
				if lo == 0 {
					lo = math.Copysign(0, -1)
				}
				if hi == 0 {
					hi = 0
				}
				ps.has, ps.fmin, ps.fmax = true, lo, hi
			}
		case Bool:
			v := c.b[val : val+nv]
			c.page = appendBools(c.page, v)
			if nv > 0 {
				ps.has, ps.bmin, ps.bmax = true, true, false
				for _, x := range v {
					ps.bmin, ps.bmax = ps.bmin && x, ps.bmax || x
				}
			}
		}
		chunk.merge(ps)
		var enc metadata.EncodedStatistics
		if stats {
			enc = ps.encode()
		}

		if err := c.writePage(pager, parquet.Encodings.Plain, row, end, enc); err != nil {
			return chunk, err
		}
		row, val = end, val+nv
	}
	return chunk, nil
}

// appendBools appends v as PLAIN booleans: one bit each, the first in the lowest bit.
func appendBools(dst []byte, v []bool) []byte {
	for i := 0; i < len(v); i += 8 {
		var b byte
		for j, x := range v[i:min(len(v), i+8)] {
			b |= boolByte(x) << j
		}
		dst = append(dst, b)
	}
	return dst
}
