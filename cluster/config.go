package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultName       = "latch"
	DefaultBindHost   = "127.0.0.1"
	DefaultGossipAddr = "127.0.0.1:7946"

	// DefaultRequestTimeout is the budget of a request whose context has no deadline;
	// `latch serve --request-timeout` sets one budget per HTTP request instead.
	DefaultRequestTimeout = 3 * time.Second
)

// Config is the configuration of one cluster member. The zero value is valid: a single
// member named "latch" on loopback, gossip on 127.0.0.1:7946, a free remoting port.
type Config struct {
	// NodeID is this member's persisted identity (LoadOrCreateNodeID), its memberlist
	// node name: a member restarted with the same NodeID is the same member to the
	// others. Zero draws a random id for this start (tests, embedded single nodes).
	NodeID uint64
	// Name is the cluster name. Members of different clusters never join each other
	// (it is the memberlist label). Default "latch".
	Name string
	// BindHost is the host the actor-remoting server listens on and advertises to the
	// other members, so it must be an address they can reach (not 0.0.0.0).
	// Default 127.0.0.1.
	BindHost string
	// RemotePort is the actor-remoting (gRPC) port; 0 picks a free port (a restarted
	// member then comes back on another address: fix it in production).
	RemotePort int
	// RaftAddr is the raft transport address (host:port) of the replicated directory,
	// advertised in the gossip metadata; empty advertises none.
	RaftAddr string
	// GossipAddr is the memberlist bind address "host:port"; port 0 picks a free port.
	// Default 127.0.0.1:7946.
	GossipAddr string
	// Join lists gossip addresses ("host:port") of members to join. Joining is retried
	// in the background with backoff until one answers, so seeds may start later.
	Join []string
	// Kinds are the grain kinds this member hosts, built with protoactor's
	// cluster.NewKind (its middleware delivers cluster.ClusterInit and reports stopped
	// activations). Their mailboxes run on the member's worker dispatcher
	// (NewWorkerDispatcher), which Node.Stop joins; a dispatcher named in their props is
	// replaced.
	Kinds []*cluster.Kind
	// Logger receives Latch's cluster logs and, filtered by LibraryLogLevel, the logs of
	// protoactor-go and memberlist. Nil discards them.
	Logger *slog.Logger
	// LibraryLogLevel is the minimum level of protoactor-go and memberlist logs that
	// reach Logger. Nil means slog.LevelWarn: both libraries log routine events
	// (topology updates, gossip state, connections) at Info, and protoactor logs an
	// expected dead peer at Error.
	LibraryLogLevel slog.Leveler
	// RequestTimeout bounds a grain request whose context has no deadline.
	// Default 3 s (DefaultRequestTimeout).
	RequestTimeout time.Duration
	// Observer counts grain calls and activations (metrics); nil counts nothing.
	Observer Observer
	// Gossip tunes memberlist's failure detector; zero fields keep
	// memberlist.DefaultLocalConfig values.
	Gossip GossipTiming
}

// GossipTiming tunes memberlist. A crashed member leaves placement after about
// ProbeInterval + ProbeTimeout + SuspicionMult * ProbeInterval * max(1, log10(n)).
type GossipTiming struct {
	ProbeInterval       time.Duration
	ProbeTimeout        time.Duration
	GossipInterval      time.Duration
	PushPullInterval    time.Duration
	TCPTimeout          time.Duration
	GossipToTheDeadTime time.Duration
	SuspicionMult       int
	// LeaveTimeout bounds how long a graceful Stop waits for its leave to be gossiped.
	// Default 1 s.
	LeaveTimeout time.Duration
	// JoinRetryMax caps the backoff between join attempts. Default 5 s.
	JoinRetryMax time.Duration
	// ReconnectInterval is how often a member tries to join again the members it saw
	// die (as serf does): a member restarted without --join, or on the other side of a
	// healed partition, is otherwise never gossiped with again. Default 5 s.
	ReconnectInterval time.Duration
	// ReconnectTimeout is how long after its death a member is tried. Default 24 h.
	ReconnectTimeout time.Duration
}

// FastGossip returns millisecond timings for tests and single-host demos: members notice
// a crash within about 100 ms on loopback. Not for real networks.
func FastGossip() GossipTiming {
	return GossipTiming{
		ProbeInterval:       20 * time.Millisecond,
		ProbeTimeout:        10 * time.Millisecond,
		GossipInterval:      5 * time.Millisecond,
		PushPullInterval:    200 * time.Millisecond,
		TCPTimeout:          200 * time.Millisecond,
		GossipToTheDeadTime: 200 * time.Millisecond,
		SuspicionMult:       2,
		LeaveTimeout:        200 * time.Millisecond,
		JoinRetryMax:        200 * time.Millisecond,
		ReconnectInterval:   200 * time.Millisecond,
	}
}

// Validate reports every problem of c at once (errors.Join). Zero values are valid and
// mean "default".
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("cluster config: "+format, args...))
	}
	if len(c.Name) > 64 || strings.ContainsFunc(c.Name, func(r rune) bool { return r <= ' ' || r > '~' }) {
		bad("name %q: want at most 64 printable ASCII characters without spaces", c.Name)
	}
	if c.BindHost != "" {
		if ip := net.ParseIP(c.BindHost); ip != nil && ip.IsUnspecified() {
			bad("bind host %q: it is advertised to other members, use a reachable address", c.BindHost)
		} else if ip == nil && strings.ContainsAny(c.BindHost, ":/ ") {
			bad("bind host %q: want an IP address or host name", c.BindHost)
		}
	}
	if c.RemotePort < 0 || c.RemotePort > 65535 {
		bad("remote port %d: want 0..65535", c.RemotePort)
	}
	if c.GossipAddr != "" {
		if _, _, err := splitGossipAddr(c.GossipAddr); err != nil {
			bad("gossip address %q: %v", c.GossipAddr, err)
		}
	}
	if c.RaftAddr != "" {
		if host, port, err := net.SplitHostPort(c.RaftAddr); err != nil || host == "" || port == "" {
			bad("raft address %q: want host:port", c.RaftAddr)
		}
	}
	if err := c.checkDistinctAddrs(); err != nil {
		bad("%v", err)
	}
	for _, j := range c.Join {
		host, port, err := net.SplitHostPort(j)
		if err != nil || host == "" || port == "" {
			bad("join address %q: want host:port", j)
		}
	}
	seen := map[string]bool{}
	host := c.BindHost
	if host == "" {
		host = DefaultBindHost
	}
	// NodeMeta: address, node_id (fixed64), system_id (a 22-character shortuuid) and
	// raft_address, each with its tag and length, and leaving.
	metaSize := 2 + len(host) + len(":65535") + 9 + 2 + 22 + 2 + len(c.RaftAddr) + 2
	for i, k := range c.Kinds {
		switch {
		case k == nil:
			bad("kind #%d is nil", i)
			continue
		case k.Kind == "":
			bad("kind #%d has no name", i)
		case seen[k.Kind]:
			bad("kind %q is listed twice", k.Kind)
		}
		if k.Props == nil {
			bad("kind %q has no props", k.Kind)
		}
		seen[k.Kind] = true
		metaSize += len(k.Kind) + 2
	}
	if metaSize+len(cluster.TopicActorKind)+2 > memberlist.MetaMaxSize {
		bad("kinds: their names exceed the %d-byte gossip metadata limit", memberlist.MetaMaxSize)
	}
	if c.RequestTimeout < 0 {
		bad("request timeout %v is negative", c.RequestTimeout)
	}
	g := c.Gossip
	for name, d := range map[string]time.Duration{
		"probe interval": g.ProbeInterval, "probe timeout": g.ProbeTimeout,
		"gossip interval": g.GossipInterval, "push/pull interval": g.PushPullInterval,
		"TCP timeout": g.TCPTimeout, "gossip-to-the-dead time": g.GossipToTheDeadTime,
		"leave timeout": g.LeaveTimeout, "join retry max": g.JoinRetryMax,
		"reconnect interval": g.ReconnectInterval, "reconnect timeout": g.ReconnectTimeout,
	} {
		if d < 0 {
			bad("gossip %s %v is negative", name, d)
		}
	}
	if g.SuspicionMult < 0 {
		bad("gossip suspicion multiplier %d is negative", g.SuspicionMult)
	}
	if g.ProbeInterval > 0 && g.ProbeTimeout >= g.ProbeInterval {
		bad("gossip probe timeout %v must be shorter than the probe interval %v", g.ProbeTimeout, g.ProbeInterval)
	}
	return errors.Join(errs...)
}

// checkDistinctAddrs reports two of the remoting, gossip and raft addresses that are
// the same host and port (a port 0 is free-picked and never collides).
func (c Config) checkDistinctAddrs() error {
	host := c.BindHost
	if host == "" {
		host = DefaultBindHost
	}
	gossip := c.GossipAddr
	if gossip == "" {
		gossip = DefaultGossipAddr
	}
	addrs := []struct{ name, addr string }{
		{"remoting", net.JoinHostPort(host, strconv.Itoa(c.RemotePort))},
		{"gossip", gossip},
		{"raft", c.RaftAddr},
	}
	var errs []error
	for i := range addrs {
		for j := i + 1; j < len(addrs); j++ {
			if SameAddr(addrs[i].addr, addrs[j].addr) {
				errs = append(errs, fmt.Errorf("%s and %s addresses are both %s", addrs[i].name, addrs[j].name, addrs[i].addr))
			}
		}
	}
	return errors.Join(errs...)
}

// SameAddr reports whether two host:port addresses name the same listening socket:
// same non-zero port and same host, where an unspecified host (0.0.0.0, ::, "")
// overlaps every host.
func SameAddr(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb || pa == "0" || pa == "" {
		return false
	}
	unspecified := func(h string) bool {
		ip := net.ParseIP(h)
		return h == "" || (ip != nil && ip.IsUnspecified())
	}
	if unspecified(ha) || unspecified(hb) {
		return true
	}
	if ipa, ipb := net.ParseIP(ha), net.ParseIP(hb); ipa != nil && ipb != nil {
		return ipa.Equal(ipb)
	}
	return strings.EqualFold(ha, hb)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.BindHost == "" {
		c.BindHost = DefaultBindHost
	}
	if c.GossipAddr == "" {
		c.GossipAddr = DefaultGossipAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.LibraryLogLevel == nil {
		c.LibraryLogLevel = slog.LevelWarn
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Gossip.LeaveTimeout == 0 {
		c.Gossip.LeaveTimeout = time.Second
	}
	if c.Gossip.ReconnectInterval == 0 {
		c.Gossip.ReconnectInterval = 5 * time.Second
	}
	if c.Gossip.ReconnectTimeout == 0 {
		c.Gossip.ReconnectTimeout = 24 * time.Hour
	}
	if c.Gossip.JoinRetryMax == 0 {
		c.Gossip.JoinRetryMax = 5 * time.Second
	}
	return c
}

// memberlistConfig returns memberlist.DefaultLocalConfig with c's non-zero timings.
func (g GossipTiming) memberlistConfig() *memberlist.Config {
	mc := memberlist.DefaultLocalConfig()
	set := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	set(&mc.ProbeInterval, g.ProbeInterval)
	set(&mc.ProbeTimeout, g.ProbeTimeout)
	set(&mc.GossipInterval, g.GossipInterval)
	set(&mc.PushPullInterval, g.PushPullInterval)
	set(&mc.TCPTimeout, g.TCPTimeout)
	set(&mc.GossipToTheDeadTime, g.GossipToTheDeadTime)
	if g.SuspicionMult > 0 {
		mc.SuspicionMult = g.SuspicionMult
	}
	return mc
}

// splitGossipAddr parses a memberlist bind address: an IP (memberlist binds IPs only)
// and a port in 0..65535.
func splitGossipAddr(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("host %q is not an IP address", host)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q: want 0..65535", portStr)
	}
	return host, port, nil
}

// Observer watches a member's grain traffic, for metrics: cmd/latch adapts it to
// Prometheus (metrics.Grains), and this package imports no metrics library. Its methods
// run on the caller's goroutine or under the activation lock: cheap, never blocking.
type Observer interface {
	// GrainCall reports one Request of a grain of kind, answered by an activation on
	// this member (local) or on another one, and whether it failed.
	GrainCall(kind string, local, failed bool)
	// Activated reports a grain of kind activated on this member.
	Activated(kind string)
	// Deactivated reports an activation of kind on this member gone: passivated,
	// stopped because its grain moved, or failed.
	Deactivated(kind string)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) GrainCall(string, bool, bool) {}
func (nopObserver) Activated(string)             {}
func (nopObserver) Deactivated(string)           {}
