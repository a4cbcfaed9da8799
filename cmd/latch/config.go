package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/cluster"
	httpapi "github.com/latchid/latch/http"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/outbox"
)

// DefaultCommitDelay is --commit-delay's default: under load, hot-state writes then share
// fewer, larger fsyncs, which costs less CPU than fsyncs back to back (measured with
// `latch bench refresh`); an idle server never waits, since the delay only counts from
// the previous fsync.
const DefaultCommitDelay = 250 * time.Microsecond

// serveConfig is everything `latch serve` takes. Defaults make `latch serve` work with
// no flags: data in ./data, HTTP on 127.0.0.1:3001, one cluster member.
type serveConfig struct {
	Data     string
	HTTP     string
	Endpoint string
	Gossip   string
	// Remoting is the actor-remoting (gRPC) address; empty or port 0: the gossip host
	// with the gossip port + 1 (see clusterAddrs).
	Remoting string
	// Raft is the raft transport address of the replicated directory; empty or port
	// 0: the gossip host with the gossip port + 2.
	Raft string
	// RaftDeadGrace is how long a member declared dead by gossip stays in the
	// directory's raft group before the autopilot removes it.
	RaftDeadGrace time.Duration
	// Shards is the hot-state shard count of a new cluster (0: defaultShards); a node
	// joining or restarting takes the cluster's.
	Shards            uint
	Join              string
	SigningAlg        string
	AdminClientID     string
	AdminClientSecret string
	Durability        string
	LogLevel          string
	// StoreCacheMiB is Pebble's block cache in MiB; 0 = persistence.DefaultCacheSize.
	StoreCacheMiB uint
	// StoreMemTableMiB is the size of one Pebble memtable in MiB; 0 = persistence.DefaultMemTableSize.
	StoreMemTableMiB uint
	// CommitDelay is the shortest time between two WAL fsyncs (group commit window).
	CommitDelay time.Duration
	// Argon2 memory in KiB; 0 = the directory's default (OWASP: 19 MiB, t=2, p=1).
	Argon2MemoryKiB uint
	// SweepInterval is how often expired records are deleted; 0 = one minute.
	SweepInterval time.Duration
	// StopTimeout bounds a graceful stop (SIGTERM, SIGINT) as a whole: past it the
	// process exits at once, as a crash would (nothing acknowledged is lost).
	StopTimeout time.Duration
	// RequestTimeout is the budget of one HTTP request, carried through every grain
	// call and store write it makes.
	RequestTimeout time.Duration
	// GrainIdleTimeout is how long a session, grant, refresh family or interaction
	// grain stays in memory without a message (negative: for ever).
	GrainIdleTimeout time.Duration
	// Back-channel logout delivery (package outbox); 0 = the outbox's defaults: first
	// retry after 1 s, doubling up to 5 min, 40 attempts, given up after 24 h.
	BackchannelBackoff     time.Duration
	BackchannelMaxBackoff  time.Duration
	BackchannelMaxAttempts int
	BackchannelTTL         time.Duration
	// Metrics is where /metrics is served: "" on the HTTP listener, a host:port on a
	// listener of its own, "off" nowhere.
	Metrics string
	// AuditLogs records audit logs (package audit; /api/logs); AuditRetention is
	// their TTL (0 = audit.DefaultRetention, 30 days).
	AuditLogs      bool
	AuditRetention time.Duration

	// hooks lets tests drive the node's clock and observe it; nil in production.
	hooks *serveHooks
}

// bindFlags registers every field on fs; each is also settable as LATCH_<FLAG> (dashes
// become underscores), with the flag winning over the environment.
func (c *serveConfig) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Data, "data", "./data", "data directory (Pebble store, admin credentials)")
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:3001", "HTTP listen address")
	fs.StringVar(&c.Endpoint, "endpoint", "http://localhost:3001", "public base URL; the issuer is <endpoint>/oidc")
	fs.StringVar(&c.Gossip, "gossip", "127.0.0.1:7946", "memberlist gossip bind address (host:port)")
	fs.StringVar(&c.Remoting, "remoting", "", "actor-remoting (gRPC) address host:port, advertised to the other members (default: the gossip host, gossip port + 1)")
	fs.StringVar(&c.Raft, "raft", "", "raft transport address host:port of the replicated directory; advertised to the other members (default: the gossip host, gossip port + 2)")
	fs.DurationVar(&c.RaftDeadGrace, "raft-dead-grace", cluster.DefaultDeadGrace, "how long a member that gossip declared dead (a crash, not a graceful stop) keeps its place in the directory's raft group before it is removed; a node restarted within it rejoins as the same voter")
	fs.StringVar(&c.Join, "join", "", "comma-separated gossip addresses of members to join")
	fs.StringVar(&c.SigningAlg, "signing-alg", "", "JWT signing algorithm: ES256, ES384 or RS256 (default: ES256 for a new cluster; on a restart, the cluster's current key stays unless this is given)")
	fs.StringVar(&c.AdminClientID, "admin-client-id", "", "client id of the bootstrap admin M2M app (generated when empty)")
	fs.StringVar(&c.AdminClientSecret, "admin-client-secret", "", "client secret of the bootstrap admin M2M app (generated when empty)")
	fs.StringVar(&c.Durability, "durability", "sync", "hot-state write durability: sync (fsync before acknowledging) or nosync")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.UintVar(&c.StoreCacheMiB, "store-cache", 0, "Pebble block cache in MiB (0 = 128)")
	fs.UintVar(&c.StoreMemTableMiB, "store-memtable", 0, "Pebble memtable size in MiB, two at most in memory (0 = 64)")
	fs.DurationVar(&c.CommitDelay, "commit-delay", DefaultCommitDelay, "shortest time between two fsyncs of the write-ahead log: writes arriving sooner share the next fsync (0 = none)")
	fs.UintVar(&c.Shards, "shards", defaultShards, "hot-state shards of a new cluster (sessions, grants and refresh families are split over this many Raft groups); fixed when the cluster is founded, ignored afterwards")
	fs.UintVar(&c.Argon2MemoryKiB, "argon2-memory", 0, "Argon2id memory in KiB for password hashes (0 = 19456)")
	fs.DurationVar(&c.GrainIdleTimeout, "grain-idle-timeout", actors.DefaultIdleTimeout, "how long a session, grant, refresh family or interaction stays in memory without a request (its state is on disk; the next request loads it again); negative: for ever")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", httpapi.DefaultRequestTimeout, "budget of one HTTP request, shared by every grain call and store write it makes; past it the request answers 503 temporarily_unavailable")
	fs.DurationVar(&c.StopTimeout, "stop-timeout", defaultStopTimeout, "total budget of a graceful stop (SIGTERM, SIGINT: drain requests, hand over the shards and the directory, leave); past it the process exits at once, as a crash would, losing nothing acknowledged")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", time.Minute, "how often expired sessions, grants, codes, interactions and outbox entries are deleted")
	fs.DurationVar(&c.BackchannelBackoff, "backchannel-backoff", outbox.DefaultBaseBackoff, "delay before the first retry of a back-channel logout (doubles per retry)")
	fs.DurationVar(&c.BackchannelMaxBackoff, "backchannel-max-backoff", outbox.DefaultMaxBackoff, "longest delay between back-channel logout retries")
	fs.IntVar(&c.BackchannelMaxAttempts, "backchannel-max-attempts", outbox.DefaultMaxAttempts, "attempts before a back-channel logout is given up")
	fs.DurationVar(&c.BackchannelTTL, "backchannel-ttl", outbox.DefaultTTL, "age after which an undelivered back-channel logout is given up")
	fs.StringVar(&c.Metrics, "metrics", "", "where Prometheus /metrics is served: empty for the HTTP listener, host:port for a listener of its own, off for nowhere")
	fs.BoolVar(&c.AuditLogs, "audit-logs", true, "record audit logs (sign-in steps, token exchanges, Management API writes), read at /api/logs")
	fs.DurationVar(&c.AuditRetention, "audit-retention", audit.DefaultRetention, "how long an audit log is kept")
}

// applyEnv sets every flag not given on the command line from LATCH_<FLAG>.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := "LATCH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Validate reports every problem at once.
func (c serveConfig) Validate() error {
	var errs []error
	if c.Data == "" {
		errs = append(errs, errors.New("--data must not be empty"))
	}
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("--http %q: %w", c.HTTP, err))
	}
	if c.Metrics != "" && c.Metrics != "off" {
		if _, _, err := net.SplitHostPort(c.Metrics); err != nil {
			errs = append(errs, fmt.Errorf("--metrics %q: want host:port, empty or off: %w", c.Metrics, err))
		}
	}
	if _, err := c.clusterAddrs(); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.TrimSuffix(u.Path, "/") != u.Path {
		errs = append(errs, fmt.Errorf("--endpoint %q must be an http(s) URL without query, fragment or trailing slash", c.Endpoint))
	}
	switch c.SigningAlg {
	case "": // the cluster's (ES256 for a new one)
	case oidcflow.AlgES256, oidcflow.AlgES384, oidcflow.AlgRS256:
	default:
		errs = append(errs, fmt.Errorf("--signing-alg %q: want ES256, ES384 or RS256", c.SigningAlg))
	}
	switch c.Durability {
	case "sync", "nosync":
	default:
		errs = append(errs, fmt.Errorf("--durability %q: want sync or nosync", c.Durability))
	}
	if (c.AdminClientID == "") != (c.AdminClientSecret == "") {
		errs = append(errs, errors.New("--admin-client-id and --admin-client-secret must be set together"))
	}
	if c.AdminClientSecret != "" && len(c.AdminClientSecret) < 16 {
		errs = append(errs, errors.New("--admin-client-secret must be at least 16 characters"))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--sweep-interval", c.SweepInterval}, {"--backchannel-backoff", c.BackchannelBackoff}, {"--commit-delay", c.CommitDelay},
		{"--backchannel-max-backoff", c.BackchannelMaxBackoff}, {"--backchannel-ttl", c.BackchannelTTL}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.flag))
		}
	}
	if c.RaftDeadGrace <= 0 {
		errs = append(errs, errors.New("--raft-dead-grace must be positive"))
	}
	if c.Shards < 1 || c.Shards > 1024 {
		errs = append(errs, errors.New("--shards must be between 1 and 1024"))
	}
	if c.GrainIdleTimeout == 0 {
		errs = append(errs, errors.New("--grain-idle-timeout must not be 0 (negative: never)"))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("--request-timeout must be positive"))
	}
	if c.StopTimeout <= 0 {
		errs = append(errs, errors.New("--stop-timeout must be positive"))
	}
	if c.StoreCacheMiB > 1<<20 {
		errs = append(errs, errors.New("--store-cache must be at most 1048576 MiB"))
	}
	if c.StoreMemTableMiB > 4095 {
		errs = append(errs, errors.New("--store-memtable must be at most 4095 MiB"))
	}
	if c.AuditRetention < 0 {
		errs = append(errs, errors.New("--audit-retention must not be negative"))
	}
	if c.BackchannelMaxAttempts < 0 {
		errs = append(errs, errors.New("--backchannel-max-attempts must not be negative"))
	}
	if c.BackchannelMaxBackoff > 0 && c.BackchannelBackoff > c.BackchannelMaxBackoff {
		errs = append(errs, errors.New("--backchannel-backoff must not exceed --backchannel-max-backoff"))
	}
	for _, j := range c.joinList() {
		if _, _, err := net.SplitHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("--join %q: %w", j, err))
		}
	}
	return errors.Join(errs...)
}

// clusterAddrs are the resolved cluster addresses of a node.
type clusterAddrs struct {
	// Gossip is --gossip as given.
	Gossip string
	// RemotingHost and RemotingPort are --remoting resolved; port 0 (only when the
	// gossip port is 0) picks a free port.
	RemotingHost string
	RemotingPort int
	// Raft is --raft resolved, host:port; its port is 0 only when the gossip port is.
	Raft string
}

// clusterAddrs resolves --gossip, --remoting and --raft. A --remoting or --raft with an
// empty host takes the gossip host, with port 0 (or not given) the gossip port + 1 or
// + 2, so that several nodes on one machine need only distinct --gossip ports spaced
// by 3 or more. Every port is 1..65535 (0 only where it means "derived"), the
// advertised hosts are reachable addresses (not 0.0.0.0), and no two of the HTTP,
// gossip, remoting and raft addresses are the same socket.
func (c serveConfig) clusterAddrs() (clusterAddrs, error) {
	var errs []error
	gHost, gPort, err := splitPort(c.Gossip)
	if err != nil {
		return clusterAddrs{}, fmt.Errorf("--gossip %q: %w", c.Gossip, err)
	}
	if net.ParseIP(gHost) == nil {
		return clusterAddrs{}, fmt.Errorf("--gossip %q: the host must be an IP address", c.Gossip)
	}
	derive := func(flag, v string, offset int) (string, int) {
		host, port := "", 0
		if v != "" {
			var err error
			if host, port, err = splitPort(v); err != nil {
				errs = append(errs, fmt.Errorf("--%s %q: %w", flag, v, err))
				return "", 0
			}
		}
		if host == "" {
			host = gHost
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("--%s: host %s is advertised to the other members and must be reachable; give --%s with a reachable host", flag, host, flag))
		} else if ip == nil && strings.ContainsAny(host, ":/ ") {
			errs = append(errs, fmt.Errorf("--%s: host %q: want an IP address or host name", flag, host))
		}
		if port == 0 && gPort != 0 {
			if port = gPort + offset; port > 65535 {
				errs = append(errs, fmt.Errorf("--%s: the default gossip port + %d is beyond 65535; give --%s", flag, offset, flag))
			}
		}
		return host, port
	}
	a := clusterAddrs{Gossip: c.Gossip}
	a.RemotingHost, a.RemotingPort = derive("remoting", c.Remoting, 1)
	raftHost, raftPort := derive("raft", c.Raft, 2)
	a.Raft = net.JoinHostPort(raftHost, strconv.Itoa(raftPort))
	if len(errs) > 0 {
		return a, errors.Join(errs...)
	}
	named := []struct{ flag, addr string }{
		{"--http", c.HTTP}, {"--gossip", c.Gossip},
		{"--remoting", net.JoinHostPort(a.RemotingHost, strconv.Itoa(a.RemotingPort))}, {"--raft", a.Raft},
	}
	for i := range named {
		for j := i + 1; j < len(named); j++ {
			if cluster.SameAddr(named[i].addr, named[j].addr) {
				errs = append(errs, fmt.Errorf("%s and %s are the same address %s: give each its own port", named[i].flag, named[j].flag, named[j].addr))
			}
		}
	}
	return a, errors.Join(errs...)
}

// splitPort splits host:port with a numeric port in 0..65535 (host may be empty).
func splitPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 1..65535", p)
	}
	return host, port, nil
}

func (c serveConfig) joinList() []string {
	var out []string
	for _, j := range strings.Split(c.Join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			out = append(out, j)
		}
	}
	return out
}

func parseServeConfig(args []string, getenv func(string) string) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("latch serve", flag.ContinueOnError)
	c.bindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	return c, c.Validate()
}
