package bench

import (
	"fmt"
	"io"
	"strings"
)

// NamedReport is one run given to Compare, with the name it is shown under.
type NamedReport struct {
	Name string
	R    *Report
}

// maxCompare bounds how many runs Compare puts side by side (letters a..h).
const maxCompare = 8

// Compare writes reports side by side, the first one (a) as the baseline: each other's
// figure gets a ratio x/a. Its first line says whether any run had errors, as every
// report's first line does. It is made for Latch and its peers under the same load, or
// one OP before and after a change.
func Compare(w io.Writer, runs []NamedReport) error {
	if len(runs) < 2 || len(runs) > maxCompare {
		return fmt.Errorf("compare takes 2 to %d reports, got %d", maxCompare, len(runs))
	}
	letter := func(i int) string { return string(rune('a' + i)) }
	var sb strings.Builder
	var bad []string
	for i, x := range runs {
		switch {
		case x.R.Status == "interrupted":
			bad = append(bad, fmt.Sprintf("run %s was interrupted", letter(i)))
		case x.R.Errors > 0:
			bad = append(bad, fmt.Sprintf("run %s had %d errors (%s)", letter(i), x.R.Errors, pct(x.R.Errors, x.R.Requests)))
		case x.R.Warmup.Errors > 0:
			bad = append(bad, fmt.Sprintf("run %s had %d errors in warm-up", letter(i), x.R.Warmup.Errors))
		}
	}
	switch {
	case len(bad) > 0:
		sb.WriteString("ERRORS: " + strings.Join(bad, "; ") + " -- compare with care\n")
	case len(runs) == 2:
		sb.WriteString("OK, no errors in either run\n")
	default:
		sb.WriteString("OK, no errors in any run\n")
	}
	for i, x := range runs {
		fmt.Fprintf(&sb, "%s  %s\n   %s\n", letter(i), x.Name, x.R.Headline)
	}
	a := runs[0].R
	for i, x := range runs[1:] {
		if d := differences(a, x.R); len(d) > 0 {
			prefix := "differs: "
			if len(runs) > 2 {
				prefix = fmt.Sprintf("%s differs from a: ", letter(i+1))
			}
			sb.WriteString(prefix + strings.Join(d, "; ") + "\n")
		}
	}
	sb.WriteString("\n")

	header := []string{""}
	for i := range runs {
		header = append(header, letter(i))
	}
	for i := range runs[1:] {
		header = append(header, letter(i+1)+"/a")
	}
	t := newTable(header...)
	// row adds one figure of every run; with ratios, each run's x/a after them. Every
	// row is of a figure all runs have (the optional ones are checked with allHave).
	row := func(name string, get func(r *Report) float64, format func(float64) string, ratios bool) {
		cells := []string{name}
		for _, x := range runs {
			cells = append(cells, format(get(x.R)))
		}
		for _, x := range runs[1:] {
			if ratios {
				cells = append(cells, ratio(get(a), get(x.R)))
			} else {
				cells = append(cells, "")
			}
		}
		t.add(cells...)
	}
	percentiles := func(prefix string, get func(r *Report) *LatencySummary, names ...string) {
		for _, n := range names {
			row(prefix+n, func(r *Report) float64 { return get(r).percentile(n) }, fmtMs, true)
		}
	}
	count := func(v float64) string { return fmt.Sprint(int64(v)) }
	row("req/s", func(r *Report) float64 { return r.Throughput }, fmtRate, true)
	percentiles("", func(r *Report) *LatencySummary { return &r.Latency }, "p50", "p90", "p99", "p99.9", "max")
	row("errors", func(r *Report) float64 { return float64(r.Errors) }, count, false)
	row("requests", func(r *Report) float64 { return float64(r.Requests) }, count, true)
	if allHave(runs, func(r *Report) bool { return r.ServiceTime != nil }) {
		percentiles("service ", func(r *Report) *LatencySummary { return r.ServiceTime }, "p50", "p99")
	}
	if allHave(runs, func(r *Report) bool { return r.CPU != nil }) {
		row("loadgen us/req", func(r *Report) float64 { return r.CPU.LoadGeneratorUsPerRequest }, fmtUs, false)
		row("steal %", func(r *Report) float64 { return r.CPU.StealPct }, fmtPct, false)
	}
	if allHave(runs, func(r *Report) bool { return r.RemoteHops != nil && r.RemoteHops.RemoteShare != nil }) {
		row("remote hops %", func(r *Report) float64 { return 100 * *r.RemoteHops.RemoteShare }, fmtPct, false)
	}
	if allHave(runs, func(r *Report) bool { return r.Calibration != nil && r.Calibration.ES256PerSecBefore > 0 }) {
		row("ES256/s (calib.)", func(r *Report) float64 { return r.Calibration.ES256PerSecBefore }, fmtRate, true)
	}
	for _, oa := range a.Ops {
		opOf := func(r *Report) *OpReport {
			for i := range r.Ops {
				if r.Ops[i].Name == oa.Name {
					return &r.Ops[i]
				}
			}
			return nil
		}
		if !allHave(runs, func(r *Report) bool { return opOf(r) != nil }) {
			continue
		}
		row(oa.Name+" req/s", func(r *Report) float64 { return opOf(r).Throughput }, fmtRate, true)
		row(oa.Name+" p99", func(r *Report) float64 { return opOf(r).Latency.P99Ms }, fmtMs, true)
	}
	t.write(&sb)
	sb.WriteString("\nA ratio x/a above 1 is better for req/s, below 1 is better for latencies.\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// differences lists what makes b's run unlike a's besides the OP's speed.
func differences(a, b *Report) []string {
	var diffs []string
	if a.Scenario != b.Scenario {
		diffs = append(diffs, fmt.Sprintf("scenario %s vs %s", a.Scenario, b.Scenario))
	}
	if la, lb := a.Load.describe(), b.Load.describe(); la != lb {
		diffs = append(diffs, fmt.Sprintf("load %s vs %s", la, lb))
	}
	if a.Machine.CPUModel != b.Machine.CPUModel || a.Machine.GOMAXPROCS != b.Machine.GOMAXPROCS || a.Machine.Hostname != b.Machine.Hostname {
		diffs = append(diffs, fmt.Sprintf("machine %s/%s x%d vs %s/%s x%d", a.Machine.Hostname, a.Machine.CPUModel, a.Machine.GOMAXPROCS, b.Machine.Hostname, b.Machine.CPUModel, b.Machine.GOMAXPROCS))
	}
	if a.Target.Issuer != b.Target.Issuer || a.Target.Kind != b.Target.Kind {
		diffs = append(diffs, fmt.Sprintf("target %s %s vs %s %s", a.Target.Kind, a.Target.Issuer, b.Target.Kind, b.Target.Issuer))
	}
	return diffs
}

// percentile is the figure of l that compare names n (p50, p90, p99, p99.9, max).
func (l *LatencySummary) percentile(n string) float64 {
	switch n {
	case "p50":
		return l.P50Ms
	case "p90":
		return l.P90Ms
	case "p99":
		return l.P99Ms
	case "p99.9":
		return l.P999Ms
	default:
		return l.MaxMs
	}
}

func fmtUs(v float64) string  { return fmt.Sprintf("%.0f", v) }
func fmtPct(v float64) string { return fmt.Sprintf("%.1f", v) }

func allHave(runs []NamedReport, f func(r *Report) bool) bool {
	for _, x := range runs {
		if !f(x.R) {
			return false
		}
	}
	return true
}

func ratio(a, b float64) string {
	if a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/a)
}
