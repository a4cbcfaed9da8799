package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Command is `latch bench`: flags in, report out. Its fields are the process's
// surroundings, injected so tests can run it.
type Command struct {
	// Version is the Latch version recorded in reports.
	Version string
	// Argv is the whole command line as typed (os.Args), recorded in reports.
	Argv   []string
	Stdout io.Writer
	// Stderr receives setup logs and the live progress line.
	Stderr io.Writer
	Getenv func(string) string
	// ProgressTTY overrides terminal detection of Stderr when non-nil.
	ProgressTTY *bool
}

// Exit codes of `latch bench`.
const (
	ExitOK          = 0
	ExitFailed      = 1 // setup failed, interrupted, or a file could not be written
	ExitUsage       = 2
	ExitRequestErrs = 3 // the run completed, but some requests failed
)

const benchUsage = `latch bench: load-test an OpenID Provider (Latch or any other) and report honestly.

Usage:
  latch bench [flags] [scenario]        run one scenario (default client-credentials)
  latch bench compare [--svg FILE] a.json b.json [c.json ...]
                                        print --json reports side by side, with ratios to a
  latch bench list                      list the scenarios

Load models: closed loop (--concurrency N, the default) measures peak throughput; open
loop (--rate R) sends R requests/s on a fixed schedule and measures latency from each
request's intended start (coordinated omission corrected). Exit status: 0 ok, 1 failed,
2 usage, 3 the run completed but some requests failed.

Flags:
`

// Config is everything a run takes, from flags.
type Config struct {
	Scenario    string
	Target      Target
	Data        string
	Mix         string
	Load        LoadConfig
	Timeout     time.Duration
	JSONPath    string
	SVGPath     string
	Label       string
	AllowRemote bool
	// Calibrate is how long the machine's speed is measured before and after the run
	// (Calibration); 0 skips it.
	Calibrate time.Duration
	// endpoints is --endpoints as given (parsed into Target.Endpoints).
	endpoints string
	// issuerFromEndpoints: --endpoints without --issuer; the issuer is read from the
	// first endpoint's discovery at the start of the run.
	issuerFromEndpoints bool
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if err := c.Load.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.Target.Kind {
	case "latch", "generic":
	default:
		errs = append(errs, fmt.Errorf("--target %q: want latch or generic", c.Target.Kind))
	}
	switch c.Target.AuthMethod {
	case "basic", "post":
	default:
		errs = append(errs, fmt.Errorf("--auth-method %q: want basic or post", c.Target.AuthMethod))
	}
	if c.issuerFromEndpoints {
		if len(c.Target.Endpoints) == 0 {
			errs = append(errs, errors.New("--issuer is needed without --endpoints"))
		}
	} else if err := checkHTTPURL(c.Target.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("--issuer: %w", err))
	}
	if len(c.Target.Endpoints) > 0 && c.Load.Engine == EngineEpoll {
		errs = append(errs, errors.New("--endpoints runs on --engine goroutines only (the epoll engine sends a scenario's requests to one address)"))
	}
	for _, e := range []struct{ flag, url string }{
		{"--token-endpoint", c.Target.TokenEndpoint},
		{"--introspection-endpoint", c.Target.IntrospectionEndpoint},
	} {
		if e.url == "" {
			continue
		}
		if err := checkHTTPURL(e.url); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.flag, err))
		}
	}
	if (c.Target.ClientID == "") != (c.Target.ClientSecret == "") {
		errs = append(errs, errors.New("--client-id and --client-secret go together"))
	}
	if c.Target.Kind == "generic" && c.Target.ClientID == "" && c.Scenario != "mixed" {
		errs = append(errs, errors.New("--target generic needs --client-id and --client-secret"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	if c.Calibrate < 0 || c.Calibrate > 10*time.Second {
		errs = append(errs, fmt.Errorf("--calibrate %s: want 0 (skip) up to 10s", c.Calibrate))
	}
	if _, ok := registry[c.Scenario]; !ok {
		errs = append(errs, fmt.Errorf("unknown scenario %q (known: %s)", c.Scenario, strings.Join(ScenarioNames(), ", ")))
	}
	if c.Scenario == "mixed" {
		if _, err := ParseMix(c.Mix); err != nil {
			errs = append(errs, err)
		}
	} else if c.Mix != "" {
		errs = append(errs, errors.New("--mix is only for the mixed scenario"))
	}
	if !c.AllowRemote {
		for _, u := range append([]string{c.Target.Issuer, c.Target.TokenEndpoint, c.Target.IntrospectionEndpoint}, c.Target.Endpoints...) {
			if u != "" && !isLoopbackURL(u) {
				errs = append(errs, fmt.Errorf("%s is not on this machine (localhost or a loopback address); pass --allow-remote to load-test another host", u))
			}
		}
	}
	return errors.Join(errs...)
}

// isLoopbackURL reports whether u names localhost or a loopback IP (no DNS lookup).
func isLoopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := p.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Scenario, "scenario", "client-credentials", "scenario to run (see latch bench list)")
	fs.StringVar(&c.Target.Kind, "target", "latch", "latch (setup through the Management API) or generic (any OP; client from flags)")
	fs.StringVar(&c.Target.Issuer, "issuer", "http://localhost:3001/oidc", "issuer; the token endpoint is discovered from <issuer>/.well-known/openid-configuration")
	fs.StringVar(&c.endpoints, "endpoints", "", "comma-separated base URLs of cluster nodes sharing the issuer (http://127.0.0.1:3001,http://127.0.0.1:3002,...): requests for the issuer's host go to them in turn instead (setup to the first; each browser rotates through them; goroutines engine); without --issuer, the issuer is read from <first>/oidc")
	fs.StringVar(&c.Target.TokenEndpoint, "token-endpoint", "", "token endpoint (overrides discovery)")
	fs.StringVar(&c.Target.IntrospectionEndpoint, "introspection-endpoint", "", "introspection endpoint (overrides discovery; e.g. Ory Hydra's admin /admin/oauth2/introspect)")
	fs.StringVar(&c.Target.ClientID, "client-id", "", "client id (generic target; with --target latch, skips creating an app)")
	fs.StringVar(&c.Target.ClientSecret, "client-secret", "", "client secret")
	fs.StringVar(&c.Target.Resource, "resource", "", "resource indicator, sent as the resource parameter (RFC 8707)")
	fs.StringVar(&c.Target.Audience, "audience", "", "sent as the audience parameter (Auth0-style providers)")
	fs.StringVar(&c.Target.Scope, "scope", "", "scope to request")
	fs.StringVar(&c.Target.AuthMethod, "auth-method", "basic", "client authentication: basic (client_secret_basic) or post (client_secret_post)")
	fs.StringVar(&c.Target.AdminClientID, "admin-client-id", "", "Latch admin M2M app id (default: $LATCH_ADMIN_CLIENT_ID, else <data>/admin-credentials.json)")
	fs.StringVar(&c.Target.AdminClientSecret, "admin-client-secret", "", "Latch admin M2M app secret (default: $LATCH_ADMIN_CLIENT_SECRET, else <data>/admin-credentials.json)")
	fs.StringVar(&c.Data, "data", "./data", "Latch data directory to read admin-credentials.json from")
	fs.BoolVar(&c.Target.Keep, "keep", false, "keep the apps and resources setup created (default: delete them at the end)")
	fs.StringVar(&c.Mix, "mix", "", "mixed scenario: name=weight,... (e.g. client-credentials=3,refresh=1)")
	fs.IntVar(&c.Load.Concurrency, "concurrency", 16, "closed loop: concurrent requests; open loop: most requests in flight")
	fs.Float64Var(&c.Load.Rate, "rate", 0, "open loop: requests per second on a fixed schedule (0 = closed loop)")
	fs.DurationVar(&c.Load.Warmup, "warmup", 3*time.Second, "warm-up, excluded from the results")
	fs.DurationVar(&c.Load.Duration, "duration", 10*time.Second, "measured duration (after warm-up)")
	fs.Int64Var(&c.Load.Requests, "requests", 0, "measured request count instead of --duration")
	fs.DurationVar(&c.Load.ProgressInterval, "progress", time.Second, "progress line interval (0 = none)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout (a timeout counts as a transport error)")
	fs.StringVar(&c.JSONPath, "json", "", "write the JSON report to this file")
	fs.StringVar(&c.SVGPath, "svg", "", "write the latency-by-percentile plot (SVG) to this file")
	fs.StringVar(&c.Label, "label", "", "free-text label stored in the report (shown by compare)")
	fs.StringVar(&c.Load.Engine, "engine", EngineGoroutines, "load engine: goroutines (one per worker, net/http client) or epoll (event loops on raw sockets, a fraction of the CPU per request; Linux, http://; client-credentials, refresh, org-token, introspect, introspect-jwt, userinfo, token-exchange)")
	fs.DurationVar(&c.Calibrate, "calibrate", 250*time.Millisecond, "time one core signs ES256 before and after the run, to record the machine's speed (0 = skip)")
	fs.BoolVar(&c.AllowRemote, "allow-remote", false, "allow a target that is not localhost/loopback")
}

// ParseConfig parses `latch bench` flags (and one optional positional scenario name).
func ParseConfig(args []string, getenv func(string) string, usageOut io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("latch bench", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	fs.Usage = func() {
		fmt.Fprint(usageOut, benchUsage)
		fs.PrintDefaults()
	}
	c.bindFlags(fs)
	// Accept the scenario name before or after the flags.
	var positional []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = args[:1], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	positional = append(positional, fs.Args()...)
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case len(positional) == 0:
	case len(positional) == 1 && !given["scenario"]:
		c.Scenario = positional[0]
	default:
		return nil, fmt.Errorf("unexpected arguments: %v (give one scenario, before or after the flags)", positional)
	}
	if given["requests"] && given["duration"] {
		return nil, errors.New("give --duration or --requests, not both")
	}
	if given["requests"] {
		c.Load.Duration = 0
	}
	if given["endpoints"] {
		eps, err := parseEndpoints(c.endpoints)
		if err != nil {
			return nil, err
		}
		c.Target.Endpoints = eps
		if !given["issuer"] {
			c.Target.Issuer, c.issuerFromEndpoints = "", true
		}
	}
	if getenv != nil {
		if c.Target.AdminClientID == "" && c.Target.AdminClientSecret == "" {
			c.Target.AdminClientID = getenv("LATCH_ADMIN_CLIENT_ID")
			c.Target.AdminClientSecret = getenv("LATCH_ADMIN_CLIENT_SECRET")
		}
	}
	return c, c.Validate()
}

// Run handles `latch bench ...` and returns the exit code.
func (cmd *Command) Run(ctx context.Context, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "compare":
			return cmd.compare(args[1:])
		case "list":
			for _, s := range Scenarios() {
				fmt.Fprintf(cmd.Stdout, "%-20s %s\n", s.Name, s.Summary)
			}
			return ExitOK
		case "help", "-h", "--help":
			cfg := &Config{}
			fs := flag.NewFlagSet("latch bench", flag.ContinueOnError)
			fs.SetOutput(cmd.Stdout)
			cfg.bindFlags(fs)
			fmt.Fprint(cmd.Stdout, benchUsage)
			fs.PrintDefaults()
			return ExitOK
		}
	}
	cfg, err := ParseConfig(args, cmd.Getenv, cmd.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(cmd.Stderr, "latch bench: %v\n", err)
		return ExitUsage
	}
	rep, err := cmd.run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(cmd.Stderr, "latch bench: %v\n", err)
		return ExitFailed
	}
	code := ExitOK
	switch rep.Status {
	case "interrupted":
		code = ExitFailed
	case "errors":
		code = ExitRequestErrs
	}
	if err := rep.WriteText(cmd.Stdout); err != nil {
		return ExitFailed
	}
	if cfg.JSONPath != "" {
		if err := writeFile(cfg.JSONPath, rep.WriteJSON); err != nil {
			fmt.Fprintf(cmd.Stderr, "latch bench: %v\n", err)
			code = ExitFailed
		}
	}
	if cfg.SVGPath != "" {
		if err := writeSVGOf(cfg.SVGPath, rep); err != nil {
			fmt.Fprintf(cmd.Stderr, "latch bench: %v\n", err)
			code = ExitFailed
		}
	}
	return code
}

func (cmd *Command) logf(format string, args ...any) {
	fmt.Fprintf(cmd.Stderr, format+"\n", args...)
}

// run sets the scenario up, drives the load, tears down, and builds the report.
func (cmd *Command) run(ctx context.Context, cfg *Config) (*Report, error) {
	t := cfg.Target
	// Only client-credentials can do without the admin app (given --client-id); every
	// other scenario creates its own apps and users.
	if t.Kind == "latch" && t.AdminClientID == "" && (t.ClientID == "" || cfg.Scenario != "client-credentials") {
		creds, err := ReadAdminCredentials(cfg.Data)
		switch {
		case err == nil:
			t.AdminClientID, t.AdminClientSecret = creds.ClientID, creds.ClientSecret
		case errors.Is(err, fs.ErrNotExist):
			// newLatchAdmin explains what is missing if setup needs it.
		default:
			return nil, err
		}
	}
	env := &Env{
		Target:  t,
		Client:  NewClient(cfg.Load.Concurrency, cfg.Timeout),
		Log:     cmd.Stderr,
		Mix:     cfg.Mix,
		Workers: cfg.Load.Concurrency,
	}
	defer env.Client.CloseIdleConnections()
	// direct reaches the nodes themselves (their /metrics, the issuer's discovery).
	direct := &http.Client{Transport: env.Client.Transport, CheckRedirect: env.Client.CheckRedirect}
	var spread *endpointTransport
	if len(t.Endpoints) > 0 {
		if cfg.issuerFromEndpoints {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			issuer, err := discoverIssuer(dctx, direct, t.Endpoints[0])
			cancel()
			if err != nil {
				return nil, err
			}
			if !cfg.AllowRemote && !isLoopbackURL(issuer) {
				return nil, fmt.Errorf("the issuer %s (from %s) is not on this machine; pass --allow-remote to load-test another host", issuer, t.Endpoints[0])
			}
			t.Issuer = issuer
			env.Target.Issuer = issuer
		}
		var err error
		if spread, err = newEndpointTransport(env.Client.Transport, t.Issuer, t.Endpoints); err != nil {
			return nil, err
		}
		env.Client.Transport = spread // pinned to the first endpoint until the load
		t.EndpointRotation = endpointRotation
		env.Target.EndpointRotation = endpointRotation
	}
	sc, err := NewScenario(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	var calib *Calibration
	if cfg.Calibrate > 0 {
		calib = &Calibration{ES256PerSecBefore: calibrate(cfg.Calibrate)}
	}
	cmd.logf("latch bench: %s against %s (%s target%s): setting up", cfg.Scenario, t.Issuer, t.Kind, endpointsNote(t.Endpoints))
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = sc.Setup(setupCtx, env)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	teardown := func() error {
		td, ok := sc.(Teardowner)
		if !ok {
			return nil
		}
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return td.Teardown(tctx)
	}

	load := cfg.Load
	load.RequestTimeout = cfg.Timeout
	load.Progress = cmd.Stderr
	if cmd.ProgressTTY != nil {
		load.ProgressTTY = *cmd.ProgressTTY
	} else {
		load.ProgressTTY = IsTerminal(cmd.Stderr)
	}
	rep := &Report{
		Label:       cfg.Label,
		Scenario:    cfg.Scenario,
		Command:     redactArgv(cmd.Argv),
		CommandLine: shellQuote(redactArgv(cmd.Argv)),
		Start:       time.Now().UTC().Truncate(time.Second),
		Machine:     CurrentMachine(cmd.Version),
		Target:      t,
		Load:        loadInfo(cfg),
	}
	if d, ok := sc.(Describer); ok {
		rep.Params = d.Params()
	}
	var probe *hopProbe
	var hopsBefore []*grainCalls
	var hopErrs []error
	if t.Kind == "latch" {
		probe = &hopProbe{client: direct, endpoints: t.Endpoints}
		if len(probe.endpoints) == 0 {
			probe.endpoints = []string{originOf(t.Issuer)}
		}
		hopsBefore, hopErrs = probe.read(ctx)
	}
	cmd.logf("latch bench: running %s, warm-up %s", rep.Load.describe(), cfg.Load.Warmup)
	if spread != nil {
		spread.spread(true)
	}
	m, err := runLoad(ctx, sc, load)
	if spread != nil {
		spread.spread(false)
	}
	if probe != nil && err == nil {
		after, errs := probe.read(context.WithoutCancel(ctx))
		for i := range hopErrs {
			if hopErrs[i] == nil {
				hopErrs[i] = errs[i]
			}
		}
		rep.RemoteHops = remoteHops(probe.endpoints, hopsBefore, after, hopErrs)
	}
	if terr := teardown(); terr != nil {
		cmd.logf("latch bench: warning: teardown: %v", terr)
	}
	if err != nil {
		return nil, err
	}
	rep.fill(m, opsOf(sc))
	if calib != nil && ctx.Err() == nil {
		calib.ES256PerSecAfter = calibrate(cfg.Calibrate)
	}
	rep.Calibration = calib
	return rep, nil
}

func loadInfo(cfg *Config) LoadInfo {
	l := LoadInfo{
		Model:       cfg.Load.Model(),
		Concurrency: cfg.Load.Concurrency,
		Rate:        cfg.Load.Rate,
		Warmup:      cfg.Load.Warmup.String(),
		Requests:    cfg.Load.Requests,
		Timeout:     cfg.Timeout.String(),
		Engine:      engineName(cfg.Load.Engine),
	}
	if cfg.Load.Requests == 0 {
		l.Duration = cfg.Load.Duration.String()
	}
	return l
}

// compare handles `latch bench compare [--svg FILE] a.json b.json [c.json ...]`.
func (cmd *Command) compare(args []string) int {
	fs := flag.NewFlagSet("latch bench compare", flag.ContinueOnError)
	fs.SetOutput(cmd.Stderr)
	svgPath := fs.String("svg", "", "also write every run's latency curve to this SVG file")
	fs.Usage = func() {
		fmt.Fprintf(cmd.Stderr, "usage: latch bench compare [--svg FILE] a.json b.json [c.json ...] (up to %d; ratios are against a)\n", maxCompare)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() < 2 || fs.NArg() > maxCompare {
		fs.Usage()
		return ExitUsage
	}
	runs := make([]NamedReport, fs.NArg())
	for i, p := range fs.Args() {
		r, err := ReadReport(p)
		if err != nil {
			fmt.Fprintf(cmd.Stderr, "latch bench compare: %v\n", err)
			return ExitFailed
		}
		runs[i] = NamedReport{Name: reportName(p, r), R: r}
	}
	if err := Compare(cmd.Stdout, runs); err != nil {
		fmt.Fprintf(cmd.Stderr, "latch bench compare: %v\n", err)
		return ExitFailed
	}
	if *svgPath != "" {
		var series []Series
		var scenarios []string
		for i, x := range runs {
			h, err := x.R.Latency.Decode()
			if err != nil {
				fmt.Fprintf(cmd.Stderr, "latch bench compare: %s: %v\n", fs.Arg(i), err)
				return ExitFailed
			}
			series = append(series, Series{Name: string(rune('a'+i)) + ": " + x.Name, Hist: h})
			scenarios = append(scenarios, x.R.Scenario)
		}
		title := "latch bench compare: " + strings.Join(scenarios, " vs ")
		if err := writeFile(*svgPath, func(w io.Writer) error { return WriteSVG(w, title, series) }); err != nil {
			fmt.Fprintf(cmd.Stderr, "latch bench compare: %v\n", err)
			return ExitFailed
		}
	}
	return ExitOK
}

func reportName(path string, r *Report) string {
	if r.Label != "" {
		return r.Label
	}
	return filepath.Base(path)
}

// writeSVGOf plots a run: its latency curve, and in open loop the service-time curve
// dashed next to it (the gap between them is the coordinated-omission correction).
func writeSVGOf(path string, r *Report) error {
	var series []Series
	h, err := r.Latency.Decode()
	if err != nil {
		return fmt.Errorf("svg: %w", err)
	}
	name := "latency"
	if r.ServiceTime != nil {
		name = "latency (corrected)"
	}
	series = append(series, Series{Name: name, Hist: h})
	if r.ServiceTime != nil {
		if s, err := r.ServiceTime.Decode(); err == nil {
			series = append(series, Series{Name: "service time", Hist: s, Dashed: true})
		}
	}
	for _, o := range r.Ops {
		if oh, err := o.Latency.Decode(); err == nil {
			series = append(series, Series{Name: o.Name, Hist: oh})
		}
	}
	title := fmt.Sprintf("%s, %s: %s req/s", r.Scenario, r.Load.describe(), fmtRate(r.Throughput))
	if r.Errors > 0 {
		title = fmt.Sprintf("ERRORS (%d) -- %s", r.Errors, title)
	}
	return writeFile(path, func(w io.Writer) error { return WriteSVG(w, title, series) })
}

// writeFile writes through a temporary file and renames, so a report file is never half
// written.
func writeFile(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// engineName is what a report records of the engine: nothing for the default.
func engineName(e string) string {
	if e == EngineEpoll {
		return e
	}
	return ""
}
