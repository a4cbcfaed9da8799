package bench

import (
	"bytes"
	"encoding/base64"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarizeMath(t *testing.T) {
	h := newHistogram()
	for us := int64(1); us <= 10000; us++ { // 1 µs .. 10 ms, uniform
		recordLatency(h, time.Duration(us)*time.Microsecond)
	}
	s := Summarize(h)
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.002+0.001 { // HdrHistogram: 3 significant digits
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Count != 10000 {
		t.Errorf("count %d", s.Count)
	}
	near("min", s.MinMs, 0.001)
	near("p50", s.P50Ms, 5.0)
	near("p90", s.P90Ms, 9.0)
	near("p99", s.P99Ms, 9.9)
	near("p99.9", s.P999Ms, 9.99)
	near("max", s.MaxMs, 10.0)
	near("mean", s.MeanMs, 5.0005)

	back, err := s.Decode()
	if err != nil {
		t.Fatal(err)
	}
	if back.TotalCount() != 10000 || back.ValueAtQuantile(99) != h.ValueAtQuantile(99) {
		t.Errorf("round trip changed the histogram")
	}
	if (Summarize(newHistogram()) != LatencySummary{}) {
		t.Error("empty histogram should summarize to zero")
	}
}

func TestRecordLatencyClamps(t *testing.T) {
	h := newHistogram()
	if recordLatency(h, 2*time.Hour) != true || recordLatency(h, 0) != false {
		t.Fatal("clamp flags wrong")
	}
	if h.TotalCount() != 2 || h.Min() != histLowest || !h.ValuesAreEquivalent(h.Max(), histHighest) {
		t.Errorf("count %d min %d max %d", h.TotalCount(), h.Min(), h.Max())
	}
}

func TestDecodeRejectsCorruptHistograms(t *testing.T) {
	h := newHistogram()
	recordLatency(h, time.Millisecond)
	good := Summarize(h).Histogram
	raw, _ := base64.StdEncoding.DecodeString(good)
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0xff
		return base64.StdEncoding.EncodeToString(b)
	}
	for _, enc := range []string{"", "!!!", "AAAA", base64.StdEncoding.EncodeToString([]byte("HISTFAAAxxxxxxxxxxxx")), good[:len(good)/2], flip(5), flip(len(raw) - 3), flip(12)} {
		if _, err := (LatencySummary{Histogram: enc}).Decode(); err == nil && enc != good {
			// A flipped byte inside the zlib stream may still decode (checksums aside);
			// what matters is no panic. Only framing errors must be rejected.
			if len(enc) < 12 {
				t.Errorf("accepted %q", enc)
			}
		}
	}
}

func FuzzDecodeHistogram(f *testing.F) {
	h := newHistogram()
	recordLatency(h, time.Millisecond)
	f.Add(Summarize(h).Histogram)
	f.Add("HISTFAAAACB4nJNpmSzMwMDAxQABzFCaEUzzT7ACMz4IKrZ3AAA1jAI+")
	f.Fuzz(func(t *testing.T, enc string) {
		if h, err := (LatencySummary{Histogram: enc}).Decode(); err == nil {
			_ = Summarize(h)
		}
	})
}

func sampleReport(t *testing.T, rate float64, p99 time.Duration, errs int64) *Report {
	t.Helper()
	h := newHistogram()
	for i := 0; i < 980; i++ {
		recordLatency(h, time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		recordLatency(h, p99)
	}
	r := &Report{
		Schema: ReportSchema, Scenario: "client-credentials",
		Target:     Target{Kind: "latch", Issuer: "http://localhost:3001/oidc"},
		Load:       LoadInfo{Model: "closed", Concurrency: 16, Warmup: "3s", Duration: "10s"},
		Machine:    Machine{CPUModel: "Test CPU", GOMAXPROCS: 2, GoVersion: "go1.26"},
		Throughput: rate, Requests: 1000, OK: 1000 - errs, Errors: errs,
		Latency: Summarize(h), ElapsedSeconds: 10, Status: "ok",
	}
	if errs > 0 {
		r.Status = "errors"
		r.ErrorsByKind = []ErrorCount{{ErrorClass: ErrorClass{Kind: KindHTTP, Status: 503}, Count: errs, Sample: "overloaded"}}
	}
	r.Headline = r.headline()
	return r
}

func TestTextReport(t *testing.T) {
	var b bytes.Buffer
	r := sampleReport(t, 10000, 5*time.Millisecond, 3)
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "ERRORS: 3 of 1000 requests failed (0.30%), mostly http 503 -- client-credentials, closed loop x16") {
		t.Errorf("first line %q", lines[0])
	}
	for _, want := range []string{"req/s", "p99.9", "10000", "5.00ms", "errors by kind", "http 503", "overloaded"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	ok := sampleReport(t, 10000, 5*time.Millisecond, 0)
	if !strings.HasPrefix(ok.Headline, "OK, no errors: ") {
		t.Errorf("clean headline %q", ok.Headline)
	}
}

func TestJSONRoundTripAndCompare(t *testing.T) {
	dir := t.TempDir()
	a, b := sampleReport(t, 10000, 4*time.Millisecond, 0), sampleReport(t, 12500, 2*time.Millisecond, 0)
	b.Load.Concurrency = 64
	b.Headline = b.headline()
	pa, pb := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for p, r := range map[string]*Report{pa: a, pb: b} {
		if err := writeFile(p, r.WriteJSON); err != nil {
			t.Fatal(err)
		}
	}
	ra, err := ReadReport(pa)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := ReadReport(pb)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Compare(&out, []NamedReport{{"a.json", ra}, {"b.json", rb}}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "OK, no errors in either run\n") {
		t.Errorf("first line: %q", strings.SplitN(s, "\n", 2)[0])
	}
	squeezed := strings.Join(strings.Fields(s), " ")
	for _, want := range []string{"req/s 10000 12500 1.25x", "p50 1.00ms 1.00ms 1.00x", "p99 4.00ms 2.00ms 0.50x", "differs: load closed loop x16 vs closed loop x64"} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("compare lacks %q:\n%s", want, s)
		}
	}

	bad := sampleReport(t, 100, time.Second, 7)
	out.Reset()
	_ = Compare(&out, []NamedReport{{"a", ra}, {"bad", bad}})
	if !strings.HasPrefix(out.String(), "ERRORS: run b had 7 errors (0.70%)") {
		t.Errorf("compare must lead with errors:\n%s", out.String())
	}
}

// Three runs (Latch and two peers, say): every figure of b and c gets its ratio to a,
// and each run's differences from a are named.
func TestCompareThreeRuns(t *testing.T) {
	a := sampleReport(t, 10000, 4*time.Millisecond, 0)
	b := sampleReport(t, 5000, 8*time.Millisecond, 0)
	c := sampleReport(t, 2500, 2*time.Millisecond, 0)
	c.Target.Issuer = "http://127.0.0.1:4444"
	var out bytes.Buffer
	if err := Compare(&out, []NamedReport{{"latch", a}, {"node-oidc-provider", b}, {"hydra", c}}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "OK, no errors in any run\n") {
		t.Errorf("first line: %q", strings.SplitN(s, "\n", 2)[0])
	}
	squeezed := strings.Join(strings.Fields(s), " ")
	for _, want := range []string{
		"b/a c/a",
		"req/s 10000 5000 2500 0.50x 0.25x",
		"p99 4.00ms 8.00ms 2.00ms 2.00x 0.50x",
		"c differs from a: target",
		"c hydra",
	} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("compare lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "b differs") {
		t.Errorf("b is like a but for its speed:\n%s", s)
	}
	for i, r := range []*Report{a, b, c} {
		r.CPU = &CPUUsage{StealPct: float64(i) * 1.5, LoadGeneratorUsPerRequest: 40}
	}
	out.Reset()
	_ = Compare(&out, []NamedReport{{"latch", a}, {"node-oidc-provider", b}, {"hydra", c}})
	if squeezed := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(squeezed, "steal % 0.0 1.5 3.0 ") ||
		!strings.Contains(squeezed, "loadgen us/req 40 40 40 ") {
		t.Errorf("compare lacks the CPU rows:\n%s", out.String())
	}
	if strings.Contains(out.String(), "calib") {
		t.Errorf("a calibration row without calibrations:\n%s", out.String())
	}
	for i, r := range []*Report{a, b, c} {
		r.Calibration = &Calibration{ES256PerSecBefore: 20000 / float64(i+1)}
	}
	out.Reset()
	_ = Compare(&out, []NamedReport{{"latch", a}, {"node-oidc-provider", b}, {"hydra", c}})
	if squeezed := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(squeezed, "ES256/s (calib.) 20000 10000 6667 0.50x 0.33x") {
		t.Errorf("compare lacks the calibration row:\n%s", out.String())
	}
	if strings.Contains(out.String(), "remote hops") {
		t.Errorf("a remote-hops row without grain calls:\n%s", out.String())
	}
	for i, r := range []*Report{a, b, c} {
		r.RemoteHops = &RemoteHops{RemoteShare: share(int64(i), 3)}
	}
	a.RemoteHops.RemoteShare = new(float64)
	out.Reset()
	_ = Compare(&out, []NamedReport{{"latch", a}, {"node-oidc-provider", b}, {"hydra", c}})
	if squeezed := strings.Join(strings.Fields(out.String()), " "); !strings.Contains(squeezed, "remote hops % 0.0 33.3 66.7") {
		t.Errorf("compare lacks the remote-hops row:\n%s", out.String())
	}
	c.Errors = 3
	out.Reset()
	_ = Compare(&out, []NamedReport{{"latch", a}, {"node-oidc-provider", b}, {"hydra", c}})
	if !strings.HasPrefix(out.String(), "ERRORS: run c had 3 errors") {
		t.Errorf("compare must lead with errors:\n%s", out.String())
	}
	if err := Compare(&out, []NamedReport{{"latch", a}}); err == nil {
		t.Error("one report compared with nothing: want an error")
	}
}

func TestReadReportRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty": "", "array": "[]", "other schema": `{"schema":"x/9","headline":"h"}`,
		"no headline": `{"schema":"` + ReportSchema + `"}`, "truncated": `{"schema":"` + ReportSchema,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadReport(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSVG(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	for i := 1; i <= 5000; i++ {
		recordLatency(a, time.Duration(i)*time.Microsecond)
		recordLatency(b, time.Duration(i*3)*time.Microsecond)
	}
	var out bytes.Buffer
	if err := WriteSVG(&out, `run <a> & "b"`, []Series{{Name: "a", Hist: a}, {Name: "b<", Hist: b, Dashed: true}, {Name: "empty", Hist: newHistogram()}}); err != nil {
		t.Fatal(err)
	}
	checkXML(t, out.Bytes())
	s := out.String()
	for _, want := range []string{"<svg", "99.99%", "99.9%", "90%", "polyline", "stroke-dasharray", "latency (ms)", "run &lt;a&gt; &amp; &#34;b&#34;"} {
		if !strings.Contains(s, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if strings.Count(s, "<polyline") != 2 {
		t.Errorf("want 2 curves (empty series skipped)")
	}
	out.Reset()
	if err := WriteSVG(&out, "nothing", nil); err != nil {
		t.Fatal(err)
	}
	checkXML(t, out.Bytes())
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct{ max, step, top float64 }{
		{0, 1, 5}, {1, 0.2, 1}, {4.3, 1, 5}, {9.9, 2, 10}, {23, 5, 25}, {310, 100, 400}, {0.07, 0.02, 0.08},
	} {
		step, top := niceScale(tc.max)
		if math.Abs(step-tc.step) > 1e-9 || math.Abs(top-tc.top) > 1e-9 {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tc.max, step, top, tc.step, tc.top)
		}
	}
}

func TestCPUModelAndQuoting(t *testing.T) {
	if got := cpuModel(strings.NewReader("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n")); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	argv := []string{"latch", "bench", "--client-secret", "s3cr3t", "--admin-client-secret=x", "--scope", "a b", "--label", "it's"}
	got := shellQuote(redactArgv(argv))
	want := `latch bench --client-secret REDACTED --admin-client-secret=REDACTED --scope 'a b' --label 'it'\''s'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"LATCH_ADMIN_CLIENT_ID": "env-id", "LATCH_ADMIN_CLIENT_SECRET": "env-secret"}[k]
	}
	c, err := ParseConfig([]string{"client-credentials", "--concurrency", "64", "--requests", "500"}, env, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != "client-credentials" || c.Load.Concurrency != 64 || c.Load.Requests != 500 || c.Load.Duration != 0 || c.Target.AdminClientID != "env-id" || c.Calibrate != 250*time.Millisecond {
		t.Errorf("%+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "1s", "--requests", "5"}, "not both"},
		{[]string{"--issuer", "http://203.0.113.9/oidc"}, "--allow-remote"},
		{[]string{"--introspection-endpoint", "http://203.0.113.9/introspect"}, "--allow-remote"},
		{[]string{"--introspection-endpoint", "ftp://127.0.0.1/x"}, "--introspection-endpoint"},
		{[]string{"--target", "generic"}, "--client-id"},
		{[]string{"--auth-method", "jwt"}, "--auth-method"},
		{[]string{"nope"}, "unknown scenario"},
		{[]string{"--mix", "x=1"}, "only for the mixed"},
		{[]string{"--rate", "-1", "--concurrency", "0"}, "--concurrency 0"},
		{[]string{"a", "b"}, "unexpected arguments"},
		{[]string{"--calibrate", "-1s"}, "--calibrate -1s"},
		{[]string{"--engine", "threads"}, `--engine "threads"`},
		{[]string{"--calibrate", "1m"}, "--calibrate 1m0s"},
	} {
		if _, err := ParseConfig(tc.args, nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%v) err = %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := ParseConfig([]string{"--issuer", "http://203.0.113.9/oidc", "--allow-remote"}, nil, &bytes.Buffer{}); err != nil {
		t.Errorf("--allow-remote: %v", err)
	}
}
