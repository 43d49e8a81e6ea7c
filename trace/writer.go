package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

const (
	// DefaultRowGroupRows bounds the rows per row group, and so the memory a
	// reader needs per column and the values a writer stages (~100 bytes a
	// row of an events file).
	DefaultRowGroupRows = 1 << 17
	// DefaultCompressionLevel is the zstd level used when Options leaves it
	// zero. Higher levels cost much write speed for a few percent of size
	// on these tables, which are mostly delta and dictionary encoded already.
	DefaultCompressionLevel = 1

	// maxBatchRows is how many values a column writer takes between checks
	// of its page size and statistics.
	maxBatchRows = 1 << 16

	// Bounds on a dictionary kept by the writer for one row group. A column
	// declared String that exceeds them is handed to the Parquet writer as
	// plain strings from then on, which falls back to plain encoding itself.
	maxDictEntries = 1 << 15
	maxDictBytes   = 1 << 20
)

// Options tunes a Writer. The zero value is valid.
type Options struct {
	// RowGroupRows is the number of rows per row group; 0 means
	// DefaultRowGroupRows.
	RowGroupRows int
	// CompressionLevel is the zstd level, 1 to 22; 0 means
	// DefaultCompressionLevel.
	CompressionLevel int
	// Metadata is added to the file's key/value metadata. Keys MetaSchema,
	// MetaSchemaVersion and MetaColumns are set by the writer and may not
	// appear here.
	Metadata map[string]string
}

// Writer writes one table to a Parquet file. Rows are appended one value per
// column through the typed methods (Int64, Float64, Bool, String, Null),
// addressed by column position in the Schema, and finished with EndRow.
//
// The typed methods do not return errors, so that the per-value path stays
// cheap: misuse (wrong type, Null on a required column) is remembered and
// reported by the next EndRow, which then discards the row.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	path, tmp string
	schema    Schema
	f         *os.File
	bw        *bufio.Writer
	pf        *pqFile

	rgLimit int
	level   int // zstd level
	props   *parquet.WriterProperties
	// out, when set, receives the row groups encoded instead of a file: see Encoder.
	out *Encoded

	cols    []colBuf
	rows    int // complete rows staged in cols: the row group being built
	written int64

	rowErr error // first misuse in the row being built
	err    error // sticky failure; the file can no longer be completed
	done   bool  // Close or Abort has run
}

// colBuf stages one column's values for the whole row group, which is then
// written column after column straight to the file. Staging in reused slices
// costs ~100 bytes a row of an events file; handing batches to a buffered
// row group instead kept every column's encoded pages in buffers that grew by
// copying, which cost more time than the encoding itself. Only the slice that
// matches typ is used; nullable columns also record a definition level per
// row (1 = value present), with values stored densely.
//
// Dictionary-encoded string columns are different: the Parquet writer's own
// dictionary path allocates for every value, so the column keeps its
// dictionary itself and stages one index per row (nulls included), from
// which writeDictPages builds the pages.
type colBuf struct {
	typ      ColumnType
	nullable bool
	n        int // values and nulls given for the row group

	dict      map[string]int32 // nil unless the column stages indices
	dictVals  []string
	dictBytes int
	overflow  bool  // dictionary outgrew its bounds; switch to plain staging
	last      int32 // index of the value most recently looked up
	idx       []int32
	codeIdx   *[256]int32 // by code, 1 + the code's index in the row group's dictionary, -1 for null; 0 unknown

	i64  []int64
	f64  []float64
	b    []bool
	data []byte // string bytes, back to back
	ends []int  // end offset in data of each string
	def  []int16

	ba []parquet.ByteArray // scratch for handing strings to the writer

	// Int64 columns with Delta encoding are encoded by writeDeltaPages, and
	// dictionary columns by writeDictPages, into page and then cbuf when
	// compressed.
	delta  bool
	plain  bool // Int64 with Plain encoding, Float64 or Bool, encoded by writePlainPages
	signed bool // the column sorts signed, for the statistics of plain pages
	stats  bool // the column chunk carries statistics
	page   []byte
	cbuf   []byte
	dense  []int32 // indices of a page's present values
	sink   sinkAllocator
}

// Create starts a new file that will appear at path when Close succeeds.
// Until then the data goes to a temporary file in the same directory
// (path + ".tmp-" + random suffix), so that the final rename is atomic.
func Create(path string, s Schema, opts Options) (*Writer, error) {
	w, gn, err := newWriter(s, opts)
	if err != nil {
		return nil, fmt.Errorf("trace: create %s: %w", path, err)
	}
	w.path = path
	kv, err := fileMetadata(s, opts.Metadata)
	if err != nil {
		return nil, fmt.Errorf("trace: create %s: %w", path, err)
	}

	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if w.f, err = createTemp(dir, base); err != nil {
		return nil, fmt.Errorf("trace: create %s: %w", path, err)
	}
	w.tmp = w.f.Name()
	w.bw = bufio.NewWriterSize(w.f, 1<<18)

	props := writerProperties(s, w.level)
	w.pf, err = newPQFile(w.bw, gn, props, kv)
	if err != nil {
		w.removeTmp()
		return nil, fmt.Errorf("trace: create %s: %w", path, err)
	}

	w.initColumns(props, w.pf.schema)
	return w, nil
}

// newWriter checks table s and opts and returns a Writer of s with opts applied, which has
// no file and no columns yet, and the Parquet schema of s.
func newWriter(s Schema, opts Options) (*Writer, *schema.GroupNode, error) {
	if err := s.validate(); err != nil {
		return nil, nil, err
	}
	if opts.RowGroupRows < 0 {
		return nil, nil, fmt.Errorf("negative RowGroupRows %d", opts.RowGroupRows)
	}
	if opts.CompressionLevel < 0 || opts.CompressionLevel > 22 {
		return nil, nil, fmt.Errorf("zstd level %d out of range 1..22", opts.CompressionLevel)
	}
	gn, err := s.parquetSchema()
	if err != nil {
		return nil, nil, err
	}
	w := &Writer{schema: cloneSchema(s), rgLimit: opts.RowGroupRows, level: opts.CompressionLevel}
	if w.rgLimit == 0 {
		w.rgLimit = DefaultRowGroupRows
	}
	if w.level == 0 {
		w.level = DefaultCompressionLevel
	}
	return w, gn, nil
}

// initColumns sets up the staging of w's columns, with storage kept from earlier writers.
func (w *Writer) initColumns(props *parquet.WriterProperties, sc *schema.Schema) {
	s := w.schema
	w.props = props
	w.cols = make([]colBuf, len(s.Columns))
	stages.Lock()
	for i, c := range s.Columns {
		cb := &w.cols[i]
		*cb = colBuf{typ: c.Type, nullable: c.Nullable, delta: c.Type == Int64 && c.encoding() == Delta,
			plain:  ownPlain && (c.Type == Float64 || c.Type == Bool || c.Type == Int64 && c.encoding() == Plain),
			signed: sc.Column(i).SortOrder() == schema.SortSIGNED,
			stats:  props.StatisticsEnabledFor(sc.Column(i).Path())}
		st := takeStage(stageKey{s.Name, i, c.Type})
		cb.i64, cb.f64, cb.def, cb.idx, cb.dense = st.i64[:0], st.f64[:0], st.def[:0], st.idx[:0], st.dense[:0]
		cb.data, cb.ends, cb.page, cb.cbuf = st.data[:0], st.ends[:0], st.page[:0], st.cbuf[:0]
		if (c.Type == String || c.Type == Text) && c.encoding() == Dictionary {
			cb.dict = make(map[string]int32)
		}
	}
	stages.Unlock()
}

// stages keeps the staging slices of finished writers for the next ones: a sweep writes a
// file per part, and growing a row group's worth of staging again for each file cost more
// than a tenth of the time spent writing events. Slices are kept per column of a table
// (stageKey), so that each column gets back storage of the size it needed before: with one
// list for every table, the runs table's hundred small columns took the events table's
// large slices, whose columns then grew new ones, and the lists held a quarter of a
// gigabyte.
var stages struct {
	sync.Mutex
	m map[stageKey][]stage
}

// stageKey names a column of a table. The type is part of it because tests reuse schema
// names for other layouts.
type stageKey struct {
	schema string
	col    int
	typ    ColumnType
}

// stage is the storage of one column's staging slices.
type stage struct {
	i64        []int64
	f64        []float64
	def        []int16
	idx, dense []int32
	data       []byte
	ends       []int
	page, cbuf []byte // the buffers of writeDeltaPages and writeDictPages
}

const (
	// maxStages bounds the stages kept per column: a sweep writes a part while it
	// completes the one before.
	maxStages = 2
	// maxStageKeys bounds the columns whose stages are kept, for programs that write
	// many tables.
	maxStageKeys = 1024
)

// takeStage returns the stage kept for key with the most storage, or an empty one: a
// sweep's short last part gives back small slices, which the next sweep's full parts
// would otherwise have to grow again.
func takeStage(key stageKey) stage {
	l := stages.m[key]
	if len(l) == 0 {
		return stage{}
	}
	big := len(l) - 1
	for i := range l {
		if l[i].size() > l[big].size() {
			big = i
		}
	}
	s := l[big]
	l[big] = l[len(l)-1]
	l[len(l)-1] = stage{}
	stages.m[key] = l[:len(l)-1]
	return s
}

func (s *stage) size() int {
	return 8*(cap(s.i64)+cap(s.f64)+cap(s.ends)) + 2*cap(s.def) + 4*(cap(s.idx)+cap(s.dense)) + cap(s.data) + cap(s.page) + cap(s.cbuf)
}

func giveStage(key stageKey, s stage) {
	if s.size() == 0 {
		return
	}
	if stages.m == nil {
		stages.m = make(map[stageKey][]stage)
	}
	l, ok := stages.m[key]
	if (!ok && len(stages.m) >= maxStageKeys) || len(l) >= maxStages {
		return
	}
	stages.m[key] = append(l, s)
}

// IsTemp reports whether name is that of a file a Writer has not yet renamed into place:
// a sweep killed while writing leaves such files, which are never whole.
func IsTemp(name string) bool { return strings.Contains(name, tempInfix) }

// tempInfix separates a temporary file's final name from its random suffix.
const tempInfix = ".tmp-"

// createTemp creates dir/base.tmp-<random>. Unlike os.CreateTemp, which
// always uses mode 0600, the file gets the mode os.Create would give the
// final file (0666 less the umask), since it is renamed into place as is.
func createTemp(dir, base string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, base+tempInfix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("cannot find a free temporary file name")
}

func writerProperties(s Schema, level int) *parquet.WriterProperties {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(level),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(true),
		// Row groups are cut by this package, not by the Parquet writer.
		parquet.WithMaxRowGroupLength(1 << 62),
		// The column writers check the page size and update statistics
		// once per this many values; the default of 1024 makes that
		// bookkeeping a third of the write cost. Strings are handed over in
		// smaller pieces (see writeByteArrays), so pages stay near the
		// default size limit regardless.
		parquet.WithBatchSize(maxBatchRows),
		parquet.WithAllocator(pages),
	}
	for _, c := range s.Columns {
		if c.Compression != Zstd {
			opts = append(opts, parquet.WithCompressionFor(c.Name, c.Compression.codec()))
		}
		switch c.encoding() {
		case Delta:
			opts = append(opts, parquet.WithEncodingFor(c.Name, parquet.Encodings.DeltaBinaryPacked))
		case Dictionary:
			opts = append(opts, parquet.WithDictionaryFor(c.Name, true))
			if c.Type == String || c.Type == Text {
				// Indices written directly bypass the statistics
				// update, so the page statistics would claim no nulls.
				// Min/max of a few strings prune nothing anyway.
				opts = append(opts, parquet.WithStatsFor(c.Name, false))
			}
		}
	}
	return parquet.NewWriterProperties(opts...)
}

func fileMetadata(s Schema, extra map[string]string) (metadata.KeyValueMetadata, error) {
	cols, err := s.columnsJSON()
	if err != nil {
		return nil, err
	}
	all := map[string]string{
		MetaSchema:        s.Name,
		MetaSchemaVersion: strconv.Itoa(s.Version),
		MetaColumns:       cols,
	}
	for k, v := range extra {
		if _, reserved := all[k]; reserved {
			return nil, fmt.Errorf("metadata key %q is set by the writer", k)
		}
		if k == "" {
			return nil, errors.New("empty metadata key")
		}
		all[k] = v
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	// Sorted so that identical inputs give identical files.
	sort.Strings(keys)
	kv := metadata.NewKeyValueMetadata()
	for _, k := range keys {
		if err := kv.Append(k, all[k]); err != nil {
			return nil, err
		}
	}
	return kv, nil
}

func cloneSchema(s Schema) Schema {
	s.Columns = append([]Column(nil), s.Columns...)
	return s
}

// Path returns the final path of the file.
func (w *Writer) Path() string { return w.path }

// Schema returns the table layout being written.
func (w *Writer) Schema() Schema { return cloneSchema(w.schema) }

// Rows returns the number of complete rows written so far.
func (w *Writer) Rows() int64 { return w.written + int64(w.rows) }

// Int64 sets column col of the current row.
func (w *Writer) Int64(col int, v int64) {
	c := &w.cols[col]
	if c.typ != Int64 {
		w.misuse(col, "Int64")
		return
	}
	c.i64 = append(c.i64, v)
	if c.nullable {
		c.def = append(c.def, 1)
	}
	c.n++
}

// Float64 sets column col of the current row.
func (w *Writer) Float64(col int, v float64) {
	c := &w.cols[col]
	if c.typ != Float64 {
		w.misuse(col, "Float64")
		return
	}
	c.f64 = append(c.f64, v)
	if c.nullable {
		c.def = append(c.def, 1)
	}
	c.n++
}

// Bool sets column col of the current row.
func (w *Writer) Bool(col int, v bool) {
	c := &w.cols[col]
	if c.typ != Bool {
		w.misuse(col, "Bool")
		return
	}
	c.b = append(c.b, v)
	if c.nullable {
		c.def = append(c.def, 1)
	}
	c.n++
}

// String sets String or Text column col of the current row. The bytes are
// copied, so v may be reused by the caller.
func (w *Writer) String(col int, v string) {
	c := &w.cols[col]
	switch {
	case c.dict != nil:
		c.idx = append(c.idx, c.dictIndex(v))
	case c.typ == String || c.typ == Text:
		c.data = append(c.data, v...)
		c.ends = append(c.ends, len(c.data))
	default:
		w.misuse(col, "String")
		return
	}
	if c.nullable {
		c.def = append(c.def, 1)
	}
	c.n++
}

// Null sets nullable column col of the current row to null.
func (w *Writer) Null(col int) {
	c := &w.cols[col]
	if !c.nullable {
		w.misuse(col, "Null")
		return
	}
	c.def = append(c.def, 0)
	if c.dict != nil {
		c.idx = append(c.idx, 0) // placeholder; the validity bitmap hides it
	}
	c.n++
}

// addInt64, addOptID, addString and addOptString append one value to a
// column known to be of the right type and nullability: a required Int64, a
// nullable Int64 with -1 for null, a required String or Text, a nullable
// String or Text with "" for null.
func (c *colBuf) addInt64(v int64) {
	c.i64 = append(c.i64, v)
	c.n++
}

func (c *colBuf) addOptID(v int64) {
	if v == -1 {
		c.def = append(c.def, 0)
	} else {
		c.def = append(c.def, 1)
		c.i64 = append(c.i64, v)
	}
	c.n++
}

func (c *colBuf) addString(v string) {
	if c.dict != nil {
		c.idx = append(c.idx, c.dictIndex(v))
	} else {
		c.data = append(c.data, v...)
		c.ends = append(c.ends, len(c.data))
	}
	c.n++
}

func (c *colBuf) addOptString(v string) {
	if v == "" {
		c.def = append(c.def, 0)
		if c.dict != nil {
			c.idx = append(c.idx, 0) // placeholder; the page holds no index for a null
		}
		c.n++
		return
	}
	c.def = append(c.def, 1)
	c.addString(v)
}

// smallDict is the dictionary size up to which a linear scan finds a value
// faster than hashing it (event kinds, message types).
const smallDict = 16

func (c *colBuf) dictIndex(v string) int32 {
	// Runs of one value are common (the detail of state events, the kind of a
	// burst of deliveries), and the values usually share their bytes, so that
	// the comparison ends at the pointers.
	if int(c.last) < len(c.dictVals) && c.dictVals[c.last] == v {
		return c.last
	}
	i := c.lookup(v)
	c.last = i
	return i
}

func (c *colBuf) lookup(v string) int32 {
	if len(c.dictVals) <= smallDict {
		for i, s := range c.dictVals {
			if s == v {
				return int32(i)
			}
		}
	} else if i, ok := c.dict[v]; ok {
		return i
	}
	return c.addDictValue(v)
}

func (c *colBuf) addDictValue(v string) int32 {
	v = strings.Clone(v) // the caller may reuse the bytes
	i := int32(len(c.dictVals))
	c.dict[v] = i
	c.dictVals = append(c.dictVals, v)
	c.dictBytes += len(v)
	if len(c.dictVals) > maxDictEntries || c.dictBytes > maxDictBytes {
		c.overflow = true
	}
	return i
}

func (w *Writer) misuse(col int, method string) {
	if w.rowErr != nil {
		return
	}
	c := w.schema.Columns[col]
	if method == "Null" {
		w.rowErr = fmt.Errorf("Null on required column %q", c.Name)
	} else {
		w.rowErr = fmt.Errorf("%s on %s column %q", method, c.Type, c.Name)
	}
}

// EndRow completes the current row. Every column must have received exactly
// one value or Null; otherwise the row is discarded, an error is returned and
// the Writer stays usable. Errors from flushing a full batch or row group are
// permanent: later calls and Close fail too.
func (w *Writer) EndRow() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return fmt.Errorf("trace: write %s: EndRow after Close or Abort", w.path)
	}
	want := w.rows + 1
	if w.rowErr == nil {
		for i := range w.cols {
			if n := w.cols[i].n; n != want {
				if n < want {
					w.rowErr = fmt.Errorf("no value for column %q", w.schema.Columns[i].Name)
				} else {
					w.rowErr = fmt.Errorf("%d values for column %q", n-w.rows, w.schema.Columns[i].Name)
				}
				break
			}
		}
	}
	if w.rowErr != nil {
		err := fmt.Errorf("trace: write %s: row %d: %w", w.path, w.Rows(), w.rowErr)
		w.rollback()
		return err
	}
	w.rows = want
	if w.rows >= w.rgLimit {
		return w.flush()
	}
	return nil
}

// ready reports why no row may be added now, if anything. Bulk writers call
// it first; they fill every column in full, so they need none of EndRow's
// checks of a row.
func (w *Writer) ready() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return fmt.Errorf("trace: write %s: write after Close or Abort", w.path)
	}
	if w.hasPartialRow() {
		return fmt.Errorf("trace: write %s: values given after the last EndRow", w.path)
	}
	return nil
}

// endRows completes n rows whose values the bulk methods gave, flushing the
// row group when it is full. The callers never cross the row group's end.
func (w *Writer) endRows(n int) error {
	w.rows += n
	if w.rows >= w.rgLimit {
		return w.flush()
	}
	return nil
}

// int64s appends values to required Int64 column col.
func (w *Writer) int64s(col int, v []int64) {
	c := &w.cols[col]
	c.i64 = append(c.i64, v...)
	c.n += len(v)
}

// optIDs appends values to nullable Int64 column col, -1 meaning null. The
// loop has no branch on the value: nulls in id columns come and go from row
// to row, and mispredicted branches cost more than the copying.
func (w *Writer) optIDs(col int, v []int64) {
	c := &w.cols[col]
	n0, d0 := len(c.i64), len(c.def)
	c.i64 = slices.Grow(c.i64, len(v))[:n0+len(v)]
	c.def = slices.Grow(c.def, len(v))[:d0+len(v)]
	vals, def := c.i64[n0:], c.def[d0:d0+len(v)]
	k := 0
	for i, x := range v {
		d := 1
		if x == -1 {
			d = 0
		}
		def[i] = int16(d)
		vals[k] = x // overwritten by the next value when x is null
		k += d
	}
	c.i64 = c.i64[:n0+k]
	c.n += len(v)
}

// strings appends values to required String column col.
func (w *Writer) strings(col int, v []string) {
	c := &w.cols[col]
	if c.dict != nil {
		n0 := len(c.idx)
		c.idx = slices.Grow(c.idx, len(v))[:n0+len(v)]
		idx := c.idx[n0:]
		for i, s := range v {
			idx[i] = c.dictIndex(s)
		}
	} else {
		for _, s := range v {
			c.data = append(c.data, s...)
			c.ends = append(c.ends, len(c.data))
		}
	}
	c.n += len(v)
}

// optStrings appends values to nullable String or Text column col, ""
// meaning null.
func (w *Writer) optStrings(col int, v []string) {
	c := &w.cols[col]
	d0 := len(c.def)
	c.def = slices.Grow(c.def, len(v))[:d0+len(v)]
	def := c.def[d0:]
	if c.dict != nil {
		n0 := len(c.idx)
		c.idx = slices.Grow(c.idx, len(v))[:n0+len(v)]
		idx := c.idx[n0:]
		for i, s := range v {
			if s == "" {
				def[i], idx[i] = 0, 0 // the index is a placeholder; the validity bitmap hides it
				continue
			}
			def[i], idx[i] = 1, c.dictIndex(s)
		}
	} else {
		for i, s := range v {
			if s == "" {
				def[i] = 0
				continue
			}
			def[i] = 1
			c.data = append(c.data, s...)
			c.ends = append(c.ends, len(c.data))
		}
	}
	c.n += len(v)
}

// codes appends values given as codes to String column col, name giving each
// code's string, "" meaning null. A code's dictionary index is looked up once per
// row group.
func codes[T ~uint8](w *Writer, col int, v []T, name func(T) string) {
	c := &w.cols[col]
	if c.dict == nil {
		// The dictionary outgrew its bounds in an earlier row group.
		for _, k := range v {
			if s := name(k); s != "" || !c.nullable {
				c.addString(s)
				if c.nullable {
					c.def = append(c.def, 1)
				}
			} else {
				c.def = append(c.def, 0)
				c.n++
			}
		}
		return
	}
	if c.codeIdx == nil {
		c.codeIdx = new([256]int32)
	}
	n0 := len(c.idx)
	c.idx = slices.Grow(c.idx, len(v))[:n0+len(v)]
	idx := c.idx[n0:]
	var def []int16
	if c.nullable {
		d0 := len(c.def)
		c.def = slices.Grow(c.def, len(v))[:d0+len(v)]
		def = c.def[d0:]
	}
	tab := c.codeIdx // by code: 1 + the index; -1 for null; 0 unknown
	for _, k := range v {
		if tab[k] == 0 {
			x := int32(-1)
			if s := name(k); s != "" || !c.nullable {
				x = c.dictIndex(s) + 1
			}
			tab[k] = x
		}
	}
	// With every code known, the loop has no branch: kinds and nulls come and go from row
	// to row, and mispredicted branches took most of its time.
	if def == nil {
		for i, k := range v {
			idx[i] = tab[k] - 1
		}
	} else {
		for i, k := range v {
			x := tab[k]
			d := 1 + x>>31 // 0 for null, else 1
			def[i] = int16(d)
			idx[i] = (x - 1) & -d // 0 for null: a placeholder, which the validity bitmap hides
		}
	}
	c.n += len(v)
}

// rollback drops everything given since the last complete row. It is the
// error path, so it recounts rather than have every row keep marks.
func (w *Writer) rollback() {
	w.rowErr = nil
	for i := range w.cols {
		c := &w.cols[i]
		c.n = w.rows
		if c.nullable {
			c.def = c.def[:w.rows]
		}
		if c.dict != nil {
			c.idx = c.idx[:w.rows]
			continue
		}
		nv := w.rows // values of complete rows
		if c.nullable {
			nv = 0
			for _, d := range c.def {
				nv += int(d)
			}
		}
		switch c.typ {
		case Int64:
			c.i64 = c.i64[:nv]
		case Float64:
			c.f64 = c.f64[:nv]
		case Bool:
			c.b = c.b[:nv]
		case String, Text:
			c.ends = c.ends[:nv]
			end := 0
			if nv > 0 {
				end = c.ends[nv-1]
			}
			c.data = c.data[:end]
		}
	}
}

// hasPartialRow reports whether values were given after the last EndRow.
func (w *Writer) hasPartialRow() bool {
	if w.rowErr != nil {
		return true
	}
	for i := range w.cols {
		if w.cols[i].n != w.rows {
			return true
		}
	}
	return false
}

// stick, deferred by the methods that write row groups, turns a panic of the Parquet writer
// (it reports some failures so) into an error, and makes an error permanent: the file can
// no longer be completed.
func (w *Writer) stick(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("parquet writer: %v", r)
	}
	if *err != nil {
		w.err = fmt.Errorf("trace: write %s: %w", w.path, *err)
		*err = w.err
	}
}

// flush writes the staged rows as one row group.
func (w *Writer) flush() (err error) {
	if w.rows == 0 {
		return nil
	}
	defer w.stick(&err)
	if w.out != nil {
		if err := w.capture(); err != nil {
			return err
		}
	} else if workers := min(runtime.GOMAXPROCS(0), len(w.cols)); parallelEncode && workers > 1 && w.rows*len(w.cols) >= minParallelValues {
		if err := w.writeParallel(workers); err != nil {
			return err
		}
	} else {
		rg, ccs := w.pf.rowGroup()
		for i := range w.cols {
			if err := w.writeColumn(i, ccs[i]); err != nil {
				return fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, err)
			}
		}
		if err := w.pf.endRowGroup(rg, w.rows); err != nil {
			return err
		}
	}
	w.written += int64(w.rows)
	w.rows = 0
	return nil
}

// parallelEncode lets large row groups be encoded on several cores; tests turn
// it off to compare files.
var parallelEncode = true

// minParallelValues is the fewest values (rows × columns) of a row group whose
// columns are encoded in parallel: below it, starting goroutines costs more than
// it saves. Counting values rather than rows lets a wide table's short last row
// group, such as a sweep's last runs part of two thousand rows of 126 columns
// (two milliseconds of encoding that the sweep waits for), use every core.
const minParallelValues = 1 << 16

// writeParallel writes the staged rows as one row group whose columns are
// encoded and compressed by several goroutines, each column into its own
// buffer, which are then written out in column order. The Writer's caller
// is usually a single goroutine that everything it produces waits on, such
// as a sweep's writer: encoding took it three times as long per event as
// simulating took a worker, so that a second worker gained nothing.
func (w *Writer) writeParallel(workers int) error {
	rg, ccs := w.pf.rowGroup()
	var (
		pagers = make([]file.PageWriter, len(w.cols))
		cws    = make([]file.ColumnChunkWriter, len(w.cols))
		chunks = make([]colStats, len(w.cols))
		errs   = make([]error, len(w.cols))
		next   atomic.Int32
		wg     sync.WaitGroup
	)
	for i := range pagers {
		var err error
		if pagers[i], err = w.pf.pager(ccs[i], i, &w.cols[i].sink); err != nil {
			return err
		}
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(w.cols) {
					return
				}
				cws[i], chunks[i], errs[i] = w.cols[i].encode(pagers[i], ccs[i], w.pf.props)
				if errs[i] != nil {
					errs[i] = fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, errs[i])
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The buffered pages go to the file in column order.
	for i := range w.cols {
		var err error
		switch {
		case cws[i] != nil:
			err = cws[i].Close()
		case w.cols[i].delta || w.cols[i].plain:
			err = finishChunk(pagers[i], ccs[i], chunks[i], w.cols[i].stats)
		default:
			err = pagers[i].Close(true, false)
		}
		if err != nil {
			return fmt.Errorf("column %q: %w", w.schema.Columns[i].Name, err)
		}
	}
	return w.pf.endRowGroup(rg, w.rows)
}

// writeColumn writes column i of the row group to the file, completing its chunk.
func (w *Writer) writeColumn(i int, cc *metadata.ColumnChunkMetaDataBuilder) (err error) {
	defer func() {
		// The Parquet writer reports some failures by panicking.
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet writer: %v", r)
		}
	}()
	c := &w.cols[i]
	pager, err := w.pf.pager(cc, i, nil)
	if err != nil {
		return err
	}
	if c.delta || c.plain {
		chunk, err := c.writeOwnPages(pager)
		if err != nil {
			return err
		}
		return finishChunk(pager, cc, chunk, c.stats)
	}
	if c.ownDict() {
		if err := c.writeDictPages(pager, w.pf.props); err != nil {
			return err
		}
		return pager.Close(true, false)
	}
	return c.writeThroughArrow(pager, cc, w.props)
}

// writeThroughArrow hands the row group's staged values to arrow-go's column writer, which
// encodes them and completes the chunk: for the columns this package does not encode.
func (c *colBuf) writeThroughArrow(pager file.PageWriter, cc *metadata.ColumnChunkMetaDataBuilder, props *parquet.WriterProperties) error {
	cw := file.NewColumnChunkWriter(cc, pager, props)
	if err := c.write(cw); err != nil {
		return err
	}
	return cw.Close()
}

// encode is writeColumn for a column of a row group whose columns are encoded at the
// same time, each on one goroutine, into pager, which buffers the pages: it also builds
// and compresses the column's last page, which Close would otherwise do on the caller's
// goroutine. The caller completes the chunk in column order: by closing the column
// writer returned, or for a Delta or plain column with finishChunk and the statistics returned.
// Dictionary columns keep their pages for Close, which must write the dictionary
// first; they are cheap.
func (c *colBuf) encode(pager file.PageWriter, cc *metadata.ColumnChunkMetaDataBuilder, props *parquet.WriterProperties) (cw file.ColumnChunkWriter, chunk colStats, err error) {
	defer func() {
		// The Parquet writer reports some failures by panicking.
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet writer: %v", r)
		}
	}()
	if c.delta || c.plain {
		chunk, err = c.writeOwnPages(pager)
		return nil, chunk, err
	}
	if c.ownDict() {
		return nil, chunk, c.writeDictPages(pager, props)
	}
	cw = file.NewColumnChunkWriter(cc, pager, props)
	if err := c.write(cw); err != nil {
		return nil, chunk, err
	}
	if f, ok := cw.(interface{ FlushBufferedDataPages() error }); ok && !props.DictionaryEnabledFor(cc.Descr().Path()) {
		return cw, chunk, f.FlushBufferedDataPages()
	}
	return cw, chunk, nil
}

// writeOwnPages writes the pages of a Delta or plain column, which this package encodes, and
// returns the chunk's statistics for finishChunk.
func (c *colBuf) writeOwnPages(pager file.PageWriter) (colStats, error) {
	if c.delta {
		return c.writeDeltaPages(pager, c.stats)
	}
	return c.writePlainPages(pager, c.stats, c.signed)
}

// ownDict reports whether the column's row group is written by writeDictPages:
// it has a dictionary within bounds and some value in it. Otherwise arrow-go's
// column writer takes the strings.
func (c *colBuf) ownDict() bool {
	return c.dict != nil && !c.overflow && len(c.dictVals) > 0
}

// write hands the row group's staged values to the column writer and empties
// the staging slices, keeping their storage for the next row group.
func (c *colBuf) write(cw file.ColumnChunkWriter) error {
	defer c.reset()
	if c.dict != nil && c.overflow {
		c.undict()
	}
	// A dictionary column within bounds comes here only with no value in the row group
	// (see ownDict): its staged strings, none, are all there is to write.
	var def []int16
	if c.nullable {
		def = c.def
	}
	var err error
	switch cw := cw.(type) {
	case *file.Int64ColumnChunkWriter:
		_, err = cw.WriteBatch(c.i64, def, nil)
	case *file.Float64ColumnChunkWriter:
		_, err = cw.WriteBatch(c.f64, def, nil)
	case *file.BooleanColumnChunkWriter:
		_, err = cw.WriteBatch(c.b, def, nil)
	case *file.ByteArrayColumnChunkWriter:
		err = c.writeByteArrays(cw, def)
	default:
		err = fmt.Errorf("unexpected column writer %T", cw)
	}
	return err
}

func (c *colBuf) reset() {
	c.n = 0
	c.i64, c.f64, c.b = c.i64[:0], c.f64[:0], c.b[:0]
	c.data, c.ends, c.def, c.idx = c.data[:0], c.ends[:0], c.def[:0], c.idx[:0]
	if c.dict != nil {
		clear(c.dict)
		clear(c.dictVals)
		c.dictVals, c.dictBytes = c.dictVals[:0], 0
		if c.codeIdx != nil {
			clear(c.codeIdx[:])
		}
	}
}

// byteArrayPiece is how many bytes of strings are handed to the column
// writer at once: it checks the page size limit only between calls.
const byteArrayPiece = 1 << 18

func (c *colBuf) writeByteArrays(cw *file.ByteArrayColumnChunkWriter, def []int16) error {
	c.ba = c.ba[:0]
	start := 0
	for _, end := range c.ends {
		c.ba = append(c.ba, c.data[start:end:end])
		start = end
	}
	defer clear(c.ba) // drop references into data before it is reused
	rows := len(c.ba)
	if def != nil {
		rows = len(def)
	}
	row, val := 0, 0
	for row < rows {
		// Take rows until the piece holds byteArrayPiece bytes.
		r, v, size := row, val, 0
		for r < rows && size < byteArrayPiece {
			if def == nil || def[r] != 0 {
				size += len(c.ba[v])
				v++
			}
			r++
		}
		var d []int16
		if def != nil {
			d = def[row:r]
		}
		if _, err := cw.WriteBatch(c.ba[val:v], d, nil); err != nil {
			return err
		}
		row, val = r, v
	}
	return nil
}

// undict turns the staged indices of the row group back into strings, for a
// column whose dictionary outgrew its bounds: from here on the column is
// staged as plain strings, and the Parquet writer keeps the dictionary.
func (c *colBuf) undict() {
	c.data, c.ends = c.data[:0], c.ends[:0]
	for i, ix := range c.idx {
		if c.nullable && c.def[i] == 0 {
			continue
		}
		c.data = append(c.data, c.dictVals[ix]...)
		c.ends = append(c.ends, len(c.data))
	}
	c.dict, c.dictVals, c.idx = nil, nil, nil
}

// Flush writes the rows given since the last row group as a row group of their own, so
// that the encoding is done by the caller's goroutine: Close, called with no row after
// Flush, then only writes the footer and syncs the file, and the file is the same as
// without Flush. Rows given after Flush start another row group.
func (w *Writer) Flush() error {
	if err := w.ready(); err != nil {
		return err
	}
	return w.flush()
}

// Close writes the remaining rows and the footer, syncs the file to disk and
// renames it to its final path. On error the temporary file is removed and
// no file appears at the final path. Values given after the last EndRow make
// Close fail, since they indicate a caller bug.
func (w *Writer) Close() (err error) {
	if w.done {
		return fmt.Errorf("trace: close %s: already closed or aborted", w.path)
	}
	w.done = true
	defer func() {
		if err != nil {
			w.removeTmp()
		}
	}()
	if w.err != nil {
		return w.err
	}
	if w.hasPartialRow() {
		return fmt.Errorf("trace: close %s: values given after the last EndRow", w.path)
	}
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.closeParquet(); err != nil {
		return fmt.Errorf("trace: close %s: %w", w.path, err)
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("trace: close %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("trace: close %s: %w", w.path, err)
	}
	uncache(w.f)
	if err := w.f.Close(); err != nil {
		w.f = nil
		return fmt.Errorf("trace: close %s: %w", w.path, err)
	}
	w.f = nil
	if err := os.Rename(w.tmp, w.path); err != nil {
		return fmt.Errorf("trace: close %s: %w", w.path, err)
	}
	// Persist the rename itself; without this a crash can lose the entry
	// even though the data was synced. Not all filesystems support syncing
	// a directory, so failure here is not reported.
	if d, err := os.Open(filepath.Dir(w.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	w.release()
	return nil
}

func (w *Writer) closeParquet() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet writer: %v", r)
		}
	}()
	return w.pf.close()
}

// Abort discards the file: the temporary file is removed and nothing appears
// at the final path. Abort after Close or Abort does nothing, so
// `defer w.Abort()` is a safe cleanup on every path.
func (w *Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.removeTmp()
	return nil
}

func (w *Writer) removeTmp() {
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	if w.tmp != "" {
		_ = os.Remove(w.tmp)
	}
	w.release()
}

// release drops the staging buffers so that a finished Writer that is still
// referenced does not pin them.
func (w *Writer) release() {
	stages.Lock()
	for i := range w.cols {
		c := &w.cols[i]
		clear(c.dict)
		giveStage(stageKey{w.schema.Name, i, c.typ}, stage{i64: c.i64[:0], f64: c.f64[:0], def: c.def[:0], idx: c.idx[:0], dense: c.dense[:0],
			data: c.data[:0], ends: c.ends[:0], page: c.page[:0], cbuf: c.cbuf[:0]})
		*c = colBuf{typ: c.typ, nullable: c.nullable, dict: c.dict}
	}
	stages.Unlock()
	w.pf, w.bw = nil, nil
}
