package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/latchid/latch/cluster"
)

// gossipPeersFile is <data>/gossip-peers: the gossip addresses of the other members
// this node last saw, one per line. A node restarted on its data directory (its raft
// log holds state) joins them besides --join. Without it the founding node, started
// without --join, comes back as a cluster of its own at the gossip level: its raft
// group reconnects by the addresses in its log, but the other members' gossip has
// declared it dead and never contacts it again, so grains are placed on two disjoint
// memberships and a node joining through it is never seen by the raft leader.
const gossipPeersFile = "gossip-peers"

// loadGossipPeers reads <data>/gossip-peers; a missing file is no peers.
func loadGossipPeers(dataDir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, gossipPeersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// saveGossipPeers replaces <data>/gossip-peers atomically (write, fsync, rename).
func saveGossipPeers(dataDir string, peers []string) error {
	path := filepath.Join(dataDir, gossipPeersFile)
	tmp, err := os.CreateTemp(dataDir, gossipPeersFile+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	var body string
	if len(peers) > 0 {
		body = strings.Join(peers, "\n") + "\n"
	}
	if _, err := tmp.WriteString(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// rejoinSeeds is --join plus the saved peers, without duplicates and without self
// (this node's gossip address).
func rejoinSeeds(join, saved []string, self string) []string {
	var out []string
	for _, a := range append(slices.Clone(join), saved...) {
		if a == "" || cluster.SameAddr(a, self) || slices.ContainsFunc(out, func(b string) bool { return cluster.SameAddr(a, b) }) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// otherGossipAddrs are the gossip addresses of the live members other than self,
// sorted.
func otherGossipAddrs(members []cluster.NodeInfo, self uint64) []string {
	var out []string
	for _, m := range members {
		if m.NodeID != self && m.Gossip != "" && !m.Leaving {
			out = append(out, m.Gossip)
		}
	}
	slices.Sort(out)
	return out
}

// recordGossipPeers keeps <data>/gossip-peers equal to the other live members' gossip
// addresses once this node joined its cluster, rewriting it on each membership
// change, until ctx is done.
func recordGossipPeers(ctx context.Context, node *cluster.Node, dataDir string, self uint64, log *slog.Logger) {
	var last []string
	for {
		changed := node.MembershipChanged()
		// Before a seed answered, the members are this node alone: keep the file.
		if peers := otherGossipAddrs(node.Nodes(), self); node.Joined() && (last == nil || !slices.Equal(peers, last)) {
			if err := saveGossipPeers(dataDir, peers); err != nil {
				log.Warn("cannot record the cluster's members for a restart", "file", filepath.Join(dataDir, gossipPeersFile), "err", fmt.Sprint(err))
			} else {
				last = append([]string{}, peers...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
