package trace

// These tests look at written files only through arrow-go's low-level
// parquet/file reader, never through Reader, so that a bug shared by the
// writer and Reader cannot hide itself.

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// writePlainParquet writes a valid two-row Parquet file with the given
// key/value metadata and nothing else of this package.
func writePlainParquet(t *testing.T, path string, kv map[string]string) string {
	t.Helper()
	root := schema.MustGroup(schema.NewGroupNode("schema", parquet.Repetitions.Required, schema.FieldList{
		schema.NewInt64Node("x", parquet.Repetitions.Required, -1),
	}, -1))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	md := metadata.NewKeyValueMetadata()
	for k, v := range kv {
		if err := md.Append(k, v); err != nil {
			t.Fatal(err)
		}
	}
	w, err := file.NewParquetWriterWithError(f, root, file.WithWriteMetadata(md))
	if err != nil {
		t.Fatal(err)
	}
	rg, err := w.AppendRowGroupChecked()
	if err != nil {
		t.Fatal(err)
	}
	cw, err := rg.NextColumn()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.(*file.Int64ColumnChunkWriter).WriteBatch([]int64{1, 2}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // also closes f
		t.Fatal(err)
	}
	return path
}

func TestParquetLayout(t *testing.T) {
	events := genEvents(3000, 21)
	path := writeEvents(t, t.TempDir(), events, ClockVirtual, Options{RowGroupRows: 1000})

	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	md := pf.MetaData()
	if pf.NumRows() != int64(len(events)) || pf.NumRowGroups() != 3 {
		t.Fatalf("%d rows in %d row groups, want %d in 3", pf.NumRows(), pf.NumRowGroups(), len(events))
	}
	if v := md.KeyValueMetadata().FindValue(MetaSchema); v == nil || *v != "dhtexp.events" {
		t.Errorf("%s = %v", MetaSchema, v)
	}
	if v := md.KeyValueMetadata().FindValue(MetaClock); v == nil || *v != "virtual" {
		t.Errorf("%s = %v", MetaClock, v)
	}
	if keys := md.KeyValueMetadata().Keys(); !slices.IsSorted(keys) {
		t.Errorf("metadata keys not sorted: %v", keys)
	}

	type want struct {
		phys     parquet.Type
		str      bool // STRING logical type and UTF8 converted type
		optional bool
		dict     bool // dictionary page and dictionary-encoded data pages
		enc      parquet.Encoding
	}
	i64, dlt := parquet.Types.Int64, parquet.Encodings.DeltaBinaryPacked
	wants := map[string]want{
		"run_id":   {i64, false, false, false, dlt},
		"seq":      {i64, false, false, false, dlt},
		"time_ns":  {i64, false, false, false, dlt},
		"kind":     {parquet.Types.ByteArray, true, false, true, 0},
		"msg_type": {parquet.Types.ByteArray, true, true, true, 0},
		"node":     {i64, false, false, false, dlt},
		"from":     {i64, false, true, false, dlt},
		"to":       {i64, false, true, false, dlt},
		"joiner":   {i64, false, true, false, dlt},
		"left":     {i64, false, true, false, dlt},
		"right":    {i64, false, true, false, dlt},
		"detail":   {parquet.Types.ByteArray, true, true, true, 0},
	}
	if md.Schema.NumColumns() != len(EventSchema.Columns) {
		t.Fatalf("%d columns", md.Schema.NumColumns())
	}
	for i := 0; i < md.Schema.NumColumns(); i++ {
		col := md.Schema.Column(i)
		if col.Name() != EventSchema.Columns[i].Name {
			t.Errorf("column %d is %s, want %s", i, col.Name(), EventSchema.Columns[i].Name)
			continue
		}
		w := wants[col.Name()]
		if col.PhysicalType() != w.phys {
			t.Errorf("%s: physical type %s, want %s", col.Name(), col.PhysicalType(), w.phys)
		}
		if w.str {
			if !col.LogicalType().Equals(schema.StringLogicalType{}) || col.ConvertedType() != schema.ConvertedTypes.UTF8 {
				t.Errorf("%s: logical %s converted %s, want String/UTF8", col.Name(), col.LogicalType(), col.ConvertedType())
			}
		} else if col.ConvertedType() != schema.ConvertedTypes.None {
			t.Errorf("%s: converted type %s, want none", col.Name(), col.ConvertedType())
		}
		if optional := col.SchemaNode().RepetitionType() == parquet.Repetitions.Optional; optional != w.optional {
			t.Errorf("%s: optional %v, want %v", col.Name(), optional, w.optional)
		}
		for g := 0; g < md.NumRowGroups(); g++ {
			cc, err := md.RowGroup(g).ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			wantCodec := map[Compression]compress.Compression{Zstd: compress.Codecs.Zstd,
				Uncompressed: compress.Codecs.Uncompressed, Snappy: compress.Codecs.Snappy}[EventSchema.Columns[i].Compression]
			if cc.Compression() != wantCodec {
				t.Errorf("%s: compression %s, want %s", col.Name(), cc.Compression(), wantCodec)
			}
			if cc.HasDictionaryPage() != w.dict {
				t.Errorf("%s row group %d: dictionary page %v, want %v", col.Name(), g, cc.HasDictionaryPage(), w.dict)
			}
			for _, st := range cc.EncodingStats() {
				if st.PageType.String() != "DATA_PAGE" {
					continue
				}
				isDict := st.Encoding == parquet.Encodings.RLEDict || st.Encoding == parquet.Encodings.PlainDict
				if w.dict && !isDict || !w.dict && st.Encoding != w.enc {
					t.Errorf("%s row group %d: data page encoding %s", col.Name(), g, st.Encoding)
				}
			}
		}
	}

	// Values, read with the typed column readers.
	var (
		kinds []string
		times []int64
		from  []int64
	)
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := pf.RowGroup(g)
		n := rg.NumRows()
		cr, err := rg.Column(EventSchema.ColumnIndex("kind"))
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]parquet.ByteArray, n)
		if total, _, err := cr.(*file.ByteArrayColumnChunkReader).ReadBatch(n, vals, nil, nil); err != nil || total != n {
			t.Fatalf("kind: read %d of %d: %v", total, n, err)
		}
		for _, v := range vals {
			kinds = append(kinds, string(v))
		}
		cr, err = rg.Column(EventSchema.ColumnIndex("time_ns"))
		if err != nil {
			t.Fatal(err)
		}
		tv := make([]int64, n)
		if total, _, err := cr.(*file.Int64ColumnChunkReader).ReadBatch(n, tv, nil, nil); err != nil || total != n {
			t.Fatalf("time_ns: read %d of %d: %v", total, n, err)
		}
		times = append(times, tv...)
		cr, err = rg.Column(EventSchema.ColumnIndex("from"))
		if err != nil {
			t.Fatal(err)
		}
		fv, def := make([]int64, n), make([]int16, n)
		total, nv, err := cr.(*file.Int64ColumnChunkReader).ReadBatch(n, fv, def, nil)
		if err != nil || total != n {
			t.Fatalf("from: read %d of %d: %v", total, n, err)
		}
		j := 0
		for _, d := range def {
			if d == 0 {
				from = append(from, -1)
			} else {
				from = append(from, fv[j])
				j++
			}
		}
		if j != nv {
			t.Fatalf("from: %d definition levels set, %d values", j, nv)
		}
	}
	for i, e := range events {
		if kinds[i] != e.Kind || times[i] != e.TimeNs || from[i] != e.From {
			t.Fatalf("row %d: kind %q time %d from %d; want %q %d %d", i, kinds[i], times[i], from[i], e.Kind, e.TimeNs, e.From)
		}
	}
}

// An empty events file is still a valid Parquet file with the full schema.
func TestParquetEmpty(t *testing.T) {
	path := writeEvents(t, t.TempDir(), nil, ClockWall, Options{})
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if pf.NumRows() != 0 || pf.NumRowGroups() != 0 || pf.MetaData().Schema.NumColumns() != len(EventSchema.Columns) {
		t.Errorf("%d rows, %d row groups, %d columns", pf.NumRows(), pf.NumRowGroups(), pf.MetaData().Schema.NumColumns())
	}
}

func TestParquetSchemaFallback(t *testing.T) {
	// Without MetaColumns, String and Text are told apart by the dictionary
	// page, and docs are empty.
	path := filepath.Join(t.TempDir(), "f.parquet")
	root := schema.MustGroup(schema.NewGroupNode("schema", parquet.Repetitions.Required, schema.FieldList{
		schema.MustPrimitive(schema.NewPrimitiveNodeLogical("s", parquet.Repetitions.Required, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)),
		schema.MustPrimitive(schema.NewPrimitiveNodeLogical("t", parquet.Repetitions.Optional, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)),
		schema.MustPrimitive(schema.NewPrimitiveNodeLogical("i", parquet.Repetitions.Required, schema.NewIntLogicalType(64, true), parquet.Types.Int64, -1, -1)),
	}, -1))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	md := metadata.NewKeyValueMetadata()
	_ = md.Append(MetaSchema, "other.tool")
	_ = md.Append(MetaSchemaVersion, "4")
	props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(false), parquet.WithDictionaryFor("s", true),
		parquet.WithCompression(compress.Codecs.Zstd)) // uncompressed, a 2-row dictionary falls back to plain
	w, err := file.NewParquetWriterWithError(f, root, file.WithWriteMetadata(md), file.WithWriterProps(props))
	if err != nil {
		t.Fatal(err)
	}
	rg, err := w.AppendBufferedRowGroupChecked()
	if err != nil {
		t.Fatal(err)
	}
	c0, _ := rg.Column(0)
	c1, _ := rg.Column(1)
	c2, _ := rg.Column(2)
	vals := []parquet.ByteArray{parquet.ByteArray("a"), parquet.ByteArray("b")}
	if _, err := c0.(*file.ByteArrayColumnChunkWriter).WriteBatch(vals, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.(*file.ByteArrayColumnChunkWriter).WriteBatch(vals[:1], []int16{0, 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.(*file.Int64ColumnChunkWriter).WriteBatch([]int64{5, 6}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := Schema{Name: "other.tool", Version: 4, Columns: []Column{
		{Name: "s", Type: String}, {Name: "t", Type: Text, Nullable: true}, {Name: "i", Type: Int64},
	}}
	if got := r.Schema(); got.Name != want.Name || got.Version != want.Version || sameLayout(got, want) != nil {
		t.Errorf("schema %+v, want %+v", got, want)
	}
	c, err := r.ReadColumns(0)
	if err != nil {
		t.Fatal(err)
	}
	if s, tv, ok := c.String("s"), c.String("t"), c.Valid("t"); !slices.Equal(s, []string{"a", "b"}) || !slices.Equal(tv, []string{"", "a"}) || !slices.Equal(ok, []bool{false, true}) {
		t.Errorf("s %q t %q valid %v", s, tv, ok)
	}
}
