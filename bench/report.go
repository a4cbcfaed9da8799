package bench

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"time"
)

// ReportSchema identifies the JSON report format; bump it on incompatible changes.
const ReportSchema = "latch-bench/1"

// Report is the outcome of one run: what was run, where, how, and the figures. It is
// what --json writes and `latch bench compare` reads. Throughput counts successful
// requests; latency covers every measured request, failed ones included (a fast error
// is still what the client saw); errors are counted by class and never dropped.
type Report struct {
	Schema string `json:"schema"`
	// Status is "ok", "errors" (some requests failed) or "interrupted".
	Status string `json:"status"`
	// Headline is the first line of the text report.
	Headline string `json:"headline"`
	Label    string `json:"label,omitempty"`
	Scenario string `json:"scenario"`

	Command     []string          `json:"command"`
	CommandLine string            `json:"commandLine"`
	Start       time.Time         `json:"start"`
	Machine     Machine           `json:"machine"`
	Target      Target            `json:"target"`
	Params      map[string]string `json:"params,omitempty"`
	Load        LoadInfo          `json:"load"`

	ElapsedSeconds float64 `json:"elapsedSeconds"`
	Requests       int64   `json:"requests"`
	OK             int64   `json:"ok"`
	Errors         int64   `json:"errors"`
	// Throughput is successful requests per second over the measured window.
	Throughput float64 `json:"throughput"`
	// RequestRate is completed requests (ok or not) per second.
	RequestRate float64 `json:"requestRate"`
	// Latency: open loop from the intended start (coordinated omission corrected);
	// closed loop from the actual send.
	Latency LatencySummary `json:"latency"`
	// ServiceTime (open loop only): from the actual send, not corrected.
	ServiceTime  *LatencySummary `json:"serviceTime,omitempty"`
	ErrorsByKind []ErrorCount    `json:"errorsByKind,omitempty"`
	Warmup       WarmupInfo      `json:"warmup"`
	Ops          []OpReport      `json:"ops,omitempty"`
	// CPU is what the machine's CPUs did during the measured window (Linux).
	CPU *CPUUsage `json:"cpu,omitempty"`
	// Calibration is the machine's single-core speed before and after the run.
	Calibration *Calibration `json:"calibration,omitempty"`
	// RemoteHops (Latch) is the run's grain calls by where they were answered, from
	// every node's /metrics (remote_hops.go).
	RemoteHops *RemoteHops `json:"remoteHops,omitempty"`
	Warnings   []string    `json:"warnings,omitempty"`
}

// Machine describes where the load generator ran.
type Machine struct {
	LatchVersion string `json:"latchVersion"`
	GoVersion    string `json:"goVersion"`
	GOOS         string `json:"goos"`
	GOARCH       string `json:"goarch"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	NumCPU       int    `json:"numCPU"`
	CPUModel     string `json:"cpuModel,omitempty"`
	Hostname     string `json:"hostname,omitempty"`
}

// LoadInfo is the load model as run.
type LoadInfo struct {
	Model       string  `json:"model"` // "closed" or "open"
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate,omitempty"`
	Warmup      string  `json:"warmup"`
	Duration    string  `json:"duration,omitempty"`
	Requests    int64   `json:"requests,omitempty"`
	Timeout     string  `json:"timeout"`
	// Engine is "epoll" when the event-loop engine drove the load (absent: goroutines).
	Engine string `json:"engine,omitempty"`
}

// ErrorCount is the number of requests that failed with one class of error.
type ErrorCount struct {
	ErrorClass
	Op     string `json:"op,omitempty"`
	Count  int64  `json:"count"`
	Sample string `json:"sample,omitempty"`
}

// WarmupInfo: warm-up requests are excluded from the figures, but their errors are
// still counted and shown.
type WarmupInfo struct {
	Requests     int64        `json:"requests"`
	Errors       int64        `json:"errors"`
	ErrorsByKind []ErrorCount `json:"errorsByKind,omitempty"`
}

// OpReport is one operation of a mixed run.
type OpReport struct {
	Name        string          `json:"name"`
	Requests    int64           `json:"requests"`
	OK          int64           `json:"ok"`
	Errors      int64           `json:"errors"`
	Throughput  float64         `json:"throughput"`
	Latency     LatencySummary  `json:"latency"`
	ServiceTime *LatencySummary `json:"serviceTime,omitempty"`
}

// fill sets the figures, status and headline of r from m. opNames is nil for single-op scenarios.
func (r *Report) fill(m *measurement, opNames []string) {
	r.Schema = ReportSchema
	lat, svc := m.totals()
	elapsed := m.elapsed().Seconds()
	r.ElapsedSeconds = round3(elapsed)
	for op := range m.ok {
		r.OK += m.ok[op]
		r.Errors += m.failed[op]
	}
	if m.unsent > 0 {
		r.Errors += m.unsent
		r.ErrorsByKind = append(r.ErrorsByKind, ErrorCount{ErrorClass: ErrorClass{Kind: KindOther, Code: "not sent"}, Count: m.unsent,
			Sample: "the open loop hit its time limit (2x the schedule + 10s) far behind schedule; these scheduled requests were never sent"})
	}
	r.Requests = r.OK + r.Errors
	if elapsed > 0 {
		r.Throughput = round1(float64(r.OK) / elapsed)
		r.RequestRate = round1(float64(r.Requests) / elapsed)
	}
	r.Latency = Summarize(lat)
	if svc != nil {
		s := Summarize(svc)
		r.ServiceTime = &s
	}
	r.Warmup.Requests, r.Warmup.Errors = m.warmDone, m.warmErrs
	for k, v := range m.errs {
		ec := ErrorCount{ErrorClass: k.class, Count: v.count, Sample: v.sample}
		if opNames != nil {
			ec.Op = opNames[k.op]
		}
		if k.warmup {
			r.Warmup.ErrorsByKind = append(r.Warmup.ErrorsByKind, ec)
		} else {
			r.ErrorsByKind = append(r.ErrorsByKind, ec)
		}
	}
	sortErrors(r.ErrorsByKind)
	sortErrors(r.Warmup.ErrorsByKind)
	if opNames != nil {
		for op, name := range opNames {
			o := OpReport{Name: name, OK: m.ok[op], Errors: m.failed[op], Latency: Summarize(m.lat[op])}
			o.Requests = o.OK + o.Errors
			if elapsed > 0 {
				o.Throughput = round1(float64(o.OK) / elapsed)
			}
			if m.svc != nil {
				s := Summarize(m.svc[op])
				o.ServiceTime = &s
			}
			r.Ops = append(r.Ops, o)
		}
	}
	r.CPU = cpuUsage(m.cpuStart, m.cpuEnd, r.Requests, r.Machine.NumCPU)
	if m.clamped > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d latencies exceeded %s and were recorded as %s", m.clamped, time.Duration(histHighest)*time.Microsecond, time.Duration(histHighest)*time.Microsecond))
	}
	if r.Load.Model == "open" && elapsed > 0 {
		achieved := float64(r.Requests) / elapsed
		if achieved < 0.95*r.Load.Rate {
			r.Warnings = append(r.Warnings, fmt.Sprintf("open loop fell behind: %.0f req/s completed of %.0f req/s scheduled (latest start %s after its intended time); the server (or the load generator) saturated, and the corrected latencies show it", achieved, r.Load.Rate, m.maxLag.Round(time.Millisecond)))
		}
	}
	if r.Requests == 0 && !m.interrupted {
		r.Warnings = append(r.Warnings, "no request completed in the measured window")
	}
	switch {
	case m.interrupted:
		r.Status = "interrupted"
	case r.Errors > 0 || r.Warmup.Errors > 0:
		r.Status = "errors"
	default:
		r.Status = "ok"
	}
	r.Headline = r.headline()
}

func sortErrors(ec []ErrorCount) {
	slices.SortFunc(ec, func(a, b ErrorCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Op+a.String(), b.Op+b.String())
	})
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// headline is the first line of every text report: a run with errors says so first.
func (r *Report) headline() string {
	what := fmt.Sprintf("%s, %s, %.1fs measured: %s req/s, p99 %s", r.Scenario, r.Load.describe(), r.ElapsedSeconds, fmtRate(r.Throughput), fmtMs(r.Latency.P99Ms))
	var b strings.Builder
	switch r.Status {
	case "interrupted":
		b.WriteString("INTERRUPTED: partial results; ")
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "ERRORS: %d of %d requests failed (%s)", r.Errors, r.Requests, pct(r.Errors, r.Requests))
		if len(r.ErrorsByKind) > 0 {
			fmt.Fprintf(&b, ", mostly %s", r.ErrorsByKind[0].String())
		}
		if r.Warmup.Errors > 0 {
			fmt.Fprintf(&b, ", plus %d in warm-up", r.Warmup.Errors)
		}
		b.WriteString(" -- ")
	} else if r.Warmup.Errors > 0 {
		fmt.Fprintf(&b, "ERRORS in warm-up only: %d of %d warm-up requests failed, mostly %s -- ", r.Warmup.Errors, r.Warmup.Requests, r.Warmup.ErrorsByKind[0].String())
	} else if r.Status == "ok" {
		b.WriteString("OK, no errors: ")
	}
	b.WriteString(what)
	return b.String()
}

func (l LoadInfo) describe() string {
	engine := ""
	if l.Engine == EngineEpoll {
		engine = ", epoll engine"
	}
	if l.Model == "open" {
		return fmt.Sprintf("open loop %s req/s (max %d in flight%s)", fmtRate(l.Rate), l.Concurrency, engine)
	}
	return fmt.Sprintf("closed loop x%d%s", l.Concurrency, engine)
}

func pct(n, of int64) string {
	if of == 0 {
		return "100%"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

// fmtMs prints a latency in milliseconds with three significant digits.
func fmtMs(ms float64) string {
	switch {
	case ms == 0:
		return "0ms"
	case ms < 1:
		return fmt.Sprintf("%.3fms", ms)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	default:
		return fmt.Sprintf("%.0fms", ms)
	}
}

func fmtRate(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// WriteText writes the terminal report: the headline first, then the table (req/s, p50,
// p90, p99, p99.9, max, errors) and the errors by kind.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString(r.Headline + "\n\n")
	fmt.Fprintf(&b, "scenario   %s (target %s, %s)\n", r.Scenario, r.Target.Kind, r.Target.Issuer)
	if len(r.Target.Endpoints) > 0 {
		fmt.Fprintf(&b, "endpoints  %s\n", strings.Join(r.Target.Endpoints, ", "))
	}
	fmt.Fprintf(&b, "load       %s, warm-up %s", r.Load.describe(), r.Load.Warmup)
	if r.Load.Requests > 0 {
		fmt.Fprintf(&b, ", %d requests\n", r.Load.Requests)
	} else {
		fmt.Fprintf(&b, ", duration %s\n", r.Load.Duration)
	}
	fmt.Fprintf(&b, "machine    %s, GOMAXPROCS %d, %s, %s\n", r.Machine.CPUModel, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Start.Format(time.RFC3339))
	b.WriteString("\n")
	tw := newTable("", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors")
	row := func(name, rate string, l LatencySummary, errs string) {
		tw.add(name, rate, fmtMs(l.P50Ms), fmtMs(l.P90Ms), fmtMs(l.P99Ms), fmtMs(l.P999Ms), fmtMs(l.MaxMs), errs)
	}
	row("total", fmtRate(r.Throughput), r.Latency, fmt.Sprint(r.Errors))
	if r.ServiceTime != nil {
		row("(service)", "", *r.ServiceTime, "")
	}
	for _, o := range r.Ops {
		row(o.Name, fmtRate(o.Throughput), o.Latency, fmt.Sprint(o.Errors))
		if o.ServiceTime != nil {
			row("  (service)", "", *o.ServiceTime, "")
		}
	}
	tw.write(&b)
	if r.ServiceTime != nil {
		b.WriteString("\nopen loop: latency is from each request's intended start (coordinated omission\ncorrected); (service) is from the actual send, for comparison only.\n")
	}
	if r.CPU != nil {
		b.WriteString("\ncpu        " + r.CPU.describe() + "\n")
	}
	if r.Calibration != nil {
		b.WriteString("calibrate  " + r.Calibration.describe() + "\n")
	}
	if r.RemoteHops != nil {
		b.WriteString("grains     " + r.RemoteHops.describe() + "\n")
	}
	if len(r.ErrorsByKind) > 0 {
		b.WriteString("\nerrors by kind\n")
		writeErrors(&b, r.ErrorsByKind)
	}
	if len(r.Warmup.ErrorsByKind) > 0 {
		fmt.Fprintf(&b, "\nwarm-up errors (%d of %d warm-up requests; excluded from the figures above)\n", r.Warmup.Errors, r.Warmup.Requests)
		writeErrors(&b, r.Warmup.ErrorsByKind)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "\nwarning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeErrors(b *strings.Builder, ecs []ErrorCount) {
	tw := newTable("", "count", "sample")
	for _, e := range ecs {
		name := e.String()
		if e.Op != "" {
			name = e.Op + ": " + name
		}
		tw.add(name, fmt.Sprint(e.Count), e.Sample)
	}
	tw.write(b)
}

// table is a minimal right-aligned text table (first column left-aligned, last column
// free text when it is a sample).
type table struct{ rows [][]string }

func newTable(header ...string) *table { return &table{rows: [][]string{header}} }
func (t *table) add(cells ...string)   { t.rows = append(t.rows, cells) }

func (t *table) write(b *strings.Builder) {
	widths := make([]int, len(t.rows[0]))
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range t.rows {
		var line strings.Builder
		for i, c := range r {
			switch {
			case i == 0:
				fmt.Fprintf(&line, "%-*s", widths[i], c)
			case t.rows[0][i] == "sample":
				fmt.Fprintf(&line, "  %s", c)
			default:
				fmt.Fprintf(&line, "  %*s", widths[i], c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a JSON report written by WriteJSON. It is input: anything malformed
// is an error (never a panic), and a report of another schema is refused.
func ReadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r Report
	dec := json.NewDecoder(io.LimitReader(f, 64<<20))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Schema != ReportSchema {
		return nil, fmt.Errorf("%s: schema %q, want %q (not a latch bench report?)", path, r.Schema, ReportSchema)
	}
	if r.Headline == "" {
		return nil, errors.New(path + ": report without a headline")
	}
	return &r, nil
}
