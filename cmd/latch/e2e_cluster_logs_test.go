package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/persistence"
)

// TestClusterLogsListedThroughEveryNode: on four nodes each shard keeps three replicas,
// so a node lacks about a quarter of the shards. Audit log entries are written through
// every node (each batch one shard); /api/logs through any node lists every one of them:
// the shards the node lacks are read through their leader's store proxy. The test checks
// that some node lacks the shard of some entry, so the proxied read is exercised.
func TestClusterLogsListedThroughEveryNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t)
	nodes := c.startCluster(4)
	hostedBy := map[*procNode][]uint32{}
	var count uint32
	c.waitFor(t, 60*time.Second, "every shard on three replicas, each node lacking some", func() (bool, string) {
		replicas := map[uint32]int{}
		var counts []string
		for _, n := range nodes {
			st, body := n.probe("/api/cluster")
			sh, _ := body["shards"].(map[string]any)
			if st != http.StatusOK || sh == nil {
				return false, fmt.Sprintf("%s: /api/cluster %d", n.name, st)
			}
			c, _ := sh["count"].(float64)
			count = uint32(c)
			var hosted []uint32
			for _, v := range sh["voting"].([]any) {
				hosted = append(hosted, uint32(v.(float64)))
				replicas[uint32(v.(float64))]++
			}
			hostedBy[n] = hosted
			counts = append(counts, fmt.Sprintf("%s votes in %d", n.name, len(hosted)))
			if len(hosted) == int(count) {
				return false, strings.Join(counts, ", ")
			}
		}
		for s := range count {
			if replicas[s] != 3 {
				return false, fmt.Sprintf("shard %d on %d voters; %s", s, replicas[s], strings.Join(counts, ", "))
			}
		}
		return true, ""
	})

	// Management API writes through every node, paced so that each is its own audit
	// batch (the writer flushes every 200 ms): the entries spread over the shards.
	var userID string
	{
		m := nodes[0].mgmt(t)
		var u struct{ ID string }
		m.mustAPI(m.adminToken(t.Context()), "POST", "/api/users", map[string]any{"username": "logged_everywhere"}, http.StatusOK, &u)
		userID = u.ID
	}
	const perNode = 4
	for _, n := range nodes {
		m := n.mgmt(t)
		admin := m.adminToken(t.Context())
		for i := range perNode {
			m.mustAPI(admin, "PATCH", "/api/users/"+userID, map[string]any{"name": fmt.Sprintf("%s %d", n.name, i)}, http.StatusOK, nil)
			time.Sleep(250 * time.Millisecond)
		}
	}
	const writes = 4 * perNode

	// listed is what /api/logs through n lists of the writes; a 503 (a shard's leader
	// out of reach: right after the placement, leaderships still move) is retried.
	listed := func(n *procNode) []string {
		m := n.mgmt(t)
		admin := m.adminToken(t.Context())
		var ids []string
		c.waitFor(t, 15*time.Second, "/api/logs through "+n.name, func() (ok bool, detail string) {
			ids, ok, detail = userUpdateLogs(m, admin, userID)
			return ok, detail
		})
		slices.Sort(ids)
		return ids
	}
	var want []string
	c.waitFor(t, 15*time.Second, "every write's entry listed through node1", func() (bool, string) {
		want = listed(nodes[0])
		return len(want) == writes, fmt.Sprintf("%d of %d", len(want), writes)
	})
	for _, n := range nodes[1:] {
		if got := listed(n); !slices.Equal(got, want) {
			t.Errorf("/api/logs through %s lists %d entries %v, through node1 %d %v", n.name, len(got), got, len(want), want)
		}
	}

	// Some node lacks the shard of some entry (the entry id is "<batch id>-<n>", the
	// batch id its routing key): its list read that entry through the shard's leader.
	proxied := 0
	for _, n := range nodes {
		for _, id := range want {
			batch := id[:strings.LastIndexByte(id, '-')]
			if !slices.Contains(hostedBy[n], persistence.ShardOf(audit.Kind, batch, count)) {
				proxied++
			}
		}
	}
	if proxied == 0 {
		t.Fatalf("every node holds the shard of every entry: the test did not read through a store proxy")
	}
	t.Logf("%d (node, entry) pairs were read through a store proxy", proxied)

	// An entry is found by id through every node too.
	for _, n := range nodes {
		m := n.mgmt(t)
		admin := m.adminToken(t.Context())
		var one auditLogEntry
		c.waitFor(t, 15*time.Second, "GET /api/logs/"+want[0]+" through "+n.name, func() (bool, string) {
			var raw json.RawMessage
			st, _ := m.api(admin, "GET", "/api/logs/"+want[0], nil, &raw)
			return st == http.StatusOK && json.Unmarshal(raw, &one) == nil, fmt.Sprintf("status %d: %s", st, raw)
		})
		if one.ID != want[0] {
			t.Errorf("GET /api/logs/%s through %s = %+v", want[0], n.name, one)
		}
	}
}

// auditLogEntry is what the cluster log tests read of an /api/logs entry.
type auditLogEntry struct {
	ID      string         `json:"id"`
	Payload map[string]any `json:"payload"`
}

// userUpdateLogs returns the ids of the ManagementApi.Update audit entries of writes to
// user userID that /api/logs through m lists; ok is false, with the answer, when it did
// not answer 200 (a 503 entity.unavailable while a shard's leader moves, which the
// callers retry, as a client would).
func userUpdateLogs(m *testNode, admin, userID string) (ids []string, ok bool, detail string) {
	var raw json.RawMessage // a 503 answers an error object, not a list
	st, _ := m.api(admin, "GET", "/api/logs?logKey=ManagementApi.Update&page_size=100", nil, &raw)
	if st != http.StatusOK {
		return nil, false, fmt.Sprintf("status %d: %s", st, raw)
	}
	var logs []auditLogEntry
	if err := json.Unmarshal(raw, &logs); err != nil {
		return nil, false, err.Error()
	}
	for _, l := range logs {
		if p, _ := l.Payload["path"].(string); p == "/api/users/"+userID {
			ids = append(ids, l.ID)
		}
	}
	return ids, true, ""
}
