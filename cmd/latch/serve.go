package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/customjwt"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
	httpapi "github.com/latchid/latch/http"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// serve runs one node until ctx is done. When ln is nil it listens on cfg.HTTP.
func serve(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer, ln net.Listener) (err error) {
	log := newLogger(stderr, cfg.LogLevel)
	now := time.Now
	if cfg.hooks != nil && cfg.hooks.now != nil {
		now = cfg.hooks.now
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	store, err := persistence.OpenPebble(persistence.PebbleConfig{
		Dir:          filepath.Join(cfg.Data, "pebble"),
		NoSync:       cfg.Durability == "nosync",
		CacheSize:    int64(cfg.StoreCacheMiB) << 20,
		MemTableSize: int64(cfg.StoreMemTableMiB) << 20,
		CommitDelay:  cfg.CommitDelay,
		Now:          now,
		Logger:       log,
	})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()

	// The node id is read once the store is open: Pebble's lock keeps a second process
	// off this data directory, so only one can create it.
	nodeID, created, err := cluster.LoadOrCreateNodeID(cfg.Data, rand.Reader)
	if err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	log.Info("node identity", "node_id", cluster.FormatNodeID(nodeID), "created", created,
		"file", filepath.Join(cfg.Data, cluster.NodeIDFile))

	dir, err := directory.Open(ctx, directory.Config{
		Store:  store,
		Now:    now,
		Rand:   rand.Reader,
		Logger: log,
		Argon2: directory.Argon2Params{Memory: uint32(cfg.Argon2MemoryKiB)},
	})
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	addrs, err := cfg.clusterAddrs()
	if err != nil {
		return err
	}
	// The replicated directory: Raft group 1 applies the cluster's directory writes to
	// this node's directory, and every write of this node goes through it. The raft
	// transport listens before the cluster member starts, so that the member advertises
	// the real address (a free-picked port included). It stops after the member and
	// before the store (deferred calls run in reverse).
	om := newOpsMetrics(cfg, store)
	draft, err := startDirectoryRaft(cfg, nodeID, addrs.Raft, dir, om.raft(), log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := draft.Stop(); cerr != nil && err == nil {
			err = fmt.Errorf("close raft log: %w", cerr)
		}
	}()
	dir.Replicate(draft)
	om.registerRaftLog(draft.log)

	// One lifetime policy for the flows (op) and the grains; the grains check an
	// account's suspension through the directory without importing it.
	lifetimes := oidcflow.DefaultLifetimes()
	// Grains reach each other through the member, which exists only once started.
	peers := actors.NewPeers()
	// Grains keep their state in the hot-state shards, which start once the member runs
	// (they follow its membership): grainStore forwards to them from then on.
	grains := newGrainStore(store)
	// A restarted node also joins the members it last saw (rejoin.go): the founding
	// node has no --join, and would otherwise come back on its own.
	join := cfg.joinList()
	if draft.start == raftRestart {
		saved, err := loadGossipPeers(cfg.Data)
		if err != nil {
			log.Warn("cannot read the cluster's last known members", "file", filepath.Join(cfg.Data, gossipPeersFile), "err", err)
		}
		if join = rejoinSeeds(join, saved, cfg.Gossip); len(saved) > 0 {
			log.Info("rejoining the cluster's last known members", "seeds", join)
		}
	}
	node, err := cluster.Start(ctx, cluster.Config{
		NodeID:     nodeID,
		BindHost:   addrs.RemotingHost,
		RemotePort: addrs.RemotingPort,
		RaftAddr:   draft.host.Addr(),
		GossipAddr: cfg.Gossip,
		Join:       join,
		Kinds: actors.Kinds(grains, log, actors.Options{Peers: peers, Rand: rand.Reader, Now: now,
			Lifetimes: lifetimes, ActiveAccount: op.ActiveAccount(dir),
			OrganizationAccess: op.OrganizationAccess(dir), AppAccess: op.AppAccess(dir), RequestTimeout: cfg.RequestTimeout,
			IdleTimeout: cfg.GrainIdleTimeout, Serving: grains.serving}),
		Logger:         log,
		RequestTimeout: cfg.RequestTimeout,
		Observer:       om.grains(),
	})
	if err != nil {
		peers.Stop()
		return fmt.Errorf("start cluster member: %w", err)
	}
	peers.Bind(node)
	grains.bindNode(node)
	recordCtx, stopRecord := context.WithCancel(context.Background())
	recordDone := make(chan struct{})
	go func() { recordGossipPeers(recordCtx, node, cfg.Data, nodeID, log); close(recordDone) }()
	defer func() { stopRecord(); <-recordDone }()
	// Peers' deliveries stop (pending retries abandoned, goroutines joined) before the
	// member, and both before the store closes.
	defer func() {
		peers.Stop()
		_ = node.Stop(true)
	}()

	// The autopilot: while this node leads group 1, gossip membership drives its
	// voters (cluster.Autopilot). It stops before the member leaves.
	pilot, err := cluster.NewAutopilot(cluster.AutopilotConfig{
		Self: nodeID, Group: draft.group, Members: node, Peers: draft.host, DeadGrace: cfg.RaftDeadGrace, Now: now, Logger: log,
	})
	if err != nil {
		return err
	}
	pilotCtx, stopPilot := context.WithCancel(context.Background())
	pilotDone := make(chan struct{})
	go func() { pilot.Run(pilotCtx); close(pilotDone) }()
	defer func() { stopPilot(); <-pilotDone }()
	// Readiness latches "caught up" the first time it holds, whether or not a load
	// balancer asked /readyz then: a node that caught up keeps serving reads and tokens
	// when the cluster later loses its quorum.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan struct{})
	go func() { draft.watchCaughtUp(watchCtx, dir); close(watchDone) }()
	defer func() { stopWatch(); <-watchDone }()

	// HTTP serves from here on, before the directory caught up: /healthz answers, and
	// /readyz says what is missing until the full handler takes over (handler).
	ready := readiness(nodeID, node, store, draft, dir, log)
	if ln == nil {
		ln, err = net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	var handler atomic.Pointer[http.Handler]
	starting := startingHandler(ready)
	handler.Store(&starting)
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	defer hs.Close() // an early return; after Shutdown it does nothing
	// /metrics on its own listener (--metrics host:port) serves from here on.
	stopMetrics, err := om.serveSeparately(log)
	if err != nil {
		return err
	}
	defer stopMetrics()

	// The directory's first records (admin application, signing key) are written once
	// per cluster, by the node that bootstrapped it; a joining node takes them from the
	// cluster.
	mayInit, err := draft.mayInitDirectory(ctx, dir, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	if mayInit {
		if err := bootstrapAdmin(ctx, dir, cfg, stdout); err != nil {
			return err
		}
		alg := cfg.SigningAlg
		if alg == "" {
			if cur, ok := dir.CurrentSigningKey(); ok {
				alg = cur.Alg // a restarted single node keeps its key
			} else {
				alg = oidcflow.AlgES256
			}
		}
		if err := op.EnsureSigningKey(ctx, dir, alg, log); err != nil {
			return err
		}
	} else if draft.start == raftRestart && dir.Ready() {
		// A restart applies the flags given that change the directory, as a single node
		// did: --admin-client-secret rotates the admin secret (directory.Bootstrap), a
		// --signing-alg other than the current key's rotates the signing key; nothing is
		// written when they match, and without --signing-alg a key rotated through the
		// API stays. Any node may: the writes go through the leader. Without a quorum
		// the node starts anyway.
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if cfg.AdminClientSecret != "" {
			if err := bootstrapAdmin(bctx, dir, cfg, stdout); err != nil {
				log.Warn("admin credentials from the flags not applied", "err", err)
			}
		}
		if cfg.SigningAlg != "" {
			if err := op.EnsureSigningKey(bctx, dir, cfg.SigningAlg, log); err != nil {
				log.Warn("--signing-alg not applied", "err", err)
			}
		}
		cancel()
	}
	keys := op.NewDirectoryKeys(dir, log) // follows key rotations live

	// The hot-state shards: sessions, grants, refresh families, interactions, the
	// throttle and the outbox live in Raft groups whose leaders host their grains. They
	// stop before the member and the raft host (deferred calls run in reverse).
	hot, err := startHotState(ctx, cfg, nodeID, draft, dir, node, store, now, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("hot-state shards: %w", err)
	}
	grains.bind(hot)
	defer hot.Stop(false, log)

	// ---- audit logs (package audit; README "Audit logs") ----
	// Entries are batched off the request path, one store Apply per batch, into the
	// hot-state shards (a batch shares one routing key, so one shard). Close flushes
	// the last batch: it runs after the HTTP server stopped and before the shards stop
	// (deferred calls run in reverse).
	// The writer also records the webhooks' delivery logs (TriggerHook.<event>, read by
	// /api/hooks/{id}/recent-logs), so it runs even with --audit-logs=false; it is
	// created before the outbox, whose attempts it records, and closed after it stops.
	aw, err := audit.NewWriter(audit.WriterConfig{Store: grains, Retention: cfg.AuditRetention, Now: now, Rand: rand.Reader, Logger: log})
	if err != nil {
		return err
	}
	defer aw.Close()
	var auditLog httpapi.AuditLog
	if cfg.AuditLogs {
		auditLog = aw
	}
	auditLogs := audit.Reader{Store: clusterScanStore{grains}} // every node lists the cluster's logs; readable with --audit-logs=false too
	// ---- end audit logs ----

	// Back-channel logouts: queued durably in the store by the logout, delivered by a
	// worker that also picks up what an earlier run left. It stops after the HTTP
	// server (a logout finishing during shutdown still queues) and before the store
	// closes (deferred calls run in reverse).
	logouts, err := outbox.New(outbox.Config{
		// Entries live in the shards; each is delivered by its shard's leader, and by
		// the next leader if that one dies.
		Store:        grains,
		Owns:         func(key string) bool { return hot.owns(outbox.Kind, key) },
		PollInterval: outboxPoll,
		Signer:       keys,
		Now:          now,
		Rand:         rand.Reader,
		Logger:       log,
		BaseBackoff:  cfg.BackchannelBackoff,
		MaxBackoff:   cfg.BackchannelMaxBackoff,
		MaxAttempts:  cfg.BackchannelMaxAttempts,
		TTL:          cfg.BackchannelTTL,
		// Webhooks (package hooks; README "Webhooks") share the queue: each attempt
		// looks its hook up in the directory and is logged as TriggerHook.<event>.
		Webhooks:         hooks.Targets{Hooks: dir},
		OnWebhookAttempt: hooks.DeliveryLog(aw),
	})
	if err != nil {
		return err
	}
	om.registerOutbox(logouts)
	webhooks, err := hooks.New(hooks.Config{Hooks: dir, Queue: logouts, Now: now, Logger: log})
	if err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan struct{})
	go func() { logouts.Run(workerCtx); close(workerDone) }()
	defer func() { stopWorker(); <-workerDone }()

	client := actors.NewClient(node)
	tokens := actors.NewTokens(client)
	flows, err := op.New(op.Config{
		Issuer:       cfg.Endpoint + "/oidc",
		Directory:    dir,
		Keys:         keys,
		Lifetimes:    lifetimes,
		Grants:       tokens,
		AccessTokens: tokens,
		Families:     tokens,
		Logger:       log,
		Now:          now,
		Rand:         rand.Reader,
		Claims:       &customjwt.Customizer{Dir: dir, Log: log}, // Logto's custom JWT
	})
	if err != nil {
		return err
	}

	issuer := cfg.Endpoint + "/oidc"
	srv, err := httpapi.New(httpapi.Config{
		Endpoint:  cfg.Endpoint,
		Directory: dir,
		Keys:      keys,
		OP:        flows,
		// Sign-in lockouts outlive a restart (records of httpapi.ThrottleKind).
		ThrottleStore: grains,
		// Verification codes and their send counters (passcode.Kind, passcode.RateKind)
		// are hot state: they live in the shards.
		VerificationCodes: grains,
		Browser: &op.Browser{
			Issuer: issuer, Directory: dir, Keys: keys, Lifetimes: lifetimes,
			Sessions: client.BrowserSessions(), Grants: client.BrowserGrants(),
			Interactions: client.BrowserInteractions(), Steps: client.BrowserInteractions(),
			Logouts: logouts, Now: now, Rand: rand.Reader, Logger: log,
		},
		Sessions: &op.Sessions{
			Issuer: issuer, Directory: dir,
			Accounts: client.AccountAdmin(), Grants: client.BrowserGrants(),
			Logouts: logouts, Logger: log,
		},
		Status: func(r *http.Request) (any, error) {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			// The members and the raft status answer even when the grain ping does not
			// (its grain may live on a node that just died): they are what an operator
			// looks at during a failover.
			st := nodeStatus{Node: cluster.FormatNodeID(nodeID), Members: node.Nodes()}
			rs := draft.status(dir)
			st.Raft = &rs
			st.Shards = hot.status()
			pong, err := actors.Ping(ctx, node, "status")
			if err != nil {
				st.PingError = err.Error()
				pong = &msg.Pong{}
			}
			st.Pong = pong
			return st, err // /api/status: 503 on err; /api/cluster: the report
		},
		Readiness:      ready,
		Metrics:        om.http(),
		MetricsHandler: om.handlerOnHTTP(),
		RequestTimeout: cfg.RequestTimeout,
		AuditLog:       auditLog,  // audit logs (block above)
		AuditLogs:      auditLogs, // audit logs (block above)
		Webhooks:       webhooks,  // webhooks (outbox block above)
		Logger:         log,
		Now:            now,
		Rand:           rand.Reader,
	})
	if err != nil {
		return err
	}

	interval := cfg.SweepInterval
	if interval <= 0 {
		interval = time.Minute
	}
	rt := &nodeRuntime{
		Actors:      client,
		Backchannel: logouts,
		Gauges:      func(ctx context.Context) (map[string]int, error) { return liveCounts(ctx, grains, now()) },
		Swept:       new(atomic.Int64),
		Store:       grains,
	}
	// The sweeper is joined before the store closes (deferred calls run in reverse).
	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	sweep := func(ctx context.Context) (int, error) {
		n, err := store.SweepExpired(ctx) // the node's own records (not the shards')
		m, herr := hot.SweepExpired(ctx)  // the shards this node leads, through their logs
		return n + m, errors.Join(err, herr)
	}
	go func() { sweepExpired(sweepCtx, sweep, interval, rt, log); close(sweepDone) }()
	defer func() { stopSweep(); <-sweepDone }()

	full := srv.Handler()
	handler.Store(&full)
	log.Info("latch serving", "http", ln.Addr().String(), "issuer", srv.Issuer(), "data", cfg.Data, "signing_alg", keys.Alg())
	if cfg.hooks != nil && cfg.hooks.started != nil {
		cfg.hooks.started(rt)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http server", "err", err)
	}
	// Leaving gracefully: no more membership changes from here; tell the others this is
	// a leave; hand the directory's leadership to another voter and leave its voters (the
	// new leader's autopilot would also remove this node once the leave is gossiped, but
	// gossip does not order the leave after the announcement); then (deferred) leave the
	// gossip.
	stopPilot()
	<-pilotDone
	node.AnnounceLeaving()
	hot.handOver(log) // hands the shards this node leads to other voters; they stop (deferred) after the audit log's last batch and the outbox
	draft.transferLeadership(context.Background(), log)
	draft.leave(context.Background(), log)
	return nil
}

// nodeStatus is /api/cluster's body: the grain ping's result, this node's id, the
// live members as gossip sees them, by node id, and the directory's raft group as this
// node sees it.
type nodeStatus struct {
	*msg.Pong
	Node    string             `json:"node"`
	Members []cluster.NodeInfo `json:"members"`
	Raft    *raftStatus        `json:"raft,omitempty"`
	// Shards: the hot-state shards as this node holds them.
	Shards *shardStatus `json:"shards,omitempty"`
	// PingError says why the grain ping failed (the rest of the status still holds).
	PingError string `json:"pingError,omitempty"`
}

// readyProbeKind is the store kind /readyz reads (never written): a read of an absent
// record exercises the store without a write per probe.
const readyProbeKind = "latch.readyz"

// readiness backs /readyz. The HTTP server starts only after the store opened, the
// directory loaded and the cluster member started, so what is left to check is that
// the member joined its cluster, the store still answers, and the directory caught up:
// this node is a member of the directory's raft group, knows its leader, applied what
// it heard was committed, and has the admin application and a signing key.
func readiness(nodeID uint64, node *cluster.Node, store persistence.Store, draft *directoryRaft, dir *directory.Directory, log *slog.Logger) httpapi.Readiness {
	id := cluster.FormatNodeID(nodeID)
	return func(ctx context.Context) httpapi.ReadinessReport {
		rep := httpapi.ReadinessReport{Node: id}
		notReady := map[string]string{}
		if !node.Joined() {
			notReady["cluster"] = "not joined yet: no member of --join has answered"
		}
		if why := draft.directoryReadiness(dir); why != "" {
			notReady["directory"] = why
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := store.Get(ctx, readyProbeKind, "probe"); err != nil && !errors.Is(err, persistence.ErrNotFound) {
			log.Warn("readiness: store read failed", "err", err)
			notReady["store"] = "store read failed"
		}
		if len(notReady) > 0 {
			rep.NotReady = notReady
		}
		return rep
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// adminCredentials is <data>/admin-credentials.json, written once (mode 0600) when the
// bootstrap admin app's credentials were generated.
type adminCredentials struct {
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	TokenEndpoint string `json:"tokenEndpoint"`
	Resource      string `json:"resource"`
	Scope         string `json:"scope"`
}

func bootstrapAdmin(ctx context.Context, dir *directory.Directory, cfg serveConfig, stdout io.Writer) error {
	res, err := dir.Bootstrap(ctx, cfg.AdminClientID, cfg.AdminClientSecret)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := dir.EnsureDemoApp(ctx, cfg.Endpoint); err != nil { // Logto's built-in demo-app (http/demo.go)
		return fmt.Errorf("bootstrap: demo app: %w", err)
	}
	if !res.Created || cfg.AdminClientSecret != "" {
		return nil
	}
	creds := adminCredentials{
		ClientID:      res.ClientID,
		ClientSecret:  res.ClientSecret,
		TokenEndpoint: cfg.Endpoint + "/oidc/token",
		Resource:      directory.ManagementAPIIndicator,
		Scope:         directory.ManagementAPIScopeAll,
	}
	b, _ := json.MarshalIndent(creds, "", "  ")
	path := filepath.Join(cfg.Data, "admin-credentials.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(stdout, "Created the admin application (shown once; also saved to %s, mode 0600):\n  client id:     %s\n  client secret: %s\n",
		path, res.ClientID, res.ClientSecret)
	return nil
}
