package trace

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Encoded holds rows of a table encoded into row groups away from any file, by an
// Encoder, for a Writer of the same table to append with WriteEncoded. A producer that
// encodes its own rows spares the goroutine that writes the file their encoding, and
// holds its rows in flight at the size of their pages, a seventh of their staged size for
// events.
//
// An Encoded is reused: WriteEncoded and Reset empty it and keep its storage.
type Encoded struct {
	schema string // the table's name
	level  int    // the zstd level of its pages
	groups []encodedGroup
	n      int   // groups in use
	rows   int64 // rows of the groups in use
	arena  []byte
}

// encodedGroup is one row group: each column's pages, or, for a column that arrow-go's
// column writer must encode (strings without a dictionary of this package's own), its
// staged values.
type encodedGroup struct {
	rows int
	cols []encodedCol
}

type encodedCol struct {
	pages []encodedPage
	// own: the chunk is a Delta or plain column, completed with finishChunk and stats;
	// otherwise its pages begin with a dictionary page and the chunk is completed by
	// closing the page writer, unless staged.
	own    bool
	stats  colStats
	staged bool
	values colBuf // staged values, when staged
}

// encodedPage is a page as an Encoder's column handed it to its page writer: data pages
// compressed, the dictionary page not (the file's page writer compresses it).
type encodedPage struct {
	dict         bool
	start, end   int // of its bytes in the arena
	values       int32
	encoding     parquet.Encoding
	uncompressed int32
	stats        metadata.EncodedStatistics
	firstRow     int64
}

// Rows returns the number of rows e holds.
func (e *Encoded) Rows() int64 { return e.rows }

// Size returns about how many bytes e's rows take.
func (e *Encoded) Size() int {
	n := len(e.arena)
	for g := range e.groups[:e.n] {
		for i := range e.groups[g].cols {
			if c := &e.groups[g].cols[i]; c.staged {
				n += c.values.size()
			}
		}
	}
	return n
}

// Reset empties e, keeping its storage.
func (e *Encoded) Reset() {
	for g := range e.groups[:e.n] {
		for i := range e.groups[g].cols {
			c := &e.groups[g].cols[i]
			c.pages = c.pages[:0]
			if c.staged {
				c.values.reset()
				c.staged = false
			}
		}
	}
	e.n, e.rows, e.arena = 0, 0, e.arena[:0]
}

// next returns a new empty row group of cols columns.
func (e *Encoded) next(cols int) *encodedGroup {
	if e.n == len(e.groups) {
		e.groups = append(e.groups, encodedGroup{})
	}
	g := &e.groups[e.n]
	e.n++
	if len(g.cols) != cols {
		g.cols = make([]encodedCol, cols)
	}
	g.rows = 0
	return g
}

// Encoder stages a table's rows as a Writer does, and encodes each full row group, on
// the caller's goroutine, into an Encoded that a Writer of the table appends with
// WriteEncoded. Row groups are cut as a Writer that took the same rows would cut them,
// and at every Take.
type Encoder struct {
	w   *Writer
	out Encoded
}

// NewEncoder returns an Encoder of table s, for a Writer created with the same schema and
// options (Metadata aside).
func NewEncoder(s Schema, opts Options) (*Encoder, error) {
	w, gn, err := newWriter(s, opts)
	if err != nil {
		return nil, fmt.Errorf("trace: encoder: %w", err)
	}
	w.path = "(encoder of " + s.Name + ")"
	e := &Encoder{w: w}
	e.out.schema, e.out.level = s.Name, w.level
	w.out = &e.out
	w.initColumns(writerProperties(s, w.level), schema.NewSchema(gn))
	return e, nil
}

// Rows returns the rows given since the last Take.
func (e *Encoder) Rows() int64 { return e.out.rows + int64(e.w.rows) }

// Take encodes the rows staged and moves every row group encoded since the last Take
// into dst, whose earlier contents are dropped; dst keeps e's storage for the next
// rows. On error the Encoder cannot be used any more.
func (e *Encoder) Take(dst *Encoded) error {
	if err := e.w.ready(); err != nil {
		return err
	}
	if err := e.w.flush(); err != nil {
		return err
	}
	dst.Reset()
	*dst, e.out = e.out, *dst
	e.w.out = &e.out
	e.out.schema, e.out.level = dst.schema, dst.level
	return nil
}

// Release gives the staging storage back for later writers and encoders.
func (e *Encoder) Release() {
	e.w.done = true
	e.w.release()
}

// capture encodes the staged rows as one row group into w.out. It runs on the producer's
// goroutine, like the rest of its work, so it encodes the columns one after the other.
func (w *Writer) capture() error {
	g := w.out.next(len(w.cols))
	g.rows = w.rows
	for i := range w.cols {
		c, ec := &w.cols[i], &g.cols[i]
		p := capturePager{out: w.out, col: ec}
		if cd := w.props.CompressionFor(w.schema.Columns[i].Name); cd != compress.Codecs.Uncompressed {
			codec, err := compress.GetCodec(cd)
			if err != nil {
				return fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, err)
			}
			p.codec, p.level = codec, w.level
		}
		var err error
		switch {
		case c.delta || c.plain:
			ec.own = true
			ec.stats, err = c.writeOwnPages(&p)
		case c.ownDict():
			err = c.writeDictPages(&p, w.props)
		default:
			ec.staged = true
			c.moveTo(&ec.values)
		}
		if err != nil {
			return fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, err)
		}
	}
	w.out.rows += int64(w.rows)
	return nil
}

// moveTo copies the row group's staged values into dst, for arrow-go's column writer to
// write later, and empties c as writing them would.
func (c *colBuf) moveTo(dst *colBuf) {
	*dst = colBuf{typ: c.typ, nullable: c.nullable, n: c.n, overflow: c.overflow,
		i64: append(dst.i64[:0], c.i64...), f64: append(dst.f64[:0], c.f64...), b: append(dst.b[:0], c.b...),
		data: append(dst.data[:0], c.data...), ends: append(dst.ends[:0], c.ends...),
		def: append(dst.def[:0], c.def...), idx: append(dst.idx[:0], c.idx...),
		dictVals: slices.Clone(c.dictVals)}
	if c.dict != nil {
		dst.dict = map[string]int32{}
		if c.overflow {
			// From here on the column is staged as plain strings, as after write.
			c.dict, c.dictVals, c.idx = nil, nil, nil
		}
	}
	c.reset()
}

// size returns about how many bytes c's staged values take.
func (c *colBuf) size() int {
	return 8*(len(c.i64)+len(c.f64)+len(c.ends)) + len(c.b) + len(c.data) + 2*len(c.def) + 4*len(c.idx)
}

// WriteEncoded appends the row groups of src, which an Encoder of the same table made,
// and empties src.
func (w *Writer) WriteEncoded(src *Encoded) (err error) {
	if err := w.ready(); err != nil {
		return err
	}
	if src.schema != w.schema.Name || src.level != w.level {
		return fmt.Errorf("trace: write %s: rows encoded for table %s at zstd level %d, not %s at %d", w.path, src.schema, src.level, w.schema.Name, w.level)
	}
	// Rows staged here go first, in a row group of their own.
	if err := w.flush(); err != nil {
		return err
	}
	defer w.stick(&err)
	for gi := range src.groups[:src.n] {
		g := &src.groups[gi]
		if len(g.cols) != len(w.cols) {
			return fmt.Errorf("rows encoded with %d columns, not %d", len(g.cols), len(w.cols))
		}
		rg, ccs := w.pf.rowGroup()
		for i := range g.cols {
			if err := w.replay(&g.cols[i], i, ccs[i], src.arena); err != nil {
				return fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, err)
			}
		}
		if err := w.pf.endRowGroup(rg, g.rows); err != nil {
			return err
		}
		w.written += int64(g.rows)
	}
	src.Reset()
	return nil
}

// replay writes column chunk i of an encoded row group.
func (w *Writer) replay(c *encodedCol, i int, cc *metadata.ColumnChunkMetaDataBuilder, arena []byte) error {
	pager, err := w.pf.pager(cc, i, nil)
	if err != nil {
		return err
	}
	if c.staged {
		return c.values.writeThroughArrow(pager, cc, w.props)
	}
	for _, p := range c.pages {
		data := memory.NewBufferBytes(arena[p.start:p.end])
		if p.dict {
			dp := file.NewDictionaryPage(data, p.values, p.encoding)
			_, err = pager.WriteDictionaryPage(dp)
			dp.Release()
		} else {
			page := file.NewDataPageV1WithConfig(data, parquet.Encodings.RLE, parquet.Encodings.RLE,
				file.DataPageConfig{Num: p.values, Encoding: p.encoding, UncompressedSize: p.uncompressed, Stats: p.stats, FirstRowIndex: p.firstRow})
			_, err = pager.WriteDataPage(page)
			page.Release()
		}
		if err != nil {
			return err
		}
	}
	if c.own {
		return finishChunk(pager, cc, c.stats, w.cols[i].stats)
	}
	return pager.Close(true, false)
}

// capturePager is the page writer of an Encoder's column: it keeps the pages in the
// Encoded's arena. Only the methods this package's page encoders call do anything.
type capturePager struct {
	// The interface's other methods (Reset, SetIndexBuilders), which no encoder here
	// calls, name types internal to arrow-go; the nil interface stands for them.
	file.PageWriter
	out   *Encoded
	col   *encodedCol
	codec compress.Codec
	level int
}

func (p *capturePager) keep(data []byte) (int, int) {
	start := len(p.out.arena)
	p.out.arena = append(p.out.arena, data...)
	return start, len(p.out.arena)
}

func (p *capturePager) WriteDataPage(page file.DataPage) (int64, error) {
	v1, ok := page.(*file.DataPageV1)
	if !ok {
		return 0, fmt.Errorf("encoder: unexpected page %T", page)
	}
	start, end := p.keep(page.Data())
	p.col.pages = append(p.col.pages, encodedPage{start: start, end: end, values: v1.NumValues(), encoding: parquet.Encoding(v1.Encoding()),
		uncompressed: v1.UncompressedSize(), stats: cloneStats(v1.Statistics()), firstRow: v1.FirstRowIndex()})
	return int64(end - start), nil
}

func (p *capturePager) WriteDictionaryPage(page *file.DictionaryPage) (int64, error) {
	start, end := p.keep(page.Data())
	p.col.pages = append(p.col.pages, encodedPage{dict: true, start: start, end: end, values: page.NumValues(), encoding: parquet.Encoding(page.Encoding())})
	return int64(end - start), nil
}

func (p *capturePager) HasCompressor() bool { return p.codec != nil }

func (p *capturePager) Compress(buf *bytes.Buffer, src []byte) []byte {
	buf.Grow(int(p.codec.CompressBound(int64(len(src)))))
	return p.codec.EncodeLevel(buf.Bytes(), src, p.level)
}

func (p *capturePager) Close(hasDict, fallback bool) error { return nil }

// cloneStats copies s, whose bytes may belong to the page encoder's buffers.
func cloneStats(s metadata.EncodedStatistics) metadata.EncodedStatistics {
	s.Max, s.Min = slices.Clone(s.Max), slices.Clone(s.Min)
	return s
}
