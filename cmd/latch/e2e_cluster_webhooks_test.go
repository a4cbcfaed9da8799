package main

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// outboxKeyLine matches the outbox's log line of a webhook's first failed attempt
// (logged at info by the shard leader's worker, which alone delivers the entry).
var outboxKeyLine = regexp.MustCompile(`msg="outbox delivery failed; will retry".* event=(\S+) key=(\S+) attempt=1 `)

// outboxKeys reads node n's log: the outbox keys of the events of kind event whose
// first attempt failed there.
func (n *procNode) outboxKeys(t *testing.T, event string) []string {
	t.Helper()
	raw, err := os.ReadFile(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range outboxKeyLine.FindAllStringSubmatch(string(raw), -1) {
		if m[1] == event {
			out = append(out, m[2])
		}
	}
	return out
}

// TestClusterWebhooksSurviveLeaderDeath: on a three-node cluster, events queued while
// their receiver is down survive the kill -9 of the node that leads the outbox shard
// holding them: another replica takes the shard over, and when the receiver comes up it
// gets every event, validly signed.
func TestClusterWebhooksSurviveLeaderDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t, "--backchannel-backoff", "200ms", "--backchannel-max-backoff", "1s")
	nodes := c.startCluster(3)
	c.waitFor(t, 60*time.Second, "every node a voter of every shard", func() (bool, string) {
		for _, n := range nodes {
			st, body := n.probe("/api/cluster")
			sh, _ := body["shards"].(map[string]any)
			if st != http.StatusOK || sh == nil {
				return false, fmt.Sprintf("%s: /api/cluster %d", n.name, st)
			}
			voting, _ := sh["voting"].([]any)
			if count, _ := sh["count"].(float64); len(voting) != int(count) {
				return false, fmt.Sprintf("%s votes in %d of %v shards", n.name, len(voting), count)
			}
		}
		return true, ""
	})
	ctx := t.Context()
	m := nodes[0].mgmt(t)
	admin := m.adminToken(ctx)

	addr := "127.0.0.1:" + strconv.Itoa(freePortRange(t, 1)) // nothing listens there yet
	var hook hookBody
	m.mustAPI(admin, "POST", "/api/hooks", map[string]any{
		"name": "provisioning", "events": []string{"User.Created"}, "config": map[string]any{"url": "http://" + addr + "/hook"},
	}, http.StatusCreated, &hook)

	// Events queued through node 1, paced; each is tried once, fails, and waits.
	const events = 12
	var ids []string
	for i := range events {
		var u struct{ ID string }
		m.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "clustered_" + strconv.Itoa(i)}, http.StatusOK, &u)
		ids = append(ids, u.ID)
		time.Sleep(50 * time.Millisecond)
	}
	keysOf := map[*procNode][]string{}
	c.waitFor(t, 30*time.Second, "a failed first attempt for every event", func() (bool, string) {
		total := 0
		for _, n := range nodes {
			keysOf[n] = n.outboxKeys(t, "User.Created")
			total += len(keysOf[n])
		}
		return total >= events, fmt.Sprintf("%d of %d", total, events)
	})

	// The victim leads the outbox shard holding the most of them (/api/cluster's
	// shards.leading, persistence.ShardOf on the outbox keys).
	var victim *procNode
	var victimShards []uint32
	best := 0
	for _, n := range nodes {
		lead, count := n.leading()
		var held []uint32
		queued := 0
		for _, keys := range keysOf {
			for _, k := range keys {
				if sh := persistence.ShardOf(outbox.Kind, k, uint32(count)); count > 0 && slices.Contains(lead, sh) {
					queued++
					if !slices.Contains(held, sh) {
						held = append(held, sh)
					}
				}
			}
		}
		if queued > best {
			victim, victimShards, best = n, held, queued
		}
	}
	if victim == nil {
		t.Fatal("no node leads a shard holding a queued event")
	}
	t.Logf("kill -9 %s: it leads shards %v holding %d of the %d queued events", victim.name, victimShards, best, events)
	victim.kill()

	// The survivors take its shards over.
	c.waitFor(t, 30*time.Second, "new leaders for the victim's shards", func() (bool, string) {
		var orphan []uint32
		for _, sh := range victimShards {
			led := false
			for _, n := range c.running() {
				lead, _ := n.leading()
				led = led || slices.Contains(lead, sh)
			}
			if !led {
				orphan = append(orphan, sh)
			}
		}
		return len(orphan) == 0, fmt.Sprintf("no leader yet for %v", orphan)
	})

	// The receiver comes up: every event arrives, signed with the hook's key.
	rc := receiveWebhooksAt(t, addr)
	waitUsersCreatedDelivered(t, c, 30*time.Second, rc, hook, ids)
	for _, d := range rc.deliveries() {
		if !validSignature(d, hook.SigningKey) {
			t.Errorf("a delivery with a bad signature: %s", d.raw)
		}
	}
}
