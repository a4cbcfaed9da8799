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
	"github.com/latchid/latch/oidcflow/oauth"
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
	// Now is the grains' clock: every expiry is decided by the clock of the member that
	// owns the grain, never by a time from the caller. Nil means time.Now.
	Now func() time.Time
	// Rand is the source of new token secrets; nil means crypto/rand.Reader.
	Rand io.Reader
	// Lifetimes is the lifetime policy of codes, grants, opaque access tokens and
	// refresh tokens (the reuse window included); the zero value means
	// oidcflow.DefaultLifetimes.
	Lifetimes oidcflow.Lifetimes
	// ActiveAccount reports whether an account may still get tokens (it exists and is
	// not suspended): the Grant grain asks it before a code exchange issues anything and
	// the RefreshFamily grain before a refresh rotates. Grains do not read the
	// directory; cmd/latch wires this to it. Nil means every account is active.
	ActiveAccount func(accountID string) bool
	// OrganizationAccess decides whether an account may get a token of an organization
	// (op.OrganizationAccess: membership, the organization's MFA requirement), returning
	// the protocol error to answer; the RefreshFamily grain asks it before a refresh
	// with organization_id rotates. Nil refuses every organization (access_denied).
	OrganizationAccess func(orgID, accountID string) error
	// AppAccess decides whether an account may still get tokens for a client
	// (op.AppAccess: the application's access control), returning the protocol error to
	// answer; the RefreshFamily grain asks it before a refresh rotates, so a refused
	// refresh leaves the token usable. Nil allows every account.
	AppAccess func(clientID, accountID string) error
	// RequestTimeout is the budget of a message that carries none (cluster.Budget): a
	// sender of an older release, or a grain's own follow-up work. Messages sent by
	// cluster.Node.Request carry what is left of their caller's deadline, and a grain's
	// store calls and requests to other grains end by then. Default
	// cluster.DefaultRequestTimeout.
	RequestTimeout time.Duration
	// IdleTimeout is how long a grain stays active without a message: then it
	// passivates (stops, freeing its memory; its state is in the store, and the next
	// message activates it again). 0: DefaultIdleTimeout; negative: never.
	IdleTimeout time.Duration

	// Serving reports whether this member may serve the grain kind/key now; a grain
	// asked while it may not (its member lost, or may have lost, the leadership of the
	// grain's shard: its state may be stale) answers temporarily_unavailable and stops,
	// so that the next request finds the grain where it is current. Nil: always.
	Serving func(kind, key string) bool

	// keyNow, when set (this package's tests, which share one member), overrides Now
	// for one grain: it reports the time of kind/key, or false for Now.
	keyNow func(kind, key string) (time.Time, bool)
	// keyIdle, when set (this package's tests), overrides IdleTimeout for one grain.
	keyIdle func(kind, key string) (time.Duration, bool)
}

// DefaultIdleTimeout is Options.IdleTimeout's default. It is far longer than the
// refresh reuse window (a family keeps the successor it handed out in memory for
// that long), and short enough that the grains of a day's sign-ins do not all stay.
const DefaultIdleTimeout = 10 * time.Minute

// Kinds returns every grain kind a Latch member hosts, for cluster.Config.Kinds. All
// members host all kinds (placement spreads keys over every live member); grains keep
// their state in store. Their mailboxes run on the member's worker dispatcher
// (cluster.NewWorkerDispatcher), so a grain's deep Pebble stack is reused from message
// burst to burst.
func Kinds(store persistence.Store, logger *slog.Logger, opts Options) []*protocluster.Kind {
	env := newGrainEnv(store, logger, opts)
	kind := func(name string, producer func() grain) *protocluster.Kind {
		return protocluster.NewKind(name, actor.PropsFromProducer(func() actor.Actor {
			return budgeted{producer()}
		}))
	}
	return []*protocluster.Kind{
		healthKind(store, logger, env.budget),
		kind(InteractionKindName, func() grain {
			return &interactionGrain{grainBase: newGrainBase[*msg.InteractionRecord](env, InteractionKindName)}
		}),
		kind(SessionKindName, func() grain {
			return &sessionGrain{grainBase: newGrainBase[*msg.SessionRecord](env, SessionKindName)}
		}),
		kind(GrantKindName, func() grain {
			return &grantGrain{grainBase: newGrainBase[*msg.GrantRecord](env, GrantKindName)}
		}),
		kind(RefreshKindName, func() grain {
			return &refreshGrain{grainBase: newGrainBase[*msg.RefreshFamilyRecord](env, RefreshKindName)}
		}),
		kind(AccountKindName, func() grain {
			return &accountGrain{grainBase: newGrainBase[*msg.AccountRecord](env, AccountKindName)}
		}),
		kind(StoreProxyKindName, func() grain {
			return &storeProxyGrain{grainBase: newGrainBase[*msg.Ack](env, StoreProxyKindName)}
		}),
	}
}

// grain is a hot-state grain: an actor whose messages each get a deadline (begin).
type grain interface {
	actor.Actor
	begin(c actor.Context)
	mayServe() bool
	idleTimeout() time.Duration
}

// budgeted starts every message of its grain with the message's deadline, and
// passivates the grain once it has had no message for its idle timeout.
type budgeted struct{ grain }

func (g budgeted) Receive(c actor.Context) {
	if _, idle := c.Message().(*actor.ReceiveTimeout); idle {
		// Idle: stop. Messages already queued are answered first (the pill is a
		// message); the cluster then forgets the activation (ActivationTerminating),
		// and a message sent to its PID after that comes back as a dead letter,
		// which cluster.Node.Request answers by activating the grain again. One sent
		// in the instant between the pill and the stop is dropped and its sender
		// waits out its deadline, as for a grain that moved (below): the price of
		// not keeping every grain of every session in memory for ever.
		c.Poison(c.Self())
		return
	}
	g.begin(c)
	if c.Sender() != nil && !g.mayServe() {
		if _, request := c.Message().(proto.Message); request {
			c.Respond(FailureOf(nil, oauth.TemporarilyUnavailable("the grain moved; retry shortly")))
			c.Poison(c.Self())
			return
		}
	}
	g.grain.Receive(c)
	if _, init := c.Message().(*protocluster.ClusterInit); init {
		// Named now: its idle timeout may depend on its key (this package's tests).
		if d := g.idleTimeout(); d > 0 {
			c.SetReceiveTimeout(d)
		}
	}
}

// grainEnv is what every grain of one member shares. Read-only after Kinds.
type grainEnv struct {
	store     persistence.Store
	logger    *slog.Logger
	peers     *Peers
	now       func() time.Time
	keyNow    func(kind, key string) (time.Time, bool)
	rand      io.Reader
	life      oidcflow.Lifetimes
	active    func(accountID string) bool
	orgAccess func(orgID, accountID string) error
	appAccess func(clientID, accountID string) error
	budget    time.Duration // of a message that carries none
	serving   func(kind, key string) bool
	idle      time.Duration // <= 0: never passivate
	keyIdle   func(kind, key string) (time.Duration, bool)
}

func newGrainEnv(store persistence.Store, logger *slog.Logger, opts Options) *grainEnv {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	env := &grainEnv{store: store, logger: logger, peers: opts.Peers, now: opts.Now, keyNow: opts.keyNow,
		rand: opts.Rand, budget: opts.RequestTimeout, life: opts.Lifetimes, active: opts.ActiveAccount,
		orgAccess: opts.OrganizationAccess, appAccess: opts.AppAccess, serving: opts.Serving,
		idle: opts.IdleTimeout, keyIdle: opts.keyIdle}
	if env.idle == 0 {
		env.idle = DefaultIdleTimeout
	}
	if env.life == (oidcflow.Lifetimes{}) {
		env.life = oidcflow.DefaultLifetimes()
	}
	if env.active == nil {
		env.active = func(string) bool { return true }
	}
	if env.appAccess == nil {
		env.appAccess = func(string, string) error { return nil }
	}
	if env.orgAccess == nil {
		env.orgAccess = func(string, string) error {
			return oauth.AccessDenied("organization tokens are not enabled")
		}
	}
	if env.budget <= 0 {
		env.budget = cluster.DefaultRequestTimeout
	}
	if env.now == nil {
		env.now = time.Now
	}
	if env.rand == nil {
		env.rand = rand.Reader
	}
	return env
}

// grainBase is the part every hot-state grain shares: its state, clock and the deadline
// of the message it handles. A grain runs on one goroutine, one message at a time, so
// nothing here is locked.
type grainBase[T proto.Message] struct {
	env      *grainEnv
	kind     string
	key      string
	logger   *slog.Logger
	state    *State[T]
	deadline time.Time // of the message being handled (begin); zero: env.budget from now
}

func newGrainBase[T proto.Message](env *grainEnv, kind string) grainBase[T] {
	return grainBase[T]{env: env, kind: kind, logger: env.logger}
}

// init handles cluster.ClusterInit: it names the grain and loads its record, whose
// expiry expiry computes.
func (b *grainBase[T]) init(m *protocluster.ClusterInit, expiry func(T) time.Time) {
	b.key = m.Identity.Identity
	b.logger = b.env.logger.With("grain", b.kind, "key", b.key)
	b.state = b.newState()
	b.state.Expiry = expiry
	ctx, cancel := b.budgetCtx()
	defer cancel()
	if err := b.state.Load(ctx); err != nil {
		// Read and Update load again.
		b.logger.Warn("loading state failed", "error", err)
	}
}

// begin starts handling the message of c: its deadline is the budget its sender gave
// it (cluster.Budget, what was left of the caller's deadline), else env.budget, from
// now. Deadlines are measured on this member's monotonic clock: only a duration
// crosses members, never an instant of another member's clock.
func (b *grainBase[T]) begin(c actor.Context) {
	budget, ok := cluster.Budget(c)
	if !ok {
		budget = b.env.budget
	}
	b.deadline = time.Now().Add(budget)
}

// mayServe reports whether this member may serve the grain now (Options.Serving).
func (b *grainBase[T]) mayServe() bool {
	return b.env.serving == nil || b.key == "" || b.env.serving(b.kind, b.key)
}

// idleTimeout is how long the grain stays active without a message (<= 0: for ever).
func (b *grainBase[T]) idleTimeout() time.Duration {
	if b.env.keyIdle != nil {
		if d, ok := b.env.keyIdle(b.kind, b.key); ok {
			return d
		}
	}
	return b.env.idle
}

// newState is the grain's State, fenced: every write first asks mayServe.
func (b *grainBase[T]) newState() *State[T] {
	s := NewState[T](b.env.store, b.kind, b.key)
	s.Fence = b.fence
	return s
}

// fence refuses a write once this member no longer serves the grain. A message is
// admitted only while the member serves it (budgeted), but a message that waits (a
// refresh waits for its grant) can outlive the member's leadership of the shard: a
// write it then made would still reach the new leader (a follower forwards proposals)
// and could undo what the new leader has already answered from the same record, such
// as the successor of a rotation it handed out without writing.
func (b *grainBase[T]) fence() error {
	if !b.mayServe() {
		return oauth.TemporarilyUnavailable("the grain moved; retry shortly")
	}
	return nil
}

// budgetDeadline is the deadline of the message being handled.
func (b *grainBase[T]) budgetDeadline() time.Time {
	if b.deadline.IsZero() { // a grain driven without begin (tests)
		return time.Now().Add(b.env.budget)
	}
	return b.deadline
}

// budgetCtx bounds the store calls and grain requests made for the message being
// handled by its deadline. A grain that waits forever on its store blocks its whole
// mailbox; one that waits past its caller's deadline does work nobody waits for.
func (b *grainBase[T]) budgetCtx() (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), b.budgetDeadline())
}

// clock returns the request's time by the grain's own clock (the member that owns the
// grain decides every expiry; no caller's time travels on the wire). It also makes it
// the clock by which Update judges the loaded state's expiry.
func (b *grainBase[T]) clock() time.Time {
	now := b.env.now()
	if b.env.keyNow != nil {
		if t, ok := b.env.keyNow(b.kind, b.key); ok {
			now = t
		}
	}
	b.state.Now = func() time.Time { return now }
	return now
}

// read returns the live state at now (an empty T when absent or expired).
func (b *grainBase[T]) read(now time.Time) (T, error) {
	if b.state.Loaded() { // in memory: no store call, so no deadline (and its timer) needed
		return b.state.Read(context.Background(), now)
	}
	ctx, cancel := b.budgetCtx()
	defer cancel()
	return b.state.Read(ctx, now)
}

// update runs one mutation of the grain's state (the grain contract: Update) within
// the message's deadline, replying with whatever message decide returns.
func (b *grainBase[T]) update(decide func(cur T) (T, proto.Message, error)) (proto.Message, error) {
	ctx, cancel := b.budgetCtx()
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
