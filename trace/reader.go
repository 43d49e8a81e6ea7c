package trace

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// Reader reads a file written by Writer (or any flat Parquet file with the
// dhtexp metadata) one row group at a time.
type Reader struct {
	path   string
	pf     *file.Reader
	schema Schema
	meta   map[string]string
}

// Open opens a table file and checks its dhtexp metadata. It fails, naming
// the file, when the file is not Parquet or is truncated, when MetaSchema or
// MetaSchemaVersion is missing, when the file claims a fixed schema of this
// package (EventSchema, JoinSchema, OpSchema) at an unknown version or with
// other columns, or when a column has a type this package does not model.
// Files of other schema names, such as the per-run tables, are accepted as
// they are.
func Open(path string) (r *Reader, err error) {
	var pf *file.Reader
	defer func() {
		// Malformed footers can make the Parquet reader panic.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("trace: open %s: not a readable Parquet file: %v", path, p)
		}
		if err != nil && pf != nil {
			_ = pf.Close()
		}
	}()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trace: open %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("trace: open %s: is a directory", path)
	}
	if pf, err = file.OpenParquetFile(path, false); err != nil {
		return nil, fmt.Errorf("trace: open %s: not a readable Parquet file: %w", path, err)
	}
	r = &Reader{path: path, pf: pf, meta: map[string]string{}}
	if err := r.init(st.Size()); err != nil {
		return nil, fmt.Errorf("trace: open %s: %w", path, err)
	}
	return r, nil
}

func (r *Reader) init(size int64) error {
	md := r.pf.MetaData()
	// A file cut short can keep an intact footer (a partial copy that
	// preserved the tail); catch it here rather than on the first read.
	dataEnd := size - int64(md.Size()) - 8
	for g := 0; g < md.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return err
			}
			start := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 {
				start = min(start, cc.DictionaryPageOffset())
			}
			if start < 4 || start+cc.TotalCompressedSize() > dataEnd {
				return fmt.Errorf("not a readable Parquet file: row group %d column %d lies outside the file (truncated?)", g, c)
			}
		}
	}
	kv := md.KeyValueMetadata()
	keys, vals := kv.Keys(), kv.Values()
	for i := range keys {
		r.meta[keys[i]] = vals[i]
	}
	name := r.meta[MetaSchema]
	if name == "" {
		return fmt.Errorf("no %s metadata: not a dhtexp table", MetaSchema)
	}
	vs, ok := r.meta[MetaSchemaVersion]
	if !ok {
		return fmt.Errorf("no %s metadata", MetaSchemaVersion)
	}
	version, err := strconv.Atoi(vs)
	if err != nil || version < 1 {
		return fmt.Errorf("invalid %s %q", MetaSchemaVersion, vs)
	}
	hasDict := func(col int) bool {
		if md.NumRowGroups() == 0 {
			return true
		}
		cc, err := md.RowGroup(0).ColumnChunk(col)
		return err == nil && cc.HasDictionaryPage()
	}
	s, err := schemaFromParquet(md.Schema, name, version, r.meta[MetaColumns], hasDict)
	if err != nil {
		return err
	}
	for _, k := range knownSchemas() {
		if k.Name != name {
			continue
		}
		if version != k.Version {
			return fmt.Errorf("schema %s version %d is not supported (this build reads version %d)", name, version, k.Version)
		}
		if err := sameLayout(s, k); err != nil {
			return fmt.Errorf("schema %s version %d: %w", name, version, err)
		}
	}
	r.schema = s
	return nil
}

// Close releases the file.
func (r *Reader) Close() error { return r.pf.Close() }

// Path returns the path the Reader was opened with.
func (r *Reader) Path() string { return r.path }

// Schema returns the table layout rebuilt from the file.
func (r *Reader) Schema() Schema { return cloneSchema(r.schema) }

// Metadata returns the value of a key/value metadata entry.
func (r *Reader) Metadata(key string) (string, bool) {
	v, ok := r.meta[key]
	return v, ok
}

// NumRows returns the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.pf.NumRows() }

// NumRowGroups returns the number of row groups in the file.
func (r *Reader) NumRowGroups() int { return r.pf.NumRowGroups() }

// ReadColumns reads the named columns of one row group; with no names it
// reads every column. Only that row group's values are held in memory.
func (r *Reader) ReadColumns(rowGroup int, names ...string) (*Chunk, error) {
	c := new(Chunk)
	if err := r.ReadColumnsInto(c, rowGroup, names...); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadColumnsInto is ReadColumns reusing the buffers of c, which must not be
// in use: slices previously returned by c are overwritten. Strings are never
// overwritten and may be kept.
func (r *Reader) ReadColumnsInto(c *Chunk, rowGroup int, names ...string) error {
	idx, err := r.columnIndices(names)
	if err != nil {
		return err
	}
	return r.readPieces(c, rowGroup, idx, math.MaxInt, func(*Chunk) error { return nil })
}

// columnIndices resolves column names; no names means all columns.
func (r *Reader) columnIndices(names []string) ([]int, error) {
	if len(names) == 0 {
		names = r.schema.ColumnNames()
	}
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = r.schema.ColumnIndex(n); idx[i] < 0 {
			return nil, fmt.Errorf("trace: read %s: no column %q", r.path, n)
		}
		for _, prev := range names[:i] {
			if prev == n {
				return nil, fmt.Errorf("trace: read %s: column %q requested twice", r.path, n)
			}
		}
	}
	return idx, nil
}

// readPieces reads columns idx of one row group into c, piece rows at a
// time, calling fn after each piece. Typed readers use small pieces so that
// they never hold a whole row group.
func (r *Reader) readPieces(c *Chunk, rowGroup int, idx []int, piece int, fn func(*Chunk) error) (err error) {
	if rowGroup < 0 || rowGroup >= r.pf.NumRowGroups() {
		return fmt.Errorf("trace: read %s: row group %d out of range [0,%d)", r.path, rowGroup, r.pf.NumRowGroups())
	}
	readers := make([]file.ColumnChunkReader, len(idx))
	failed := func(col int, err error) error {
		return fmt.Errorf("trace: read %s: row group %d column %q: %w", r.path, rowGroup, r.schema.Columns[col].Name, err)
	}
	defer func() {
		// Corrupt pages can make the Parquet decoders panic.
		if p := recover(); p != nil {
			err = fmt.Errorf("trace: read %s: row group %d: %v", r.path, rowGroup, p)
		}
		for i, rd := range readers {
			if rd == nil {
				continue
			}
			if cerr := rd.Close(); cerr != nil && err == nil {
				err = failed(idx[i], cerr)
			}
		}
	}()
	rg := r.pf.RowGroup(rowGroup)
	n := int(rg.NumRows())
	c.reset(rowGroup, len(idx))
	for i, ci := range idx {
		sc := r.schema.Columns[ci]
		cc := &c.cols[i]
		if cc.name != sc.Name || cc.typ != sc.Type {
			// A slot that held another column starts afresh, so that it
			// does not pin that column's buffers or string cache.
			*cc = chunkCol{name: sc.Name, typ: sc.Type}
		}
		cc.nullable = sc.Nullable
		cc.truncate()
		if readers[i], err = rg.Column(ci); err != nil {
			return failed(ci, err)
		}
	}
	for done := 0; done < n; {
		k := min(piece, n-done)
		c.rows = k
		for i, ci := range idx {
			if err := c.cols[i].read(readers[i], k); err != nil {
				return failed(ci, err)
			}
		}
		if err := fn(c); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// ForEachRowGroup opens path and calls fn with each row group in turn,
// reading only the named columns (all columns if names is empty). The Chunk
// and its slices are reused between calls, so fn must copy what it keeps;
// strings may be kept as they are.
func ForEachRowGroup(path string, names []string, fn func(*Chunk) error) error {
	r, err := Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	var c Chunk
	for i := 0; i < r.NumRowGroups(); i++ {
		if err := r.ReadColumnsInto(&c, i, names...); err != nil {
			return err
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

// Chunk holds the values of some columns of one row group. Columns are
// looked up by name; asking for a column that was not read, or with the
// accessor of another type, panics, since that is a bug in the caller.
//
// Nullable columns hold a zero value (0, false, "") at null rows; Valid
// tells which rows are null.
type Chunk struct {
	rowGroup int
	rows     int
	cols     []chunkCol
}

type chunkCol struct {
	name     string
	typ      ColumnType
	nullable bool

	i64   []int64
	f64   []float64
	b     []bool
	s     []string
	valid []bool

	def    []int16
	ba     []parquet.ByteArray
	data   []byte
	spans  []span
	intern map[string]string
}

// span locates a string in chunkCol.data that is to become row's value.
type span struct{ row, start, end int }

// maxInterned bounds the per-column string cache; past it a column is
// treated as high-cardinality and the strings of each read share one
// allocation instead.
const maxInterned = 1 << 12

// RowGroup returns the index of the row group the Chunk was read from.
func (c *Chunk) RowGroup() int { return c.rowGroup }

// NumRows returns the number of rows in the Chunk.
func (c *Chunk) NumRows() int { return c.rows }

// Columns returns the names of the columns in the Chunk, in the order they
// were requested.
func (c *Chunk) Columns() []string {
	names := make([]string, len(c.cols))
	for i := range c.cols {
		names[i] = c.cols[i].name
	}
	return names
}

// Has reports whether the Chunk holds the named column.
func (c *Chunk) Has(name string) bool {
	for i := range c.cols {
		if c.cols[i].name == name {
			return true
		}
	}
	return false
}

func (c *Chunk) col(name string, t ColumnType) *chunkCol {
	for i := range c.cols {
		cc := &c.cols[i]
		if cc.name != name {
			continue
		}
		if t != 0 && cc.typ != t && !(t == String && cc.typ == Text) {
			panic(fmt.Sprintf("trace: column %q is %s, not %s", name, cc.typ, t))
		}
		return cc
	}
	panic(fmt.Sprintf("trace: column %q was not read into this chunk", name))
}

// Int64 returns the values of an Int64 column.
func (c *Chunk) Int64(name string) []int64 { return c.col(name, Int64).i64 }

// Float64 returns the values of a Float64 column.
func (c *Chunk) Float64(name string) []float64 { return c.col(name, Float64).f64 }

// Bool returns the values of a Bool column.
func (c *Chunk) Bool(name string) []bool { return c.col(name, Bool).b }

// String returns the values of a String or Text column.
func (c *Chunk) String(name string) []string { return c.col(name, String).s }

// Valid returns, for a nullable column, whether each row has a value. It
// returns nil for a required column, whose rows all have values.
func (c *Chunk) Valid(name string) []bool {
	cc := c.col(name, 0)
	if !cc.nullable {
		return nil
	}
	return cc.valid
}

func (c *Chunk) reset(rowGroup, ncols int) {
	c.rowGroup, c.rows = rowGroup, 0
	if cap(c.cols) < ncols {
		c.cols = append(c.cols[:cap(c.cols)], make([]chunkCol, ncols-cap(c.cols))...)
	}
	c.cols = c.cols[:ncols]
}

// truncate empties the value slices, for row groups without rows.
func (cc *chunkCol) truncate() {
	cc.i64, cc.f64, cc.b, cc.s, cc.valid = cc.i64[:0], cc.f64[:0], cc.b[:0], cc.s[:0], cc.valid[:0]
}

// grow returns s with length n, reusing its backing array when it is large
// enough. Contents are unspecified.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// batchReader is the part of the typed Parquet column readers used here.
type batchReader[T any] interface {
	ReadBatch(batchSize int64, values []T, defLvls, repLvls []int16) (int64, int, error)
	HasNext() bool
}

func (cc *chunkCol) read(ccr file.ColumnChunkReader, n int) error {
	var def []int16
	if cc.nullable {
		cc.def = grow(cc.def, n)
		cc.valid = grow(cc.valid, n)
		def = cc.def
	}
	switch rd := ccr.(type) {
	case *file.Int64ColumnChunkReader:
		if cc.typ != Int64 {
			break
		}
		cc.i64 = grow(cc.i64, n)
		return readFixed(rd, n, cc.i64, def, cc.valid)
	case *file.Float64ColumnChunkReader:
		if cc.typ != Float64 {
			break
		}
		cc.f64 = grow(cc.f64, n)
		return readFixed(rd, n, cc.f64, def, cc.valid)
	case *file.BooleanColumnChunkReader:
		if cc.typ != Bool {
			break
		}
		cc.b = grow(cc.b, n)
		return readFixed(rd, n, cc.b, def, cc.valid)
	case *file.ByteArrayColumnChunkReader:
		if cc.typ != String && cc.typ != Text {
			break
		}
		return cc.readStrings(rd, n, def)
	}
	return fmt.Errorf("unexpected column reader %T for %s column", ccr, cc.typ)
}

// readFixed reads n rows into vals. Parquet returns only the non-null values,
// densely; they are moved to their rows afterwards, back to front so that the
// move can be done in place.
func readFixed[T any](rd batchReader[T], n int, vals []T, def []int16, valid []bool) error {
	total, nv := 0, 0
	for total < n && rd.HasNext() {
		var d []int16
		if def != nil {
			d = def[total:]
		}
		lv, read, err := rd.ReadBatch(int64(n-total), vals[nv:], d, nil)
		if err != nil {
			return err
		}
		if lv == 0 {
			break
		}
		total += int(lv)
		nv += read
	}
	if total != n {
		return fmt.Errorf("read %d of %d rows", total, n)
	}
	if def == nil {
		return nil
	}
	var zero T
	j := nv - 1
	for i := n - 1; i >= 0; i-- {
		if def[i] > 0 {
			vals[i] = vals[j]
			valid[i] = true
			j--
		} else {
			vals[i] = zero
			valid[i] = false
		}
	}
	if j != -1 {
		return errors.New("definition levels do not match value count")
	}
	return nil
}

// readStrings reads n rows of strings. Values from a page are only valid
// until the next page is read, so they are converted right away: repeated
// values share one interned string, and the rest are copied into one buffer
// that becomes a single string, sliced per row.
func (cc *chunkCol) readStrings(rd *file.ByteArrayColumnChunkReader, n int, def []int16) error {
	cc.s = grow(cc.s, n)
	cc.data, cc.spans = cc.data[:0], cc.spans[:0]
	if cc.typ == String && cc.intern == nil {
		cc.intern = make(map[string]string)
	}
	cc.ba = grow(cc.ba, min(n, 1<<13))
	total := 0
	for total < n && rd.HasNext() {
		want := min(n-total, len(cc.ba))
		var d []int16
		if def != nil {
			d = def[total : total+want]
		}
		lv, read, err := rd.ReadBatchInPage(int64(want), cc.ba, d, nil)
		if err != nil {
			return err
		}
		if lv == 0 {
			break
		}
		vi := 0
		for row := total; row < total+int(lv); row++ {
			if def != nil && def[row] == 0 {
				cc.s[row] = ""
				cc.valid[row] = false
				continue
			}
			if def != nil {
				cc.valid[row] = true
			}
			if vi >= read {
				return errors.New("definition levels do not match value count")
			}
			cc.setString(row, cc.ba[vi])
			vi++
		}
		total += int(lv)
	}
	clear(cc.ba)
	if total != n {
		return fmt.Errorf("read %d of %d rows", total, n)
	}
	if len(cc.spans) > 0 {
		all := string(cc.data)
		for _, sp := range cc.spans {
			cc.s[sp.row] = all[sp.start:sp.end]
		}
	}
	return nil
}

func (cc *chunkCol) setString(row int, b []byte) {
	if cc.intern != nil {
		if s, ok := cc.intern[string(b)]; ok {
			cc.s[row] = s
			return
		}
		if len(cc.intern) < maxInterned {
			s := string(b)
			cc.intern[s] = s
			cc.s[row] = s
			return
		}
	}
	start := len(cc.data)
	cc.data = append(cc.data, b...)
	cc.spans = append(cc.spans, span{row, start, len(cc.data)})
}
