// Package cluster runs a Latch process as a member of a protoactor-go cluster: actor
// remoting (gRPC), membership by hashicorp/memberlist gossip, and Latch's own placement
// (rendezvous hashing over the live members, owner + replicas) and identity lookup.
//
// Grains are addressed by kind and identity. Node.Request finds the grain's owner,
// activates it there if needed and waits for the reply within the caller's deadline.
// Grains that move (a member joined, left or died) restart empty on their new owner and
// reload their state from the store: there is no in-memory handoff.
//
// What this package does about protoactor-go (v0.0.0-20240822202345-3c0e61ca19c9):
//   - Cluster.StartMember sleeps 1 s, so Start takes a little over 1 s, and it panics
//     on errors; Start checks ports first and recovers the rest into an error.
//   - Its graceful Cluster.Shutdown sleeps 2 s and can wait 10 s on gRPC; Node.Stop
//     does its own graceful sequence (memberlist leave, drain grains) in milliseconds.
//   - Its MemberList and gossip are not used (see gossipProvider): feeding a leaving
//     member to MemberList writes remote.BlockList, which its readers access without a
//     lock. Membership is memberlist's, placement is Placement.
//   - Its Future is replaced by a channel-backed reply process (see ask).
//   - A message of a protobuf type the receiver does not link would crash the
//     receiver; guard.go makes it an Unsupported reply.
//   - remote.Start replaces grpc-go's process-wide logger (grpclog.SetLoggerV2)
//     without synchronization, so two members running in one process are a data race:
//     run one member per process at a time (multi-member tests use clustertest).
//   - It logs routine events at Info and an expected dead peer at Error;
//     Config.LibraryLogLevel (default Warn) filters it and memberlist. A grain panic,
//     which it logs at Info only, is logged at Error with its stack by Latch.
package cluster

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
)

// readyTimeout bounds how long Start waits for the member to see itself in the
// topology after protoactor's StartMember returned.
const readyTimeout = 10 * time.Second

// grainDrainTimeout bounds how long a graceful Stop waits for grains to finish the
// messages already in their mailboxes.
const grainDrainTimeout = 5 * time.Second

// Node is one running cluster member. Its methods are safe for concurrent use.
type Node struct {
	cfg      Config
	logger   *slog.Logger
	system   *actor.ActorSystem
	cluster  *cluster.Cluster
	provider *gossipProvider
	lookup   *identityLookup
	// dispatcher runs the mailboxes of every grain kind of this member; Stop joins its
	// workers.
	dispatcher *workerDispatcher

	stopOnce sync.Once
	stopErr  error
}

// Start starts a member: a new actor system with a fresh random id, remoting on
// BindHost:RemotePort, memberlist gossip on GossipAddr joining cfg.Join in the
// background, and Latch's placement. It returns once the member sees itself in the
// cluster topology (a little over 1 s: protoactor sleeps in StartMember). An invalid
// config, a port in use or a canceled ctx return an error, with the ports released.
//
// Run one member per process at a time: protoactor's remoting start writes grpc-go's
// process-wide logger, which the gRPC goroutines of a member still running read (a
// data race; a member fully stopped before the next Start is fine).
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.NodeID == 0 {
		var b [8]byte
		for cfg.NodeID == 0 {
			_, _ = crand.Read(b[:]) // never fails (crypto/rand)
			cfg.NodeID = binary.BigEndian.Uint64(b[:])
		}
	}
	if err := checkPortsFree(cfg); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	logger := cfg.Logger
	libLogger := slog.New(minLevel{min: cfg.LibraryLogLevel, next: logger.Handler()})
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
		return libLogger.With("lib", "protoactor", "member", s.ID)
	}))
	logger = logger.With("node_id", FormatNodeID(cfg.NodeID), "member", system.ID)

	// Every kind's grains run on one worker dispatcher of the member (whatever
	// dispatcher their props name), so that Stop can stop and join its goroutines.
	d := NewWorkerDispatcher(MailboxThroughput, WorkerIdleTimeout).(*workerDispatcher)
	kinds := make([]*cluster.Kind, len(cfg.Kinds))
	for i, k := range cfg.Kinds {
		kinds[i] = &cluster.Kind{
			Kind: k.Kind,
			Props: k.Props.Clone(actor.WithDispatcher(d),
				actor.WithReceiverMiddleware(unsupportedMiddleware, panicLogMiddleware(logger))),
			StrategyBuilder: k.StrategyBuilder,
		}
	}
	remoteCfg := remote.Configure(cfg.BindHost, cfg.RemotePort,
		remote.WithServerOptions(grpc.ChainStreamInterceptor(guardInterceptor(logger))))
	lookup := newIdentityLookup(logger, cfg.RequestTimeout, cfg.Observer, cfg.NodeID)
	provider := newGossipProvider(cfg, logger, libLogger.With("lib", "memberlist"), lookup.applyTopology)
	lookup.nodes = provider.nodeInfos
	c := cluster.New(system, cluster.Configure(cfg.Name, provider, lookup, remoteCfg,
		cluster.WithKinds(kinds...),
		cluster.WithRequestTimeout(cfg.RequestTimeout)))

	n := &Node{cfg: cfg, logger: logger, system: system, cluster: c, provider: provider, lookup: lookup, dispatcher: d}
	began := time.Now()
	if err := startMember(c); err != nil {
		n.abort()
		return nil, err
	}
	// protoactor's gossip would only ever see this member (its MemberList is not fed);
	// stop its 300 ms loop.
	c.Gossip.Shutdown()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-lookup.ready:
	case <-ctx.Done():
		n.abort()
		return nil, ctx.Err()
	case <-timer.C:
		n.abort()
		return nil, fmt.Errorf("cluster: member %s did not see itself in the topology within %v", system.ID, readyTimeout)
	}
	logger.Info("cluster member started", "address", n.Address(), "gossip", n.GossipAddress(), "raft", cfg.RaftAddr,
		"cluster", cfg.Name, "took", time.Since(began).Round(time.Millisecond))
	return n, nil
}

// startMember runs protoactor's StartMember, which panics on any error (port in use,
// gossip failure), and returns the panic as an error.
func startMember(c *cluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: start member: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// checkPortsFree reports a fixed remoting or gossip port that is already taken, before
// protoactor starts anything (its failure path leaks goroutines).
func checkPortsFree(cfg Config) error {
	var errs []error
	if cfg.RemotePort != 0 {
		addr := net.JoinHostPort(cfg.BindHost, strconv.Itoa(cfg.RemotePort))
		if l, err := net.Listen("tcp", addr); err != nil {
			errs = append(errs, fmt.Errorf("cluster: remoting address: %w", err))
		} else {
			_ = l.Close()
		}
	}
	if _, port, _ := splitGossipAddr(cfg.GossipAddr); port != 0 {
		if l, err := net.Listen("tcp", cfg.GossipAddr); err != nil {
			errs = append(errs, fmt.Errorf("cluster: gossip address: %w", err))
		} else {
			_ = l.Close()
		}
		if pc, err := net.ListenPacket("udp", cfg.GossipAddr); err != nil {
			errs = append(errs, fmt.Errorf("cluster: gossip address (udp): %w", err))
		} else {
			_ = pc.Close()
		}
	}
	return errors.Join(errs...)
}

// abort tears down a member whose start failed part-way. protoactor has no API to ask
// how far StartMember got, so each step tolerates the parts that never started.
func (n *Node) abort() {
	_ = n.provider.Shutdown(false)
	n.lookup.shutdown(0)
	func() {
		defer func() { _ = recover() }() // Remote is nil or never listened
		if n.cluster.Remote != nil {
			n.cluster.Remote.Shutdown(false)
		}
	}()
	n.system.Shutdown()
	n.dispatcher.stop()
	n.stopOnce.Do(func() { n.stopErr = errors.New("cluster: member never started") })
}

// Cluster returns the underlying protoactor cluster (for grain kinds that need it).
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// ID returns this member's actor-system id, fresh for every Start.
func (n *Node) ID() string { return n.system.ID }

// NodeID returns this member's node id (Config.NodeID, or the one drawn at Start).
func (n *Node) NodeID() uint64 { return n.cfg.NodeID }

// Joined reports whether this member has joined its cluster: Config.Join is empty,
// one of its seeds answered, or another member joined this one. It stays true once
// true (members that die later do not unjoin it).
func (n *Node) Joined() bool { return n.provider.hasJoined() }

// Nodes returns the live members as gossip sees them (this one included), sorted by
// node id: members that joined and have not been declared dead or left.
func (n *Node) Nodes() []NodeInfo { return n.provider.nodeInfos() }

// Departures returns the members that are gone and have not come back, by node id:
// true when the member left gracefully (a graceful Stop), false when gossip declared it
// dead (a crash, a partition). Memberlist forgets nothing here while this node runs.
func (n *Node) Departures() map[uint64]bool { return n.provider.departures() }

// MembershipChanged returns a channel closed at the next change of the live members
// (a join, a metadata update, a leave or a death): wait on it, then call it again.
func (n *Node) MembershipChanged() <-chan struct{} { return n.provider.watchChanges() }

// Address returns the actor-system (remoting) address, host:port.
func (n *Node) Address() string { return n.system.Address() }

// GossipAddress returns the memberlist address other members pass in Config.Join.
func (n *Node) GossipAddress() string { return n.provider.address() }

// Members returns the addresses of the live members this node currently places grains
// on, itself included, sorted.
func (n *Node) Members() []string { return n.lookup.current().Addresses() }

// Placement returns the placement of the current topology.
func (n *Node) Placement() *Placement { return n.lookup.current() }

// Stop stops the member. Graceful: leave the memberlist first (peers stop routing here
// at once), let local grains finish the messages already queued (up to 5 s), then stop
// protoactor. Either way Stop returns once the grains' worker goroutines have finished
// their current burst and exited. Not graceful: stop gossiping without a leave (peers find out through
// their failure detector, as after a crash) and stop at once. Stop is idempotent; the
// first call's result is returned to all.
//
// protoactor's own graceful Cluster.Shutdown is not used: it sleeps 2 s, can wait up
// to 10 s for gRPC streams, and its endpoint-reader suspend flag is a data race.
// Either way, protoactor's outgoing connections stay open until the process exits.
// AnnounceLeaving tells the other members that this one is about to leave gracefully
// (Stop(true) does too): their autopilot then neither adds it to a raft group nor counts
// its departure as a death. It blocks at most the gossip leave timeout.
func (n *Node) AnnounceLeaving() { n.provider.announceLeaving() }

func (n *Node) Stop(graceful bool) error {
	n.stopOnce.Do(func() {
		began := time.Now()
		var errs []error
		if graceful {
			errs = append(errs, n.provider.Shutdown(true))
			n.lookup.shutdown(grainDrainTimeout)
		} else {
			errs = append(errs, n.provider.Shutdown(false))
			n.lookup.shutdown(0)
		}
		errs = append(errs, shutdownCluster(n.cluster))
		n.dispatcher.stop()
		n.stopErr = errors.Join(errs...)
		n.logger.Info("cluster member stopped", "graceful", graceful,
			"took", time.Since(began).Round(time.Millisecond), "error", n.stopErr)
	})
	return n.stopErr
}

// shutdownCluster runs protoactor's non-graceful shutdown (actor system and remoting
// server), turning a panic into an error.
func shutdownCluster(c *cluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cluster: shutdown: %v", r)
		}
	}()
	c.Shutdown(false)
	return nil
}
