package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	props := actor.PropsFromFunc(func(actor.Context) {})
	kind := func(name string) *cluster.Kind { return cluster.NewKind(name, props) }
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; nil means valid
	}{
		{name: "zero value is valid", cfg: Config{}},
		{name: "full config", cfg: Config{
			Name: "prod", BindHost: "10.1.2.3", RemotePort: 8090, GossipAddr: "0.0.0.0:7946",
			Join: []string{"10.1.2.4:7946", "node-2.internal:7946"}, Kinds: []*cluster.Kind{kind("grant"), kind("session")},
			RequestTimeout: time.Second, Gossip: FastGossip(),
		}},
		{name: "every problem at once", cfg: Config{
			Name: "has space", BindHost: "0.0.0.0", RemotePort: 70000, GossipAddr: "localhost:x",
			Join: []string{"nope"}, Kinds: []*cluster.Kind{kind("grant"), kind("grant"), nil, {Kind: "bare"}},
			RequestTimeout: -1, Gossip: GossipTiming{ProbeInterval: time.Second, ProbeTimeout: 2 * time.Second, SuspicionMult: -1, TCPTimeout: -1},
		}, wantErr: []string{
			"name", "bind host", "remote port", "gossip address", "join address",
			`kind "grant" is listed twice`, "kind #2 is nil", `kind "bare" has no props`,
			"request timeout", "probe timeout", "suspicion multiplier", "TCP timeout",
		}},
		{name: "remoting on the gossip port", cfg: Config{RemotePort: 7946},
			wantErr: []string{"remoting and gossip addresses are both 127.0.0.1:7946"}},
		{name: "raft on the remoting port of a wildcard gossip host", cfg: Config{
			BindHost: "10.0.0.1", RemotePort: 7000, GossipAddr: "0.0.0.0:7000", RaftAddr: "10.0.0.1:7000",
		}, wantErr: []string{"remoting and gossip", "remoting and raft", "gossip and raft"}},
		{name: "raft address without a port", cfg: Config{RaftAddr: "10.0.0.1"},
			wantErr: []string{"raft address"}},
		{name: "distinct fixed ports", cfg: Config{RemotePort: 7947, RaftAddr: "127.0.0.1:7948", NodeID: 1}},
		{name: "kind names beyond the metadata limit", cfg: Config{
			Kinds: []*cluster.Kind{kind(strings.Repeat("k", 300)), kind(strings.Repeat("j", 300))},
		}, wantErr: []string{"metadata limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.Name != "latch" || c.BindHost != "127.0.0.1" || c.GossipAddr != "127.0.0.1:7946" ||
		c.RequestTimeout != DefaultRequestTimeout || c.Logger == nil || c.LibraryLogLevel == nil {
		t.Errorf("defaults = %+v", c)
	}
	mc := FastGossip().memberlistConfig()
	if mc.ProbeInterval != 20*time.Millisecond || mc.SuspicionMult != 2 {
		t.Errorf("memberlist config ignores the timings: probe %v, suspicion %d", mc.ProbeInterval, mc.SuspicionMult)
	}
	if def := (GossipTiming{}).memberlistConfig(); def.ProbeInterval != time.Second {
		t.Errorf("zero timings should keep memberlist.DefaultLocalConfig, got probe interval %v", def.ProbeInterval)
	}
}
