// Command runsdiff checks that two result sets hold the same runs, row for row: every column
// of the runs table but wall_ns (the only non-deterministic one), matched by run_id. The Slurm
// self-test (deploy/slurm/selftest) uses it to compare a merged sharded sweep with an unsharded
// run of the same spec.
//
//	go run ./deploy/slurm/runsdiff RESULTS_A RESULTS_B
//
// Exit status 0: identical; 1: they differ (the first differences are printed); 2: usage or
// read error.
package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dhtexp/dhtexp/trace"
)

// ignored columns differ between two runs of the same configuration.
var ignored = map[string]bool{"wall_ns": true}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: runsdiff RESULTS_A RESULTS_B")
		os.Exit(2)
	}
	a, colsA, err := readRuns(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "runsdiff:", err)
		os.Exit(2)
	}
	b, colsB, err := readRuns(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "runsdiff:", err)
		os.Exit(2)
	}
	diffs := compare(a, b, colsA, colsB)
	for i, d := range diffs {
		if i == 20 {
			fmt.Printf("... and %d more differences\n", len(diffs)-i)
			break
		}
		fmt.Println(d)
	}
	if len(diffs) > 0 {
		os.Exit(1)
	}
	fmt.Printf("runsdiff: %d runs, %d columns compared (wall_ns ignored): identical\n", len(a), len(colsA))
}

// readRuns returns the rows of dir/runs/*.parquet by run_id, each as its columns' values in
// text form, and the column names.
func readRuns(dir string) (map[int64][]string, []string, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "runs", "*.parquet"))
	if err != nil {
		return nil, nil, err
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("%s: no runs/*.parquet", dir)
	}
	rows := map[int64][]string{}
	var names []string
	for _, p := range parts {
		r, err := trace.Open(p)
		if err != nil {
			return nil, nil, err
		}
		s := r.Schema()
		r.Close()
		var cols []trace.Column
		for _, c := range s.Columns {
			if !ignored[c.Name] {
				cols = append(cols, c)
			}
		}
		partNames := make([]string, len(cols))
		for i, c := range cols {
			partNames[i] = c.Name
		}
		if names == nil {
			names = partNames
		} else if strings.Join(names, ",") != strings.Join(partNames, ",") {
			return nil, nil, fmt.Errorf("%s: columns differ from the other parts", p)
		}
		err = trace.ForEachRowGroup(p, partNames, func(ch *trace.Chunk) error {
			ids := ch.Int64("run_id")
			for i := 0; i < ch.NumRows(); i++ {
				row := make([]string, len(cols))
				for j, c := range cols {
					row[j] = cell(ch, c, i)
				}
				if _, dup := rows[ids[i]]; dup {
					return fmt.Errorf("%s: run_id %d appears twice", dir, ids[i])
				}
				rows[ids[i]] = row
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return rows, names, nil
}

func cell(ch *trace.Chunk, c trace.Column, i int) string {
	if v := ch.Valid(c.Name); v != nil && !v[i] {
		return "NULL"
	}
	switch c.Type {
	case trace.Int64:
		return strconv.FormatInt(ch.Int64(c.Name)[i], 10)
	case trace.Float64:
		// Exact bits: a merge must not change a value at all.
		f := ch.Float64(c.Name)[i]
		return fmt.Sprintf("%v (%#x)", f, math.Float64bits(f))
	case trace.Bool:
		return strconv.FormatBool(ch.Bool(c.Name)[i])
	default:
		return strconv.Quote(ch.String(c.Name)[i])
	}
}

func compare(a, b map[int64][]string, colsA, colsB []string) []string {
	var diffs []string
	if strings.Join(colsA, ",") != strings.Join(colsB, ",") {
		return []string{fmt.Sprintf("columns differ:\n  A: %v\n  B: %v", colsA, colsB)}
	}
	ids := map[int64]bool{}
	for id := range a {
		ids[id] = true
	}
	for id := range b {
		ids[id] = true
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, id := range sorted {
		ra, okA := a[id]
		rb, okB := b[id]
		switch {
		case !okA:
			diffs = append(diffs, fmt.Sprintf("run %d: only in B", id))
		case !okB:
			diffs = append(diffs, fmt.Sprintf("run %d: only in A", id))
		default:
			for j := range ra {
				if ra[j] != rb[j] {
					diffs = append(diffs, fmt.Sprintf("run %d: %s: A %s, B %s", id, colsA[j], ra[j], rb[j]))
				}
			}
		}
	}
	return diffs
}
