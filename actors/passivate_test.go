package actors

import (
	"sync"
	"testing"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/latchid/latch/actors/msg"
)

// grainIdle holds per-grain idle timeouts for the tests that share one member
// (Options.keyIdle): the others keep the default.
type grainIdle struct{ m sync.Map } // "kind/key" -> time.Duration

var testIdle grainIdle

func (g *grainIdle) get(kind, key string) (time.Duration, bool) {
	v, ok := g.m.Load(kind + "/" + key)
	if !ok {
		return 0, false
	}
	return v.(time.Duration), true
}

// TestIdleGrainPassivates: a refresh family asked every 100 ms stays active; left
// alone for its idle timeout it stops, and the next use activates it again from the
// store, rotating as if it had never stopped.
func TestIdleGrainPassivates(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	fid, secret := newID(t), newSecretT(t)
	testIdle.m.Store(RefreshKindName+"/"+fid, 400*time.Millisecond)
	t.Cleanup(func() { testIdle.m.Delete(RefreshKindName + "/" + fid) })

	stopped := make(chan struct{}, 8)
	events := shared.node.Cluster().ActorSystem.EventStream
	sub := events.Subscribe(func(ev any) {
		if a, ok := ev.(*protocluster.ActivationTerminating); ok &&
			a.ClusterIdentity.GetKind() == RefreshKindName && a.ClusterIdentity.GetIdentity() == fid {
			select {
			case stopped <- struct{}{}:
			default:
			}
		}
	})
	t.Cleanup(func() { events.Unsubscribe(sub) })

	rec := &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, GrantId: gid, ClientId: testClientID, AccountId: testAccountID,
		CreatedAtMs: time.Now().UnixMilli()}
	mustOK(t, createRefreshFamily(ctx, c, fid, rec, secret))

	// Busy for three idle timeouts: never stopped.
	for end := time.Now().Add(1200 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		must[*msg.RefreshFamilyRecord](t)(c.InspectRefreshToken(ctx, fid, secret))
	}
	select {
	case <-stopped:
		t.Fatal("the family passivated although it was asked every 100 ms")
	default:
	}

	// Idle: stopped within a few timeouts.
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the family did not passivate within 10 s of idleness (timeout 400 ms)")
	}

	// Used again: activated from the store, it rotates.
	used := must[*msg.RefreshUsed](t)(c.UseRefreshToken(ctx, fid, secret, testClientID, "", nil, nil))
	if !used.GetRotated() || used.GetFamily().GetGeneration() != 2 {
		t.Fatalf("use after passivation: rotated %v, generation %d; want a rotation to generation 2",
			used.GetRotated(), used.GetFamily().GetGeneration())
	}
	must[*msg.RefreshFamilyRecord](t)(c.InspectRefreshToken(ctx, fid, used.GetNextSecret()))
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the reactivated family did not passivate again")
	}
}
