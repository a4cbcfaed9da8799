package actors

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// The single-member tests share one in-process member (starting one takes over a
// second, and protoactor allows one member per process at a time; see package
// clustertest). It starts on first use, so the child processes of the multi-member
// tests never start it. Tests use random keys, so they may run in parallel.
var shared struct {
	once   sync.Once
	node   *cluster.Node
	client *Client
	peers  *Peers
	store  *actorstest.MemStore
	err    error
	// suspended holds the account ids the grains' ActiveAccount predicate refuses.
	suspended sync.Map
	// orgMembers holds "<orgID>/<accountID>" for the memberships the grains'
	// OrganizationAccess predicate lets in.
	orgMembers sync.Map
	// appDenied holds "<clientID>/<accountID>" for the pairs the grains' AppAccess
	// predicate refuses.
	appDenied sync.Map
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.node != nil {
		_ = shared.node.Stop(false)
	}
	os.Exit(code)
}

// testClient returns the facade of the shared member and its store.
func testClient(t *testing.T) (*Client, *actorstest.MemStore) {
	t.Helper()
	shared.once.Do(func() {
		shared.store = actorstest.NewMemStore()
		peers := NewPeers()
		logger := testLogger()
		n, err := cluster.Start(context.Background(), cluster.Config{
			Name:       "latch-grains-test",
			GossipAddr: "127.0.0.1:0",
			Kinds: Kinds(shared.store, logger, Options{Peers: peers, keyNow: testClocks.now, keyIdle: testIdle.get, ActiveAccount: func(id string) bool {
				_, suspended := shared.suspended.Load(id)
				return !suspended
			}, OrganizationAccess: func(orgID, accountID string) error {
				if _, ok := shared.orgMembers.Load(orgID + "/" + accountID); !ok {
					return oauth.AccessDenied("user is not a member of the organization")
				}
				return nil
			}, AppAccess: func(clientID, accountID string) error {
				if _, denied := shared.appDenied.Load(clientID + "/" + accountID); denied {
					return &oauth.Error{Code: oauth.CodeAccessDenied, Status: 400, Description: "not allowed"}
				}
				return nil
			}}),
			Logger: logger,
			Gossip: cluster.FastGossip(),
		})
		if err != nil {
			shared.err = err
			return
		}
		peers.Bind(n)
		shared.node, shared.client, shared.peers = n, NewClient(n), peers
	})
	if shared.err != nil {
		t.Fatalf("start the shared member: %v", shared.err)
	}
	return shared.client, shared.store
}

// grainClocks are per-grain clocks for the tests that share one member: a grain decides
// expiry by its own clock, so a test that needs "15 days later" sets that grain's.
type grainClocks struct{ m sync.Map } // "kind/key" -> time.Time

var testClocks grainClocks

func (c *grainClocks) now(kind, key string) (time.Time, bool) {
	v, ok := c.m.Load(kind + "/" + key)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// setClock makes at the time of grain kind/key until the test ends (zero: the real
// clock again).
func setClock(t *testing.T, kind, key string, at time.Time) {
	t.Helper()
	k := kind + "/" + key
	if at.IsZero() {
		testClocks.m.Delete(k)
		return
	}
	testClocks.m.Store(k, at)
	t.Cleanup(func() { testClocks.m.Delete(k) })
}

// The Client methods below take the time the grain should decide at: it sets the
// grain's clock (setClock), then calls.

func useAt(t *testing.T, c *Client, ctx context.Context, fid, secret, clientID string, at time.Time, resource string, scopes []string,
	accessToken *msg.AccessTokenRecord) (*msg.RefreshUsed, error) {
	t.Helper()
	setClock(t, RefreshKindName, fid, at)
	return c.UseRefreshToken(ctx, fid, secret, clientID, resource, scopes, accessToken)
}

func lookupAt(t *testing.T, c *Client, ctx context.Context, gid, secret string, at time.Time) (*msg.AccessTokenInfo, error) {
	t.Helper()
	setClock(t, GrantKindName, gid, at)
	return c.LookupAccessToken(ctx, gid, secret)
}

func inspectAt(t *testing.T, c *Client, ctx context.Context, fid, secret string, at time.Time) (*msg.RefreshFamilyRecord, error) {
	t.Helper()
	setClock(t, RefreshKindName, fid, at)
	return c.InspectRefreshToken(ctx, fid, secret)
}

func revokeRefreshAt(t *testing.T, c *Client, ctx context.Context, fid, secret, clientID string, at time.Time) (*msg.TokenRevoked, error) {
	t.Helper()
	setClock(t, RefreshKindName, fid, at)
	return c.RevokeRefreshToken(ctx, fid, secret, clientID)
}

func revokeAccessAt(t *testing.T, c *Client, ctx context.Context, gid, secret, clientID string, at time.Time) (*msg.TokenRevoked, error) {
	t.Helper()
	setClock(t, GrantKindName, gid, at)
	return c.RevokeAccessToken(ctx, gid, secret, clientID)
}

func checkGrantAt(t *testing.T, c *Client, ctx context.Context, gid string, at time.Time) (*msg.GrantRecord, error) {
	t.Helper()
	setClock(t, GrantKindName, gid, at)
	return c.CheckGrant(ctx, gid)
}

// ctxT bounds one facade call.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newID returns a fresh random grain key.
func newID(t *testing.T) string {
	t.Helper()
	key, _, err := NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// newSecretT returns a fresh random secret.
func newSecretT(t *testing.T) string {
	t.Helper()
	_, secret, err := NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// wantErr fails unless err is an *oauth.Error with code and status (status 0: any).
func wantErr(t *testing.T, err error, code string, status int) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if oe.Code != code || (status != 0 && oe.Status != status) {
		t.Fatalf("error = %q (%s, status %d), want %s status %d", oe.Code, oe.Description, oe.Status, code, status)
	}
}

// wantErrDesc is wantErr that also checks the description contains desc.
func wantErrDesc(t *testing.T, err error, code, desc string) {
	t.Helper()
	wantErr(t, err, code, 0)
	var oe *oauth.Error
	errors.As(err, &oe)
	if !strings.Contains(oe.Description, desc) {
		t.Fatalf("error description %q, want it to contain %q", oe.Description, desc)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pkcePair returns a code_verifier and its S256 code_challenge.
func pkcePair(t *testing.T) (verifier, challenge string) {
	verifier = newSecretT(t) // 43 base64url characters: a valid verifier
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// loadRecord reads a grain's persisted record from the shared store.
func loadRecord[T proto.Message](t *testing.T, kind, key string) T {
	t.Helper()
	_, store := testClient(t)
	s := NewState[T](store, kind, key)
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s.Current()
}

// createRefreshFamily stores a new family whose first token has secret, as the grant
// does in a code exchange (RefreshFamilyCreate), with any record a test needs. A taken id
// is invalid_request (409).
func createRefreshFamily(ctx context.Context, c *Client, familyID string, rec *msg.RefreshFamilyRecord, secret string) error {
	_, err := Call[*msg.Ack](ctx, c.node, RefreshKindName, familyID, &msg.RefreshFamilyCreate{Record: rec, Secret: secret})
	return err
}

// storeAccessToken has the grant store an opaque access token (and record familyID, may
// be empty), as a refresh does (GrantCheck with the token). invalid_grant when the grant
// is revoked or expired; invalid_request without a hash.
func storeAccessToken(ctx context.Context, c *Client, grantID string, at *msg.AccessTokenRecord, familyID string) error {
	if at == nil {
		at = &msg.AccessTokenRecord{}
	}
	_, err := Call[*msg.GrantRecord](ctx, c.node, GrantKindName, grantID, &msg.GrantCheck{AccessToken: at, FamilyId: familyID})
	return err
}
