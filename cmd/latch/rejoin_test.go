package main

import (
	"slices"
	"testing"

	"github.com/latchid/latch/cluster"
)

func TestGossipPeersFile(t *testing.T) {
	dir := t.TempDir()
	if got, err := loadGossipPeers(dir); err != nil || got != nil {
		t.Fatalf("no file: %v %v", got, err)
	}
	for _, want := range [][]string{{"127.0.0.1:7946", "127.0.0.1:7949"}, nil} {
		if err := saveGossipPeers(dir, want); err != nil {
			t.Fatal(err)
		}
		if got, err := loadGossipPeers(dir); err != nil || !slices.Equal(got, want) {
			t.Fatalf("saved %v, loaded %v (%v)", want, got, err)
		}
	}
	seeds := rejoinSeeds([]string{"127.0.0.1:7946"}, []string{"127.0.0.1:7946", "127.0.0.1:7949", "127.0.0.1:7952"}, "127.0.0.1:7952")
	if !slices.Equal(seeds, []string{"127.0.0.1:7946", "127.0.0.1:7949"}) {
		t.Fatalf("seeds %v: want --join and the saved peers, once each, without self", seeds)
	}
	members := []cluster.NodeInfo{{NodeID: 2, Gossip: "127.0.0.1:7949"}, {NodeID: 1, Gossip: "127.0.0.1:7946"},
		{NodeID: 3, Gossip: "127.0.0.1:7952", Leaving: true}}
	if got := otherGossipAddrs(members, 1); !slices.Equal(got, []string{"127.0.0.1:7949"}) {
		t.Fatalf("other members %v: want node 2 only (not self, not a leaving member)", got)
	}
}
