// Package analysis turns a dhtexp result set into numbers, figures and a
// verdict.
//
// A result set (docs/results.md) is a folder with manifest.json and Parquet
// parts under runs/, joins/ and events/. Open checks the folder and lists
// the parts; Analyze streams them, reading only the columns it needs one
// row group at a time, and aggregates per grid point into a Summary. Memory
// is bounded by the number of grid points, not the number of runs: counts
// and sums are exact, and each grid point's join latencies are held in a
// stats.Dist, exactly up to a cap and in a 1%-resolution log-spaced
// histogram beyond it. Merged shard outputs are simply more parts.
//
// From a Summary, WriteTable renders the per-grid-point table as text, CSV,
// JSON or Markdown; WriteReport writes figures (PNG and SVG), a
// self-contained index.html and summary.md into a folder that appears only
// when complete. NewBaseline records the failure counts of a result set, and
// Check compares a Summary against a Baseline with a one-sided Fisher exact
// test per grid point, Holm's correction across grid points and a minimum
// effect size, so that a gate built on it fails on real regressions and not
// on seed noise.
//
// Errors caused by the input (a folder that is not a result set, a
// truncated part, a baseline of another spec) are *InputError, which names
// the file concerned.
package analysis
