package bench

import (
	"fmt"
	"io"
	"strings"
)

// Compare writes two reports side by side with the ratio b/a for each figure. Its first
// line says whether either run had errors, as every report's first line does.
func Compare(w io.Writer, nameA string, a *Report, nameB string, b *Report) error {
	var sb strings.Builder
	var bad []string
	for _, x := range []struct {
		name string
		r    *Report
	}{{"a", a}, {"b", b}} {
		switch {
		case x.r.Status == "interrupted":
			bad = append(bad, fmt.Sprintf("run %s was interrupted", x.name))
		case x.r.Errors > 0:
			bad = append(bad, fmt.Sprintf("run %s had %d errors (%s)", x.name, x.r.Errors, pct(x.r.Errors, x.r.Requests)))
		case x.r.Warmup.Errors > 0:
			bad = append(bad, fmt.Sprintf("run %s had %d errors in warm-up", x.name, x.r.Warmup.Errors))
		}
	}
	if len(bad) > 0 {
		sb.WriteString("ERRORS: " + strings.Join(bad, "; ") + " -- compare with care\n")
	} else {
		sb.WriteString("OK, no errors in either run\n")
	}
	fmt.Fprintf(&sb, "a  %s\n   %s\n", nameA, a.Headline)
	fmt.Fprintf(&sb, "b  %s\n   %s\n", nameB, b.Headline)
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
	if len(diffs) > 0 {
		sb.WriteString("differs: " + strings.Join(diffs, "; ") + "\n")
	}
	sb.WriteString("\n")

	t := newTable("", "a", "b", "b/a")
	rate := func(name string, x, y float64) { t.add(name, fmtRate(x), fmtRate(y), ratio(x, y)) }
	ms := func(name string, x, y float64) { t.add(name, fmtMs(x), fmtMs(y), ratio(x, y)) }
	lat := func(prefix string, x, y LatencySummary) {
		ms(prefix+"p50", x.P50Ms, y.P50Ms)
		ms(prefix+"p90", x.P90Ms, y.P90Ms)
		ms(prefix+"p99", x.P99Ms, y.P99Ms)
		ms(prefix+"p99.9", x.P999Ms, y.P999Ms)
		ms(prefix+"max", x.MaxMs, y.MaxMs)
	}
	rate("req/s", a.Throughput, b.Throughput)
	lat("", a.Latency, b.Latency)
	t.add("errors", fmt.Sprint(a.Errors), fmt.Sprint(b.Errors), "")
	t.add("requests", fmt.Sprint(a.Requests), fmt.Sprint(b.Requests), ratio(float64(a.Requests), float64(b.Requests)))
	if a.ServiceTime != nil && b.ServiceTime != nil {
		ms("service p50", a.ServiceTime.P50Ms, b.ServiceTime.P50Ms)
		ms("service p99", a.ServiceTime.P99Ms, b.ServiceTime.P99Ms)
	}
	for _, oa := range a.Ops {
		for _, ob := range b.Ops {
			if oa.Name == ob.Name {
				rate(oa.Name+" req/s", oa.Throughput, ob.Throughput)
				ms(oa.Name+" p99", oa.Latency.P99Ms, ob.Latency.P99Ms)
			}
		}
	}
	t.write(&sb)
	sb.WriteString("\nb/a above 1 is better for req/s, below 1 is better for latencies.\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

func ratio(a, b float64) string {
	if a == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", b/a)
}
