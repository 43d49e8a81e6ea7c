package trace

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Metadata keys written into every file. Keys under "dhtexp." are reserved
// for this package and the callers of its typed writers.
const (
	// MetaSchema holds Schema.Name.
	MetaSchema = "dhtexp.schema"
	// MetaSchemaVersion holds Schema.Version in decimal.
	MetaSchemaVersion = "dhtexp.schema_version"
	// MetaColumns holds a JSON array describing each column's dhtexp type
	// and documentation. Parquet alone cannot tell a String column from a
	// Text column in a file with no row groups, and the docs make files
	// self-describing for people who only have the file.
	MetaColumns = "dhtexp.columns"
	// MetaClock says how time_ns in an events file is to be read: ClockVirtual
	// or ClockWall.
	MetaClock = "dhtexp.clock"
)

// ColumnType is the logical type of a column.
type ColumnType uint8

const (
	// Int64 is a signed 64-bit integer (Parquet INT64).
	Int64 ColumnType = iota + 1
	// Float64 is an IEEE 754 double (Parquet DOUBLE).
	Float64
	// Bool is a boolean (Parquet BOOLEAN).
	Bool
	// String is a UTF-8 string drawn from a small set of values (Parquet
	// BYTE_ARRAY annotated STRING, dictionary encoded).
	String
	// Text is a UTF-8 string with many distinct values (Parquet BYTE_ARRAY
	// annotated STRING, plain encoded): a dictionary would only cost space.
	Text
)

var columnTypeNames = [...]string{Int64: "int64", Float64: "float64", Bool: "bool", String: "string", Text: "text"}

func (t ColumnType) String() string {
	if int(t) < len(columnTypeNames) && columnTypeNames[t] != "" {
		return columnTypeNames[t]
	}
	return "ColumnType(" + strconv.Itoa(int(t)) + ")"
}

func parseColumnType(s string) (ColumnType, bool) {
	for i, n := range columnTypeNames {
		if n != "" && n == s {
			return ColumnType(i), true
		}
	}
	return 0, false
}

// Encoding is a hint for how a column's values are encoded in the file.
type Encoding uint8

const (
	// EncodingDefault picks by type: Delta for Int64, Dictionary for String,
	// Plain for the others.
	EncodingDefault Encoding = iota
	// Plain stores values as they are.
	Plain
	// Delta is DELTA_BINARY_PACKED, for Int64 columns that grow slowly or
	// stay constant (run ids, sequence numbers, times).
	Delta
	// Dictionary stores each distinct value once and the rows as small
	// indices; it suits columns with few distinct values.
	Dictionary
)

var encodingNames = [...]string{EncodingDefault: "default", Plain: "plain", Delta: "delta", Dictionary: "dictionary"}

func (e Encoding) String() string {
	if int(e) < len(encodingNames) {
		return encodingNames[e]
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// Column describes one column of a table.
type Column struct {
	Name     string
	Type     ColumnType
	Nullable bool
	// Doc is a one-line description stored in the file metadata.
	Doc string
	// Encoding is a hint; the zero value picks a default by Type.
	Encoding Encoding
	// Compression is the column's codec; the zero value is zstd.
	Compression Compression
}

// Compression is the codec of a column's pages.
type Compression int

const (
	// Zstd, the default, at the writer's level.
	Zstd Compression = iota
	// Uncompressed suits columns that zstd shrinks too little to pay for its time.
	Uncompressed
	// Snappy suits columns that zstd shrinks well but slowly: Snappy shrinks them a little
	// less in half the time.
	Snappy
)

// codec is c's Parquet codec.
func (c Compression) codec() compress.Compression {
	switch c {
	case Uncompressed:
		return compress.Codecs.Uncompressed
	case Snappy:
		return compress.Codecs.Snappy
	default:
		return compress.Codecs.Zstd
	}
}

// Schema names a table layout. Name and Version are stored in each file so
// that readers can refuse layouts they do not understand; bump Version
// whenever a column is added, removed, renamed or changes meaning.
type Schema struct {
	Name    string
	Version int
	Columns []Column
}

// ColumnIndex returns the position of the named column, or -1.
func (s Schema) ColumnIndex(name string) int {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return i
		}
	}
	return -1
}

// ColumnNames returns the column names in order.
func (s Schema) ColumnNames() []string {
	names := make([]string, len(s.Columns))
	for i := range s.Columns {
		names[i] = s.Columns[i].Name
	}
	return names
}

// encoding resolves EncodingDefault to the concrete encoding for c.
func (c Column) encoding() Encoding {
	if c.Encoding != EncodingDefault {
		return c.Encoding
	}
	switch c.Type {
	case Int64:
		return Delta
	case String:
		return Dictionary
	default:
		return Plain
	}
}

func (s Schema) validate() error {
	if s.Name == "" {
		return errors.New("schema has no name")
	}
	if s.Version < 1 {
		return fmt.Errorf("schema %s: version %d, want >= 1", s.Name, s.Version)
	}
	if len(s.Columns) == 0 {
		return fmt.Errorf("schema %s: no columns", s.Name)
	}
	seen := make(map[string]bool, len(s.Columns))
	for _, c := range s.Columns {
		// Dots would be read as nested paths by the Parquet property lookup
		// and by query engines.
		if c.Name == "" || strings.ContainsAny(c.Name, ".\x00") {
			return fmt.Errorf("schema %s: invalid column name %q", s.Name, c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("schema %s: duplicate column %q", s.Name, c.Name)
		}
		seen[c.Name] = true
		if c.Type < Int64 || c.Type > Text {
			return fmt.Errorf("schema %s: column %q: invalid type %v", s.Name, c.Name, c.Type)
		}
		switch enc := c.encoding(); {
		case enc > Dictionary:
			return fmt.Errorf("schema %s: column %q: invalid encoding %v", s.Name, c.Name, enc)
		case enc == Delta && c.Type != Int64:
			return fmt.Errorf("schema %s: column %q: delta encoding needs an int64 column, not %v", s.Name, c.Name, c.Type)
		case enc == Dictionary && c.Type == Bool:
			return fmt.Errorf("schema %s: column %q: bool columns cannot be dictionary encoded", s.Name, c.Name)
		}
		if c.Compression < Zstd || c.Compression > Snappy {
			return fmt.Errorf("schema %s: column %q: invalid compression %d", s.Name, c.Name, c.Compression)
		}
	}
	return nil
}

// parquetSchema maps s to a flat Parquet group of primitive columns.
func (s Schema) parquetSchema() (*schema.GroupNode, error) {
	fields := make(schema.FieldList, len(s.Columns))
	for i, c := range s.Columns {
		rep := parquet.Repetitions.Required
		if c.Nullable {
			rep = parquet.Repetitions.Optional
		}
		var (
			n   *schema.PrimitiveNode
			err error
		)
		switch c.Type {
		case Int64:
			n, err = schema.NewPrimitiveNode(c.Name, rep, parquet.Types.Int64, -1, -1)
		case Float64:
			n, err = schema.NewPrimitiveNode(c.Name, rep, parquet.Types.Double, -1, -1)
		case Bool:
			n, err = schema.NewPrimitiveNode(c.Name, rep, parquet.Types.Boolean, -1, -1)
		case String, Text:
			n, err = schema.NewPrimitiveNodeLogical(c.Name, rep, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
		}
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.Name, err)
		}
		fields[i] = n
	}
	return schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
}

// columnMeta is the per-column entry of MetaColumns.
type columnMeta struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Doc  string `json:"doc,omitempty"`
}

func (s Schema) columnsJSON() (string, error) {
	cm := make([]columnMeta, len(s.Columns))
	for i, c := range s.Columns {
		cm[i] = columnMeta{Name: c.Name, Type: c.Type.String(), Doc: c.Doc}
	}
	b, err := json.Marshal(cm)
	return string(b), err
}

// schemaFromParquet rebuilds a Schema from a file's Parquet schema and its
// dhtexp metadata. The Parquet schema is authoritative for names and
// nullability; MetaColumns only refines types Parquet cannot distinguish
// and supplies docs.
func schemaFromParquet(ps *schema.Schema, name string, version int, columnsJSON string, hasDict func(col int) bool) (Schema, error) {
	var cm []columnMeta
	if columnsJSON != "" {
		if err := json.Unmarshal([]byte(columnsJSON), &cm); err != nil {
			return Schema{}, fmt.Errorf("metadata %s: %w", MetaColumns, err)
		}
		if len(cm) != ps.NumColumns() {
			return Schema{}, fmt.Errorf("metadata %s lists %d columns, file has %d", MetaColumns, len(cm), ps.NumColumns())
		}
	}
	s := Schema{Name: name, Version: version, Columns: make([]Column, ps.NumColumns())}
	root := ps.Root()
	if root.NumFields() != ps.NumColumns() {
		return Schema{}, errors.New("nested columns are not supported")
	}
	for i := 0; i < ps.NumColumns(); i++ {
		pc := ps.Column(i)
		c := Column{Name: pc.Name()}
		switch pc.SchemaNode().RepetitionType() {
		case parquet.Repetitions.Required:
		case parquet.Repetitions.Optional:
			c.Nullable = true
		default:
			return Schema{}, fmt.Errorf("column %q: repeated columns are not supported", c.Name)
		}
		lt := pc.LogicalType()
		plain := lt == nil || lt.Equals(schema.NoLogicalType{})
		switch pc.PhysicalType() {
		case parquet.Types.Int64:
			if !plain && !lt.Equals(schema.NewIntLogicalType(64, true)) {
				return Schema{}, fmt.Errorf("column %q: unsupported INT64 logical type %s", c.Name, lt)
			}
			c.Type = Int64
		case parquet.Types.Double:
			c.Type = Float64
		case parquet.Types.Boolean:
			c.Type = Bool
		case parquet.Types.ByteArray:
			if lt == nil || !lt.Equals(schema.StringLogicalType{}) {
				return Schema{}, fmt.Errorf("column %q: BYTE_ARRAY without STRING annotation is not supported", c.Name)
			}
			c.Type = String
			if cm == nil && !hasDict(i) {
				c.Type = Text
			}
		default:
			return Schema{}, fmt.Errorf("column %q: unsupported physical type %s", c.Name, pc.PhysicalType())
		}
		if cm != nil {
			m := cm[i]
			t, ok := parseColumnType(m.Type)
			if m.Name != c.Name || !ok {
				return Schema{}, fmt.Errorf("metadata %s: entry %d (%s %s) does not match column %q", MetaColumns, i, m.Name, m.Type, c.Name)
			}
			if t != c.Type && !(t == Text && c.Type == String) {
				return Schema{}, fmt.Errorf("metadata %s: column %q is %s in metadata but %s in the file", MetaColumns, c.Name, t, c.Type)
			}
			c.Type = t
			c.Doc = m.Doc
		}
		s.Columns[i] = c
	}
	return s, nil
}

// sameLayout reports whether a and b have the same column names, types and
// nullability in the same order; docs and encoding hints may differ.
func sameLayout(a, b Schema) error {
	if len(a.Columns) != len(b.Columns) {
		return fmt.Errorf("has %d columns, want %d", len(a.Columns), len(b.Columns))
	}
	for i := range a.Columns {
		x, y := a.Columns[i], b.Columns[i]
		if x.Name != y.Name || x.Type != y.Type || x.Nullable != y.Nullable {
			return fmt.Errorf("column %d is %s, want %s", i, describeColumn(x), describeColumn(y))
		}
	}
	return nil
}

func describeColumn(c Column) string {
	s := c.Name + " " + c.Type.String()
	if c.Nullable {
		s += " nullable"
	}
	return s
}

// knownSchemas are the fixed layouts whose version Open checks: a file that
// claims one of these names at a version this package does not know is
// refused rather than misread.
func knownSchemas() []Schema { return []Schema{EventSchema, JoinSchema, OpSchema} }
