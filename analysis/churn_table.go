package analysis

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/dhtexp/dhtexp/trace"
)

// churnTitle heads the churn table in the text and Markdown renderings.
const churnTitle = "Churn"

// churnHumanRows is the churn table for people, one row per grid point with
// churn; keys holds each cell's sort key for the HTML table.
func churnHumanRows(s *Summary) (header []string, rows, keys [][]string) {
	header = []string{"point"}
	for _, a := range s.Manifest.Axes {
		header = append(header, a.Name)
	}
	header = append(header, "N", "median session", "stabilization period", "r", "runs", "arrivals/leaves/crashes", "lookups",
		"lookup ok (95% CI)", "consistent (95% CI)", "lookup p50 ms", "lookup p99 ms",
		"keys lost/run (95% CI)", "runs losing keys (95% CI)", "ring correct (95% CI)", "repair periods (95% CI)",
		"maint msgs/s/node (95% CI)", "maint B/s/node (95% CI)", "LNBK median")
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	known := func(v int64, f func(int64) string) string {
		if v < 0 {
			return none
		}
		return f(v)
	}
	dur := func(ns int64) string { return time.Duration(ns).String() }
	for _, p := range s.Churn.Points {
		row := []string{strconv.Itoa(p.Index)}
		key := []string{strconv.Itoa(p.Index)}
		for _, a := range s.Manifest.Axes {
			v, ok := p.Params.Get(a.Name)
			k := ""
			if !ok {
				v.Text = none
			} else if v.Kind == trace.KindNumber || v.Kind == trace.KindDuration {
				k = strconv.FormatFloat(v.Num, 'g', -1, 64)
			}
			row = append(row, v.Text)
			key = append(key, k)
		}
		lnbk := none
		if !math.IsNaN(float64(p.LNBKMedianNs)) {
			lnbk = fmtMinutes(float64(p.LNBKMedianNs))
		}
		row = append(row, known(p.Nodes, i64), known(p.MedianNs, dur), known(p.StabilizeNs, dur), known(p.Replicas, i64),
			i64(p.Runs), fmt.Sprintf("%d/%d/%d", p.Arrivals, p.Leaves, p.Crashes), i64(p.Lookups),
			fmtRateNear(p.LookupSuccess), fmtRateNear(p.Consistent), fmtMsMean(p.LatencyP50), fmtMsMean(p.LatencyP99),
			fmtMean(p.KeysLostPerRun, 2), fmtRate(p.LossShare), fmtRate(p.RingCorrect), fmtMean(p.RepairPeriods, 1),
			fmtMean(p.MaintMsgs, 2), fmtMean(p.MaintBytes, 0), lnbk)
		key = append(key, i64(p.Nodes), i64(p.MedianNs), i64(p.StabilizeNs), i64(p.Replicas), i64(p.Runs),
			i64(p.Arrivals), i64(p.Lookups), sortKey(p.LookupSuccess.Value), sortKey(p.Consistent.Value),
			sortKey(p.LatencyP50.Value), sortKey(p.LatencyP99.Value), sortKey(p.KeysLostPerRun.Value),
			sortKey(p.LossShare.Value), sortKey(p.RingCorrect.Value), sortKey(p.RepairPeriods.Value),
			sortKey(p.MaintMsgs.Value), sortKey(p.MaintBytes.Value), sortKey(p.LNBKMedianNs))
		rows = append(rows, row)
		keys = append(keys, key)
	}
	return header, rows, keys
}

// fmtMinutes writes a duration in nanoseconds as minutes.
func fmtMinutes(ns float64) string {
	return strconv.FormatFloat(ns/float64(time.Minute), 'f', 2, 64) + " min"
}

// fmtMsMean writes a latency estimate in nanoseconds as milliseconds with
// its interval.
func fmtMsMean(m Mean) string {
	if math.IsNaN(float64(m.Value)) {
		return none
	}
	if math.IsNaN(float64(m.Lo)) || math.IsNaN(float64(m.Hi)) {
		return fmtMs(m.Value)
	}
	return fmtMs(m.Value) + " [" + fmtMs(m.Lo) + ", " + fmtMs(m.Hi) + "]"
}

func writeChurnText(w io.Writer, s *Summary) error {
	header, rows, _ := churnHumanRows(s)
	return writeSectionText(w, fmt.Sprintf("%s (%d grid points with churn)", churnTitle, len(rows)), header, rows)
}

func writeChurnMarkdown(w io.Writer, s *Summary) error {
	header, rows, _ := churnHumanRows(s)
	return writeSectionMarkdown(w, s, header, rows)
}

// churnCSVHeader and churnCSVCells extend the CSV table with the churn
// columns, unrounded, when the result set has churn; other points get empty
// cells.
func churnCSVHeader() []string {
	return []string{"churn_runs", "churn_nodes", "churn_median_session_min", "churn_stabilize_s", "churn_replicas",
		"churn_arrivals", "churn_leaves", "churn_crashes", "churn_live_mean",
		"churn_lookups", "churn_lookups_ok", "churn_lookups_consistent",
		"churn_lookup_success", "churn_lookup_success_lo", "churn_lookup_success_hi",
		"churn_consistent", "churn_consistent_lo", "churn_consistent_hi",
		"churn_lookup_p50_ms", "churn_lookup_p50_lo_ms", "churn_lookup_p50_hi_ms",
		"churn_lookup_p99_ms", "churn_lookup_p99_lo_ms", "churn_lookup_p99_hi_ms", "churn_lookup_latency_source",
		"churn_keys_lost", "churn_keys_lost_per_run", "churn_keys_lost_per_run_lo", "churn_keys_lost_per_run_hi",
		"churn_loss_runs", "churn_loss_share", "churn_loss_share_lo", "churn_loss_share_hi", "churn_keys_under_replicated",
		"churn_ring_correct_runs", "churn_ring_correct", "churn_ring_correct_lo", "churn_ring_correct_hi",
		"churn_repaired_runs", "churn_repair_periods", "churn_repair_periods_lo", "churn_repair_periods_hi",
		"churn_maint_msgs_per_node_s", "churn_maint_msgs_per_node_s_lo", "churn_maint_msgs_per_node_s_hi",
		"churn_maint_bytes_per_node_s", "churn_maint_bytes_per_node_s_lo", "churn_maint_bytes_per_node_s_hi",
		"churn_lnbk_median_min"}
}

func churnCSVCells(c *Churn, p *ChurnPoint) []string {
	if p == nil {
		return make([]string, len(churnCSVHeader()))
	}
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	known := func(v int64, scale float64) string {
		if v < 0 {
			return ""
		}
		return csvNum(Num(float64(v) / scale))
	}
	mean := func(m Mean, scale float64) []string {
		return []string{csvNum(m.Value / Num(scale)), csvNum(m.Lo / Num(scale)), csvNum(m.Hi / Num(scale))}
	}
	rate := func(r Rate) []string { return []string{csvNum(r.Value), csvNum(r.Lo), csvNum(r.Hi)} }
	row := []string{i64(p.Runs), known(p.Nodes, 1), known(p.MedianNs, float64(time.Minute)), known(p.StabilizeNs, 1e9), known(p.Replicas, 1),
		i64(p.Arrivals), i64(p.Leaves), i64(p.Crashes), csvNum(p.LiveMean),
		i64(p.Lookups), i64(p.LookupsOK), i64(p.LookupsConsistent)}
	row = append(row, rate(p.LookupSuccess)...)
	row = append(row, rate(p.Consistent)...)
	row = append(row, mean(p.LatencyP50, 1e6)...)
	row = append(row, mean(p.LatencyP99, 1e6)...)
	row = append(row, c.LatencySource, i64(p.KeysLost))
	row = append(row, mean(p.KeysLostPerRun, 1)...)
	row = append(row, i64(p.LossRuns))
	row = append(row, rate(p.LossShare)...)
	row = append(row, i64(p.UnderReplicated), i64(p.RingCorrectRuns))
	row = append(row, rate(p.RingCorrect)...)
	row = append(row, i64(p.RepairedRuns))
	row = append(row, mean(p.RepairPeriods, 1)...)
	row = append(row, mean(p.MaintMsgs, 1)...)
	row = append(row, mean(p.MaintBytes, 1)...)
	return append(row, csvNum(p.LNBKMedianNs/Num(time.Minute)))
}

// churnNotes explains the churn table, for the report page and summary.md.
func churnNotes(s *Summary) []string {
	c := s.Churn
	notes := []string{
		"Lookups are those issued in each run's measurement window (after churn.warmup, until churn stops). Lookup ok and consistent are pooled over runs with 95% Wilson intervals; consistent lookups named the key's true owner when the answer was sent.",
		churnLatencyNote(c),
		"Maintenance traffic per node: for each run, churn_maint_messages (or churn_maint_bytes) / (churn_window_ns / 1e9) / churn_live_mean, everything but client operations and their answers, per second per live node; the table shows the mean over runs with a 95% bootstrap interval over runs.",
		"Keys lost: keys with no live copy at the end check, mean per run (bootstrap interval) and the share of runs that lost any (Wilson). Ring correct: share of runs whose live connected nodes formed the true ring at the end check. Repair periods: time from churn stop to the first correct ring in stabilization periods, mean over the runs that got there.",
		"LNBK median: log2(N)·p, the median session at which stabilization every p gives log2 N rounds per half-life (" + LNBKCitation + "), taking the ring's half-life as about the median session time.",
	}
	if n := len(s.Points) - len(c.Points); n > 0 {
		notes = append(notes, fmt.Sprintf("%d grid point(s) without churn are not in this table.", n))
	}
	return notes
}
