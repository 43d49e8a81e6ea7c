package trace

import (
	"bufio"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// pqFile lays out a Parquet file: the magic number, row groups of column chunks and the
// footer, with arrow-go's metadata builders and page writers. It stands in for arrow-go's
// file.Writer, whose row groups count a column's rows only through its own column
// writers, so that columns whose pages this package encodes itself (writeDelta) could
// not be written through it.
type pqFile struct {
	sink   *tellWriter
	props  *parquet.WriterProperties
	schema *schema.Schema
	meta   *metadata.FileMetaDataBuilder
	groups int
}

var parquetMagic = []byte("PAR1")

// tellWriter counts the bytes written through it, for the offsets in the metadata.
type tellWriter struct {
	w *bufio.Writer
	n int64
}

func (t *tellWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.n += int64(n)
	return n, err
}

func (t *tellWriter) Tell() int64 { return t.n }

func newPQFile(w *bufio.Writer, gn *schema.GroupNode, props *parquet.WriterProperties, kv metadata.KeyValueMetadata) (*pqFile, error) {
	f := &pqFile{sink: &tellWriter{w: w}, props: props, schema: schema.NewSchema(gn)}
	f.meta = metadata.NewFileMetadataBuilder(f.schema, props, kv)
	if _, err := f.sink.Write(parquetMagic); err != nil {
		return nil, err
	}
	return f, nil
}

// rowGroup starts a row group and returns the metadata builders of its column chunks,
// which must be completed in order.
func (f *pqFile) rowGroup() (*metadata.RowGroupMetaDataBuilder, []*metadata.ColumnChunkMetaDataBuilder) {
	rg := f.meta.AppendRowGroup()
	ccs := make([]*metadata.ColumnChunkMetaDataBuilder, f.schema.NumColumns())
	for i := range ccs {
		ccs[i] = rg.NextColumnChunk()
	}
	return rg, ccs
}

// pager returns a page writer for column i of the current row group. Buffered ones keep
// the pages in memory until Close, so that columns can be encoded at the same time, in
// memory from sink.
func (f *pqFile) pager(cc *metadata.ColumnChunkMetaDataBuilder, i int, sink *sinkAllocator) (file.PageWriter, error) {
	path := cc.Descr().Path()
	mem := f.props.Allocator()
	if sink != nil {
		mem = sink
	}
	return file.NewPageWriter(f.sink, f.props.CompressionFor(path), f.props.CompressionLevelFor(path), cc,
		int16(f.groups), int16(i), mem, sink != nil, nil, nil)
}

// endRowGroup completes the current row group of rows rows.
func (f *pqFile) endRowGroup(rg *metadata.RowGroupMetaDataBuilder, rows int) error {
	rg.SetNumRows(rows)
	if err := rg.Finish(0, int16(f.groups)); err != nil {
		return err
	}
	f.groups++
	return nil
}

// close writes the footer.
func (f *pqFile) close() error {
	md, err := f.meta.Finish()
	if err != nil {
		return err
	}
	n, err := md.WriteTo(f.sink, nil)
	if err != nil {
		return err
	}
	if n > 1<<31-1 {
		return fmt.Errorf("footer of %d bytes", n)
	}
	if _, err := f.sink.Write(binary.LittleEndian.AppendUint32(nil, uint32(n))); err != nil {
		return err
	}
	_, err = f.sink.Write(parquetMagic)
	return err
}
