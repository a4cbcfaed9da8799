package main

import (
	"strings"
	"testing"
)

func TestServeConfigClusterAddrs(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantHost string
		wantPort int
		wantRaft string
		wantErr  []string
	}{
		{name: "derived from the gossip address", args: []string{"--gossip", "10.0.0.5:7000"},
			wantHost: "10.0.0.5", wantPort: 7001, wantRaft: "10.0.0.5:7002"},
		{name: "defaults", wantHost: "127.0.0.1", wantPort: 7947, wantRaft: "127.0.0.1:7948"},
		{name: "port 0 means derived, host empty means the gossip host",
			args:     []string{"--gossip", "127.0.0.1:9000", "--remoting", "127.0.0.2:0", "--raft", ":9100"},
			wantHost: "127.0.0.2", wantPort: 9001, wantRaft: "127.0.0.1:9100"},
		{name: "from the environment", env: map[string]string{"LATCH_REMOTING": "127.0.0.1:8001", "LATCH_RAFT": "127.0.0.1:8002"},
			wantHost: "127.0.0.1", wantPort: 8001, wantRaft: "127.0.0.1:8002"},
		{name: "free gossip port leaves the others free", args: []string{"--gossip", "127.0.0.1:0"},
			wantHost: "127.0.0.1", wantPort: 0, wantRaft: "127.0.0.1:0"},
		{name: "remoting on the gossip port", args: []string{"--remoting", "127.0.0.1:7946"},
			wantErr: []string{"--gossip and --remoting are the same address"}},
		{name: "raft on the HTTP port", args: []string{"--http", "0.0.0.0:7000", "--raft", "127.0.0.1:7000"},
			wantErr: []string{"--http and --raft are the same address"}},
		{name: "ports out of range", args: []string{"--remoting", "127.0.0.1:70000", "--raft", "127.0.0.1:x"},
			wantErr: []string{"--remoting", "--raft"}},
		{name: "derived port beyond 65535", args: []string{"--gossip", "127.0.0.1:65535"},
			wantErr: []string{"--remoting: the default gossip port + 1", "--raft: the default gossip port + 2"}},
		{name: "wildcard gossip host is not advertisable", args: []string{"--gossip", "0.0.0.0:7946"},
			wantErr: []string{"--remoting: host 0.0.0.0", "--raft: host 0.0.0.0"}},
		{name: "wildcard gossip host with explicit advertised hosts",
			args:     []string{"--gossip", "0.0.0.0:7946", "--remoting", "10.0.0.5:0", "--raft", "10.0.0.5:0"},
			wantHost: "10.0.0.5", wantPort: 7947, wantRaft: "10.0.0.5:7948"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeConfig(tt.args, env(tt.env))
			if tt.wantErr != nil {
				if err == nil {
					t.Fatal("accepted")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q: %v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, err := cfg.clusterAddrs()
			if err != nil {
				t.Fatal(err)
			}
			if a.RemotingHost != tt.wantHost || a.RemotingPort != tt.wantPort || a.Raft != tt.wantRaft {
				t.Errorf("remoting %s:%d raft %s; want %s:%d raft %s", a.RemotingHost, a.RemotingPort, a.Raft, tt.wantHost, tt.wantPort, tt.wantRaft)
			}
		})
	}
}
