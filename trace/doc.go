// Package trace owns the result-set format: it writes and reads the columnar
// tables that dhtexp produces (one row per protocol event, per join attempt,
// per DHT operation and per simulation run), the manifest.json that commits
// them, and the trace levels that decide which tables a result set has.
// Sweeps, the cluster driver, analysis and test fixtures all go through it,
// so that the format has one definition and one version check.
//
// The manifest carries ManifestFormat; ReadManifest reads every format up to
// it and refuses newer ones by name, so an old build never misreads a result
// set written by a newer one. Outcome names in the tables are those of
// package observe.
//
// Tables are stored as Parquet files that use only standard physical and
// logical types (INT64, DOUBLE, BOOLEAN and UTF8 strings), zstd compression
// and no Arrow-specific metadata, so DuckDB, pandas/pyarrow and Polars read
// them directly. docs/trace-schema.md describes the tables for their users.
//
// A file is written to a temporary name next to its final path and renamed
// into place only by a successful Close, so a crashed or aborted run never
// leaves a truncated file under a name that analysis globs would pick up.
//
// The generic Writer takes rows one value at a time through typed methods and
// buffers them per column, which keeps the per-row path free of allocations
// and interface calls. A full row group is encoded column by column: Int64
// columns with delta encoding and dictionary-encoded strings by this package
// (delta.go), the others by arrow-go's column writers; arrow-go writes the
// page headers and the metadata. The Reader hands back one row group at a time with column
// projection, so memory use is bounded by the row group size rather than the
// file size.
//
// Each file carries key/value metadata naming its schema and version
// (MetaSchema, MetaSchemaVersion); Open refuses files without it.
package trace
