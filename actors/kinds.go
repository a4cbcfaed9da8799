package actors

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

// Grain kind names (cluster kinds and store record kinds).
const (
	InteractionKindName = "interaction"
	SessionKindName     = "session"
	GrantKindName       = "grant"
	RefreshKindName     = "refresh"
)

// Options configures the grain kinds of one member.
type Options struct {
	// Peers is how grains reach other grains: the refresh grain's GrantCheck and the
	// revocation messages between Grant and RefreshFamily. Kinds are built before
	// cluster.Start returns the member, so bind it afterwards:
	//
	//	peers := actors.NewPeers()
	//	node, err := cluster.Start(ctx, cluster.Config{Kinds: actors.Kinds(store, log, actors.Options{Peers: peers}), ...})
	//	peers.Bind(node)
	//
	// Nil: grains cannot reach each other; a refresh fails with temporarily_unavailable
	// and revocation messages are dropped (logged).
	Peers *Peers
	// Now is the grains' clock for requests that carry no now_ms; nil means time.Now.
	Now func() time.Time
	// Rand is the source of new refresh-token secrets; nil means crypto/rand.Reader.
	Rand io.Reader
	// Lifetimes is the lifetime policy (session, interaction, grant, ... TTLs); the zero
	// value means oidcflow.DefaultLifetimes().
	Lifetimes oidcflow.Lifetimes
}

// Kinds returns every grain kind a Latch member hosts, for cluster.Config.Kinds. All
// members host all kinds (placement spreads keys over every live member); grains keep
// their state in store. Their mailboxes share one cluster.NewWorkerDispatcher, so a
// grain's deep Pebble stack is reused from message burst to burst.
func Kinds(store persistence.Store, logger *slog.Logger, opts Options) []*protocluster.Kind {
	env := newGrainEnv(store, logger, opts)
	d := cluster.NewWorkerDispatcher(cluster.MailboxThroughput, cluster.WorkerIdleTimeout)
	kind := func(name string, producer actor.Producer) *protocluster.Kind {
		return protocluster.NewKind(name, actor.PropsFromProducer(producer, actor.WithDispatcher(d)))
	}
	return []*protocluster.Kind{
		healthKind(store, logger, d),
		kind(InteractionKindName, func() actor.Actor {
			return &interactionGrain{grainBase: newGrainBase[*msg.InteractionRecord](env, InteractionKindName)}
		}),
		kind(SessionKindName, func() actor.Actor {
			return &sessionGrain{grainBase: newGrainBase[*msg.SessionRecord](env, SessionKindName)}
		}),
		kind(GrantKindName, func() actor.Actor {
			return &grantGrain{grainBase: newGrainBase[*msg.GrantRecord](env, GrantKindName)}
		}),
		kind(RefreshKindName, func() actor.Actor {
			return &refreshGrain{grainBase: newGrainBase[*msg.RefreshFamilyRecord](env, RefreshKindName)}
		}),
		kind(AccountKindName, func() actor.Actor {
			return &accountGrain{grainBase: newGrainBase[*msg.AccountRecord](env, AccountKindName)}
		}),
	}
}

// grainEnv is what every grain of one member shares. Read-only after Kinds.
type grainEnv struct {
	store  persistence.Store
	logger *slog.Logger
	peers  *Peers
	now    func() time.Time
	rand   io.Reader
	life   oidcflow.Lifetimes
}

func newGrainEnv(store persistence.Store, logger *slog.Logger, opts Options) *grainEnv {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	env := &grainEnv{store: store, logger: logger, peers: opts.Peers, now: opts.Now, rand: opts.Rand, life: opts.Lifetimes}
	if env.life == (oidcflow.Lifetimes{}) {
		env.life = oidcflow.DefaultLifetimes()
	}
	if env.now == nil {
		env.now = time.Now
	}
	if env.rand == nil {
		env.rand = rand.Reader
	}
	return env
}

// grainBase is the part every hot-state grain shares: its state and clock. A grain runs
// on one goroutine, one message at a time, so nothing here is locked.
type grainBase[T proto.Message] struct {
	env    *grainEnv
	kind   string
	key    string
	logger *slog.Logger
	state  *State[T]
}

func newGrainBase[T proto.Message](env *grainEnv, kind string) grainBase[T] {
	return grainBase[T]{env: env, kind: kind, logger: env.logger}
}

// init handles cluster.ClusterInit: it names the grain and loads its record, whose
// expiry expiry computes.
func (b *grainBase[T]) init(m *protocluster.ClusterInit, expiry func(T) time.Time) {
	b.key = m.Identity.Identity
	b.logger = b.env.logger.With("grain", b.kind, "key", b.key)
	b.state = NewState[T](b.env.store, b.kind, b.key)
	b.state.Expiry = expiry
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := b.state.Load(ctx); err != nil {
		// Read and Update load again.
		b.logger.Warn("loading state failed", "error", err)
	}
}

// clock returns the request's time: nowMs when the message carries one (so tests
// inject a clock), the grain's clock otherwise. It also makes it the clock by which
// Update judges the loaded state's expiry.
func (b *grainBase[T]) clock(nowMs int64) time.Time {
	now := b.env.now()
	if nowMs > 0 {
		now = time.UnixMilli(nowMs)
	}
	b.state.Now = func() time.Time { return now }
	return now
}

// read returns the live state at now (an empty T when absent or expired).
func (b *grainBase[T]) read(now time.Time) (T, error) {
	if b.state.Loaded() { // in memory: no store call, so no deadline (and its timer) needed
		return b.state.Read(context.Background(), now)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return b.state.Read(ctx, now)
}

// update runs one mutation of the grain's state (the grain contract: Update) within
// storeTimeout, replying with whatever message decide returns.
func (b *grainBase[T]) update(decide func(cur T) (T, proto.Message, error)) (proto.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return Update(ctx, b.state, decide)
}

// reply turns a grain request's outcome into its reply message.
func (b *grainBase[T]) reply(res proto.Message, err error) proto.Message {
	if err != nil {
		return FailureOf(b.logger, err)
	}
	return res
}

// msTime converts a protobuf millisecond timestamp; 0 is the zero time.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// expiryAt returns a State.Expiry function reading a millisecond field.
func expiryAt[T proto.Message](field func(T) int64) func(T) time.Time {
	return func(v T) time.Time { return msTime(field(v)) }
}
