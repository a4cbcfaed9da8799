package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// End-to-end tests of the replicated directory (issue 13) with real `latch serve`
// processes on loopback (harness in e2e_cluster_harness_test.go).

// The bounds of the issue: a directory write is applied on every node within one
// second; a directory write succeeds through a survivor within five seconds of the
// leader's kill -9. Startup and membership waits are generous: they bound a hang,
// they do not measure anything.
const (
	replicationBound = time.Second
	failoverBound    = 5 * time.Second
	startBound       = 60 * time.Second
	membershipBound  = 15 * time.Second
	leaveBound       = 5 * time.Second
)

// clusterFixture is what the tests create through node 1: an API resource with a
// scope, a machine-to-machine role holding it and an M2M app with that role; a user
// role holding it and a user with that role; a Traditional web app.
type clusterFixture struct {
	api, scope     string
	m2m, web       appCreds
	webCB          string
	userID, userRN string
	user, password string
}

func newClusterFixture(t *testing.T, n *procNode) *clusterFixture {
	t.Helper()
	m := n.mgmt(t)
	admin := m.adminToken(t.Context())
	f := &clusterFixture{
		api: "https://api.cluster.example", scope: "read:data",
		webCB: "http://127.0.0.1:9/web/callback", userRN: "cluster-reader",
		user: "carol_cluster", password: "c0rrect-Horse-cluster",
	}
	var res, scope, m2mRole, userRole, user struct{ ID string }
	m.mustAPI(admin, "POST", "/api/resources", map[string]any{"name": "Cluster API", "indicator": f.api, "accessTokenTtl": 900}, 201, &res)
	m.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": f.scope}, 201, &scope)
	m.mustAPI(admin, "POST", "/api/roles", map[string]any{"name": "cluster-worker", "description": "reads", "type": "MachineToMachine", "scopeIds": []string{scope.ID}}, 200, &m2mRole)
	m.createApp(admin, map[string]any{"name": "cluster-worker", "type": "MachineToMachine"}, &f.m2m)
	m.mustAPI(admin, "POST", "/api/roles/"+m2mRole.ID+"/applications", map[string]any{"applicationIds": []string{f.m2m.ID}}, 201, nil)
	m.mustAPI(admin, "POST", "/api/roles", map[string]any{"name": f.userRN, "description": "reads", "type": "User", "scopeIds": []string{scope.ID}}, 200, &userRole)
	m.mustAPI(admin, "POST", "/api/users", map[string]any{"username": f.user, "password": f.password, "name": "Carol Cluster"}, 200, &user)
	m.mustAPI(admin, "POST", "/api/users/"+user.ID+"/roles", map[string]any{"roleIds": []string{userRole.ID}}, 201, nil)
	m.createApp(admin, map[string]any{"name": "cluster-web", "type": "Traditional",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{f.webCB}, "postLogoutRedirectUris": []string{}}}, &f.web)
	f.userID = user.ID
	if f.m2m.ID == "" || f.m2m.Secret == "" || f.web.ID == "" || f.web.Secret == "" || f.userID == "" {
		t.Fatalf("fixture: apps %+v %+v, user %q", f.m2m, f.web, f.userID)
	}
	return f
}

// clientCredentials gets an M2M token for the fixture's API through node n and checks
// it against n's own JWKS: audience, client and the scope the role grants.
func (f *clusterFixture) clientCredentials(ctx context.Context, n *procNode) (string, error) {
	cc := clientcredentials.Config{ClientID: f.m2m.ID, ClientSecret: f.m2m.Secret, TokenURL: n.c.issuer() + "/token",
		Scopes: []string{f.scope}, EndpointParams: map[string][]string{"resource": {f.api}}}
	tok, err := cc.Token(n.ctxVia(ctx))
	if err != nil {
		return "", fmt.Errorf("client_credentials through %s: %w", n.name, err)
	}
	c, err := n.verifyVia(ctx, tok.AccessToken)
	if err != nil {
		return "", fmt.Errorf("%s's token does not verify against its JWKS: %w", n.name, err)
	}
	if c.Aud != f.api || c.ClientID != f.m2m.ID || c.Scope != f.scope || c.Iss != n.c.issuer() {
		return "", fmt.Errorf("client_credentials token through %s: claims %+v", n.name, c)
	}
	return tok.AccessToken, nil
}

// signInFlow runs the authorization code flow with PKCE for the web app through node
// n (every request of the browser, the code exchange and the key fetch reach n): it
// signs the user in with a password, exchanges the code for the API resource, and
// checks the ID token (subject, the user role's name) and the access token (audience,
// subject, the role's scope) against n's keys. A refusal is returned, not fatal.
func (f *clusterFixture) signInFlow(t *testing.T, n *procNode) error {
	t.Helper()
	ctx := n.ctxVia(t.Context())
	provider, err := oidc.NewProvider(ctx, n.c.issuer())
	if err != nil {
		return fmt.Errorf("discovery through %s: %w", n.name, err)
	}
	cfg := &oauth2.Config{ClientID: f.web.ID, ClientSecret: f.web.Secret, Endpoint: provider.Endpoint(), RedirectURL: f.webCB,
		Scopes: []string{oidc.ScopeOpenID, "profile", "roles", f.scope}}
	b := n.newBrowserVia(t)
	v := oauth2.GenerateVerifier()
	resp, body := b.get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oidc.Nonce("nonce"),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", f.api)))
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/sign-in" {
		return fmt.Errorf("authorize through %s = %d %v: %.200s", n.name, resp.StatusCode, loc, body)
	}
	to, err := trySignIn(b, f.user, f.password)
	if err != nil {
		return fmt.Errorf("sign-in through %s: %w", n.name, err)
	}
	resp, body = b.get(to)
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), f.webCB) || loc.Query().Get("code") == "" {
		return fmt.Errorf("resume through %s = %d %v: %.200s", n.name, resp.StatusCode, loc, body)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v), oauth2.SetAuthURLParam("resource", f.api))
	if err != nil {
		return fmt.Errorf("code exchange through %s: %w", n.name, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: f.web.ID}).Verify(ctx, rawID)
	if err != nil {
		return fmt.Errorf("ID token from %s: %w", n.name, err)
	}
	var idc struct {
		Nonce string   `json:"nonce"`
		Roles []string `json:"roles"`
	}
	if err := idt.Claims(&idc); err != nil {
		return err
	}
	if idt.Subject != f.userID || idc.Nonce != "nonce" || !slices.Contains(idc.Roles, f.userRN) {
		return fmt.Errorf("ID token from %s: sub %s, claims %+v", n.name, idt.Subject, idc)
	}
	c, err := n.verifyVia(t.Context(), tok.AccessToken)
	if err != nil {
		return fmt.Errorf("access token from %s: %w", n.name, err)
	}
	if c.Aud != f.api || c.Sub != f.userID || c.Scope != f.scope {
		return fmt.Errorf("access token from %s: claims %+v", n.name, c)
	}
	return nil
}

// signInRefusal tries to sign the user in through n and returns the Experience API's
// refusal (nil when the sign-in went through).
func (f *clusterFixture) signInRefusal(t *testing.T, n *procNode) *errSignIn {
	t.Helper()
	cfg := &oauth2.Config{ClientID: f.web.ID, ClientSecret: f.web.Secret, RedirectURL: f.webCB,
		Endpoint: oauth2.Endpoint{AuthURL: n.c.issuer() + "/auth"}, Scopes: []string{oidc.ScopeOpenID}}
	b := n.newBrowserVia(t)
	resp, body := b.get(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if loc, _ := resp.Location(); resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/sign-in" {
		t.Fatalf("authorize through %s = %d %v: %.200s", n.name, resp.StatusCode, loc, body)
	}
	_, err := trySignIn(b, f.user, f.password)
	var refused *errSignIn
	if errors.As(err, &refused) {
		return refused
	}
	if err != nil {
		t.Fatalf("sign-in through %s: %v", n.name, err)
	}
	return nil
}

// createApp creates an M2M application through n with a bounded request, returning
// its id, or the status and answer of the refusal.
func createApp(ctx context.Context, n *procNode, token, name string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, raw, err := n.do(ctx, token, "POST", "/api/applications", map[string]any{"name": name, "type": "MachineToMachine"})
	if err != nil {
		return "", err
	}
	if st != http.StatusOK {
		return "", fmt.Errorf("%d %.200s", st, raw)
	}
	var app struct{ ID string }
	if err := json.Unmarshal(raw, &app); err != nil || app.ID == "" {
		return "", fmt.Errorf("created app %.200s: %v", raw, err)
	}
	return app.ID, nil
}

// appVisible reports whether GET /api/applications/id answers 200 through n.
func appVisible(ctx context.Context, n *procNode, token, id string) (bool, string) {
	st, raw, err := n.do(ctx, token, "GET", "/api/applications/"+id, nil)
	return err == nil && st == http.StatusOK, fmt.Sprintf("%s: %d %v %.120s", n.name, st, err, raw)
}

// TestClusterProcesses runs the cluster tests on one cluster of real processes:
// three nodes replicate the directory and share keys, a key rotation keeps tokens in
// flight valid, the leader's kill -9 leaves a writable cluster and its restart comes
// back as the same member, a fourth node joins and a voter leaving is removed at once.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t)
	nodes := c.startCluster(3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	ids := map[*procNode]string{}
	for _, n := range nodes {
		ids[n] = n.nodeID()
	}
	f := newClusterFixture(t, n1)
	written := time.Now() // every fixture write was acknowledged by node 1

	t.Run("ReplicatedDirectory", func(t *testing.T) {
		// The app, user, role and resource created through node 1 serve
		// client_credentials and the sign-in flow through nodes 2 and 3.
		for _, n := range []*procNode{n2, n3} {
			var last error
			took := c.waitBy(t, written, written.Add(replicationBound), "client_credentials through "+n.name, func() (bool, string) {
				_, last = f.clientCredentials(t.Context(), n)
				return last == nil, fmt.Sprint(last)
			})
			t.Logf("client_credentials through %s: %v after node 1 acknowledged the writes", n.name, took.Round(time.Millisecond))
			took = c.waitBy(t, written, written.Add(replicationBound), "sign-in flow through "+n.name, func() (bool, string) {
				last = f.signInFlow(t, n)
				return last == nil, fmt.Sprint(last)
			})
			t.Logf("sign-in flow through %s: done %v after node 1 acknowledged the writes", n.name, took.Round(time.Millisecond))
		}

		// A Management API token from any node works on every node.
		for _, from := range nodes {
			tok := from.mgmt(t).adminToken(t.Context())
			for _, to := range nodes {
				if st, raw, err := to.do(t.Context(), tok, "GET", "/api/applications/"+f.web.ID, nil); err != nil || st != http.StatusOK {
					t.Errorf("Management token from %s on %s: %d %v %.200s", from.name, to.name, st, err, raw)
				}
			}
		}

		// One JWKS, byte for byte.
		want := n1.jwks(t)
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(want, &set); err != nil || len(set.Keys) == 0 {
			t.Fatalf("node1 JWKS %s: %v", want, err)
		}
		for _, n := range nodes[1:] {
			if got := n.jwks(t); string(got) != string(want) {
				t.Errorf("JWKS differs:\nnode1: %s\n%s: %s", want, n.name, got)
			}
		}

		// A user suspended through node 3 cannot sign in through node 1.
		admin3 := n3.mgmt(t).adminToken(t.Context())
		n3.mgmt(t).mustAPI(admin3, "PATCH", "/api/users/"+f.userID+"/is-suspended", map[string]any{"isSuspended": true}, 200, nil)
		suspended := time.Now()
		took := c.waitBy(t, suspended, suspended.Add(replicationBound), "suspension through node3 seen by node1's sign-in", func() (bool, string) {
			r := f.signInRefusal(t, n1)
			return r != nil && r.status == http.StatusUnauthorized && r.body["code"] == "user.suspended", fmt.Sprint(r)
		})
		t.Logf("suspension through node3 refused by node1: %v after node3 acknowledged it", took.Round(time.Millisecond))
		// Reinstated through node 2: node 1 lets the user in again.
		admin2 := n2.mgmt(t).adminToken(t.Context())
		n2.mgmt(t).mustAPI(admin2, "PATCH", "/api/users/"+f.userID+"/is-suspended", map[string]any{"isSuspended": false}, 200, nil)
		reinstated := time.Now()
		c.waitBy(t, reinstated, reinstated.Add(replicationBound), "reinstatement through node2 seen by node1", func() (bool, string) {
			err := f.signInFlow(t, n1)
			return err == nil, fmt.Sprint(err)
		})
	})

	t.Run("KeyRotation", func(t *testing.T) {
		ctx := t.Context()
		// Tokens signed before the rotation: the Management token and an API token.
		oldAdmin := n1.mgmt(t).adminToken(ctx)
		oldAPI, err := f.clientCredentials(ctx, n2)
		if err != nil {
			t.Fatal(err)
		}
		oldKID := tokenKID(t, oldAPI)
		if k := tokenKID(t, oldAdmin); k != oldKID {
			t.Fatalf("node1 signs with %s, node2 with %s", k, oldKID)
		}
		var before []map[string]any
		n1.mgmt(t).mustAPI(oldAdmin, "GET", "/api/configs/oidc/private-keys", nil, 200, &before)
		var after []map[string]any
		n2.mgmt(t).mustAPI(oldAdmin, "POST", "/api/configs/oidc/private-keys/rotate", map[string]any{}, 200, &after)
		rotated := time.Now()
		t.Logf("private keys before %v, after the rotation through node2 %v", before, after)

		// New tokens carry the new key on every node, the same one.
		newKID := ""
		for _, n := range nodes {
			c.waitBy(t, rotated, rotated.Add(replicationBound), "a token from "+n.name+" signed with the rotated key", func() (bool, string) {
				tok, err := f.clientCredentials(ctx, n)
				if err != nil {
					return false, err.Error()
				}
				kid := tokenKID(t, tok)
				if kid == oldKID || (newKID != "" && kid != newKID) {
					return false, fmt.Sprintf("kid %s (old %s, new %s)", kid, oldKID, newKID)
				}
				newKID = kid
				return true, ""
			})
		}
		// The tokens signed before still verify on every node, and the old Management
		// token still manages.
		for _, n := range nodes {
			if _, err := n.verifyVia(ctx, oldAPI); err != nil {
				t.Errorf("a token signed before the rotation does not verify against %s's JWKS: %v", n.name, err)
			}
			if st, raw, err := n.do(ctx, oldAdmin, "GET", "/api/applications/"+f.m2m.ID, nil); err != nil || st != http.StatusOK {
				t.Errorf("a Management token signed before the rotation on %s: %d %v %.200s", n.name, st, err, raw)
			}
		}
		// Still one JWKS, publishing both keys.
		want := n1.jwks(t)
		for _, kid := range []string{oldKID, newKID} {
			if !strings.Contains(string(want), `"`+kid+`"`) {
				t.Errorf("node1's JWKS lacks %s: %s", kid, want)
			}
		}
		for _, n := range nodes[1:] {
			if got := n.jwks(t); string(got) != string(want) {
				t.Errorf("JWKS differs after the rotation:\nnode1: %s\n%s: %s", want, n.name, got)
			}
		}
	})

	t.Run("LeaderKill", func(t *testing.T) {
		ctx := t.Context()
		lv := c.waitVoters(t, 3, membershipBound)
		leader := c.leader(t, membershipBound)
		var survivors []*procNode
		tokens := map[*procNode]string{}
		for _, n := range nodes {
			if n != leader {
				survivors = append(survivors, n)
				tokens[n] = n.mgmt(t).adminToken(ctx)
			}
		}
		t.Logf("leader %s (%s), voters %v", leader.name, ids[leader], lv.Voters)

		leader.kill()
		killed := time.Now()
		var written string
		i := 0
		took := c.waitBy(t, killed, killed.Add(failoverBound), "a directory write through a survivor after the leader's kill -9", func() (bool, string) {
			n := survivors[i%len(survivors)]
			i++
			id, err := createApp(ctx, n, tokens[n], "after-failover", time.Second)
			written = id
			return err == nil, fmt.Sprintf("through %s: %v", n.name, err)
		})
		t.Logf("first directory write through a survivor %v after the leader's kill -9", took.Round(time.Millisecond))

		// The killed node, restarted on its data directory and ports, is the same
		// member; once ready it has the write made while it was down.
		leader.start(t)
		if id := leader.waitReady(t, startBound); id != ids[leader] {
			t.Fatalf("restarted %s is node %s, want %s", leader.name, id, ids[leader])
		}
		if ok, detail := appVisible(ctx, leader, tokens[survivors[0]], written); !ok {
			t.Errorf("restarted %s reports ready without the write made while it was down: %s", leader.name, detail)
		}
		// Same member: back in every node's membership (gossip), and a voter again.
		c.waitMembership(t, membershipBound)
		newLeader := c.leader(t, membershipBound)
		c.waitFor(t, membershipBound, "the voters after the restart are the voters before it", func() (bool, string) {
			v, err := newLeader.raftStatus()
			return err == nil && slices.Equal(v.Voters, lv.Voters), fmt.Sprintf("%v %v, want %v", v.Voters, err, lv.Voters)
		})
	})

	t.Run("JoinAndLeave", func(t *testing.T) {
		ctx := t.Context()
		started := time.Now()
		n4 := c.addNode("node4", c.gossipOf())
		id4 := n4.waitReady(t, startBound)
		t.Logf("node4 (%s) ready %v after its start", id4, time.Since(started).Round(time.Millisecond))
		// Ready means it serves the directory: client_credentials for the app made
		// before it joined, the sign-in flow, the Management API, the same JWKS.
		if _, err := f.clientCredentials(ctx, n4); err != nil {
			t.Errorf("node4 once ready: %v", err)
		}
		if err := f.signInFlow(t, n4); err != nil {
			t.Errorf("node4 once ready: %v", err)
		}
		admin := n1.mgmt(t).adminToken(ctx)
		if st, raw, err := n4.do(ctx, admin, "GET", "/api/users/"+f.userID, nil); err != nil || st != http.StatusOK {
			t.Errorf("node4 GET /api/users/%s = %d %v %.200s", f.userID, st, err, raw)
		}
		if a, b := n1.jwks(t), n4.jwks(t); string(a) != string(b) {
			t.Errorf("node4's JWKS differs:\nnode1: %s\nnode4: %s", a, b)
		}
		// It becomes a member of the directory's raft group (a learner while the
		// voters stay an odd number, at most 5).
		took := c.waitFor(t, membershipBound, "node4 in the directory's raft group", func() (bool, string) {
			v, err := c.leader(t, membershipBound).raftStatus()
			return err == nil && (slices.Contains(v.Voters, id4) || slices.Contains(v.Learners, id4)), fmt.Sprintf("%+v %v", v, err)
		})
		t.Logf("node4 in the raft group %v after its /readyz answered ready", took.Round(time.Millisecond))

		// A voter stopped gracefully (SIGTERM) is removed from the voters at once; the
		// voters are made whole again with node4.
		leader := c.leader(t, membershipBound)
		var leaving *procNode
		for _, n := range []*procNode{n3, n2, n1} {
			if n != leader {
				leaving = n
				break
			}
		}
		idLeaving := ids[leaving]
		if v, err := leader.raftStatus(); err != nil || !slices.Contains(v.Voters, idLeaving) {
			t.Fatalf("%s (%s) is not a voter before it leaves: %+v %v", leaving.name, idLeaving, v, err)
		}
		stopping := time.Now()
		leaving.term(t)
		left := time.Now()
		t.Logf("%s exited %v after SIGTERM", leaving.name, left.Sub(stopping).Round(time.Millisecond))
		took = c.waitBy(t, left, left.Add(leaveBound), leaving.name+" removed from the voters after SIGTERM", func() (bool, string) {
			v, err := c.leader(t, membershipBound).raftStatus()
			return err == nil && !slices.Contains(v.Voters, idLeaving) && !slices.Contains(v.Learners, idLeaving), fmt.Sprintf("%+v %v", v, err)
		})
		t.Logf("%s out of the raft group %v after its process exited on SIGTERM", leaving.name, took.Round(time.Millisecond))
		took = c.waitFor(t, membershipBound, "node4 promoted to voter in place of "+leaving.name, func() (bool, string) {
			v, err := c.leader(t, membershipBound).raftStatus()
			return err == nil && slices.Contains(v.Voters, id4) && len(v.Voters) == 3, fmt.Sprintf("%+v %v", v, err)
		})
		t.Logf("node4 a voter %v later", took.Round(time.Millisecond))
		// Every remaining node still writes.
		for _, n := range c.running() {
			if _, err := createApp(ctx, n, admin, "after-leave", 5*time.Second); err != nil {
				t.Errorf("write through %s after %s left: %v", n.name, leaving.name, err)
			}
		}
	})
}

// TestClusterFigures measures the figures of the note on a three-node cluster
// of real processes. Opt-in:
//
//	LATCH_CLUSTER_FIGURES=1 go test ./cmd/latch -run TestClusterFigures -count=1 -v
//
// (LATCH_FIGURES_WRITES, LATCH_FIGURES_VISIBILITY and LATCH_FIGURES_FAILOVERS change
// the sample sizes: 200, 100 and 5).
func TestClusterFigures(t *testing.T) {
	if os.Getenv("LATCH_CLUSTER_FIGURES") != "1" {
		t.Skip("figures: set LATCH_CLUSTER_FIGURES=1")
	}
	count := func(env string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(env)); err == nil && v > 0 {
			return v
		}
		return def
	}
	nWrites, nVisible, nFailovers := count("LATCH_FIGURES_WRITES", 200), count("LATCH_FIGURES_VISIBILITY", 100), count("LATCH_FIGURES_FAILOVERS", 5)
	c := newProcCluster(t)
	nodes := c.startCluster(3)
	ctx := t.Context()
	tokens := map[*procNode]string{}
	for _, n := range nodes {
		tokens[n] = n.mgmt(t).adminToken(ctx)
	}
	t.Logf("reproduce: LATCH_CLUSTER_FIGURES=1 go test ./cmd/latch -run TestClusterFigures -count=1 -v  (GOMAXPROCS of this machine: %d); node command lines:", runtime.NumCPU())
	for _, n := range nodes {
		t.Logf("  %s", n.commandLine())
	}
	summary := func(what string, d []time.Duration) {
		slices.Sort(d)
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		t.Logf("%s (n=%d): p50 %v, p99 %v, max %v, mean %v", what, len(d), percentile(d, 50).Round(10*time.Microsecond),
			percentile(d, 99).Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond), (sum / time.Duration(len(d))).Round(10*time.Microsecond))
	}

	// The cost of a directory write: sequential application creates through the
	// leader, then through a follower (forwarded to the leader).
	leader := c.leader(t, membershipBound)
	var follower *procNode
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	for _, through := range []*procNode{leader, follower} {
		lat := make([]time.Duration, 0, nWrites)
		for i := range nWrites {
			start := time.Now()
			if _, err := createApp(ctx, through, tokens[through], "cost-"+strconv.Itoa(i), 10*time.Second); err != nil {
				t.Fatalf("create %d through %s: %v", i, through.name, err)
			}
			lat = append(lat, time.Since(start))
		}
		role := "leader"
		if through != leader {
			role = "follower"
		}
		summary(fmt.Sprintf("directory write (POST /api/applications, sequential) through the %s %s", role, through.name), lat)
	}

	// Visibility: from a create through node 1 to a 200 for it on every node.
	var fromAck, fromStart []time.Duration
	for i := range nVisible {
		start := time.Now()
		id, err := createApp(ctx, nodes[0], tokens[nodes[0]], "visible-"+strconv.Itoa(i), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		acked := time.Now()
		var wg sync.WaitGroup
		seen := make([]time.Time, len(nodes))
		for j, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					if ok, _ := appVisible(ctx, n, tokens[n], id); ok {
						seen[j] = time.Now()
						return
					}
				}
			}()
		}
		wg.Wait()
		last := acked
		for j, s := range seen {
			if s.IsZero() {
				t.Fatalf("app %s never visible on %s", id, nodes[j].name)
			}
			if s.After(last) {
				last = s
			}
		}
		fromAck = append(fromAck, last.Sub(acked))
		fromStart = append(fromStart, last.Sub(start))
	}
	summary("visible on every node, from node1's acknowledgement", fromAck)
	summary("visible on every node, from the start of the write", fromStart)

	// Leader failover: kill -9 the leader, time to the first successful directory write
	// through a survivor; then restart it and wait until the voters are whole again.
	ids := map[*procNode]string{}
	for _, n := range nodes {
		ids[n] = n.nodeID()
	}
	var failovers, elections []time.Duration
	for r := range nFailovers {
		lv := c.waitVoters(t, 3, membershipBound)
		leader := c.leader(t, membershipBound)
		var survivors []*procNode
		for _, n := range nodes {
			if n != leader {
				survivors = append(survivors, n)
			}
		}
		oldLeader := ids[leader]
		// Meanwhile, when a survivor first names another leader.
		elected := make(chan time.Duration, 1)
		watchCtx, stopWatch := context.WithCancel(ctx)
		leader.kill()
		killed := time.Now()
		go func() {
			for watchCtx.Err() == nil {
				if v, err := survivors[0].raftStatus(); err == nil && v.Leader != "" && v.Leader != oldLeader {
					elected <- time.Since(killed)
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			elected <- 0
		}()
		// Short attempts, so that the figure is not rounded up to an attempt's timeout.
		i := 0
		took := c.waitBy(t, killed, killed.Add(30*time.Second), "a write through a survivor", func() (bool, string) {
			n := survivors[i%len(survivors)]
			i++
			_, err := createApp(ctx, n, tokens[n], "failover-"+strconv.Itoa(r), 250*time.Millisecond)
			return err == nil, fmt.Sprintf("%s: %v", n.name, err)
		})
		stopWatch()
		election := <-elected
		failovers = append(failovers, took)
		if election > 0 {
			elections = append(elections, election)
		}
		named := "did not answer /api/cluster in time"
		if election > 0 {
			named = "named a new leader after " + election.Round(time.Millisecond).String()
		}
		t.Logf("failover %d: leader %s killed; %s %s; first write through a survivor after %v",
			r+1, leader.name, survivors[0].name, named, took.Round(time.Millisecond))
		leader.start(t)
		leader.waitReady(t, startBound)
		c.waitFor(t, membershipBound, "voters whole again", func() (bool, string) {
			v, err := c.leader(t, membershipBound).raftStatus()
			return err == nil && slices.Equal(v.Voters, lv.Voters), fmt.Sprintf("%v %v", v.Voters, err)
		})
	}
	summary("leader failover (kill -9 leader -> first successful write through a survivor)", failovers)
	if len(elections) > 0 {
		summary("leader election (kill -9 leader -> a survivor names the new leader)", elections)
	}
}
