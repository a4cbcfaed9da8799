package actors

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/persistence"
)

// HealthKindName is the grain kind of Health.
const HealthKindName = "health"

// HealthKind returns the Health grain kind: one grain per key that records pings in its
// state, so a Ping exercises placement, a grain call across members and the whole grain
// contract (load, conditional write, reply after the write). It backs GET /api/status and GET /api/cluster.
// A Ping that carries no budget (cluster.Budget) gets cluster.DefaultRequestTimeout.
func HealthKind(store persistence.Store, logger *slog.Logger) *protocluster.Kind {
	return healthKind(store, logger, cluster.DefaultRequestTimeout)
}

// healthKind is HealthKind with budget for messages that carry none.
func healthKind(store persistence.Store, logger *slog.Logger, budget time.Duration) *protocluster.Kind {
	return protocluster.NewKind(HealthKindName, actor.PropsFromProducer(func() actor.Actor {
		return &healthGrain{store: store, logger: logger, budget: budget}
	}))
}

// Ping asks the Health grain keyed by key to record a ping and reports which member
// served it and the store round trip. The deadline comes from ctx.
func Ping(ctx context.Context, n *cluster.Node, key string) (*msg.Pong, error) {
	return Call[*msg.Pong](ctx, n, HealthKindName, key, &msg.Ping{From: n.Address()})
}

// healthGrain is one Health activation. Like every grain it runs on its own goroutine,
// one message at a time.
type healthGrain struct {
	store  persistence.Store
	logger *slog.Logger
	budget time.Duration // of a message that carries none
	state  *State[*msg.HealthRecord]
}

// budgetCtx bounds the store calls made for c's message by its budget (see
// grainBase.begin).
func (g *healthGrain) budgetCtx(c actor.Context) (context.Context, context.CancelFunc) {
	budget, ok := cluster.Budget(c)
	if !ok {
		budget = g.budget
	}
	return context.WithTimeout(context.Background(), budget)
}

func (g *healthGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.logger = g.logger.With("grain", HealthKindName, "key", m.Identity.Identity)
		g.state = NewState[*msg.HealthRecord](g.store, HealthKindName, m.Identity.Identity)
		ctx, cancel := g.budgetCtx(c)
		defer cancel()
		if err := g.state.Load(ctx); err != nil {
			// Update loads again before its first write.
			g.logger.Warn("loading state failed", "error", err)
		}
	case *msg.Ping:
		ctx, cancel := g.budgetCtx(c)
		defer cancel()
		c.Respond(g.ping(ctx, c.ActorSystem().Address()))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

func (g *healthGrain) ping(ctx context.Context, self string) any {
	began := time.Now()
	pong, err := Update(ctx, g.state, func(cur *msg.HealthRecord) (*msg.HealthRecord, *msg.Pong, error) {
		cur.Pings++
		cur.LastServedBy = self
		cur.UpdatedUnixMs = time.Now().UnixMilli()
		return cur, &msg.Pong{ServedBy: self, Pings: cur.Pings}, nil
	})
	if err != nil {
		return FailureOf(g.logger, err)
	}
	pong.Version = g.state.Version()
	pong.StoreMicros = time.Since(began).Microseconds()
	return pong
}
