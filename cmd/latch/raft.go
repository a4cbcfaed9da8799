package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/raftgroup"
	"github.com/latchid/latch/directory"
	httpapi "github.com/latchid/latch/http"
	"github.com/latchid/latch/persistence"
)

// directoryGroup is the Raft group id of the replicated directory (0 is reserved by
// raftgroup for its hello frames).
const directoryGroup = 1

// How a node enters the directory's Raft group, decided from its raft log and --join.
type raftStart string

const (
	// raftBootstrap: empty raft log, no --join: this node founds a new cluster and is
	// its first voter. Its directory (empty, or a single node's from before it was a
	// cluster) is the cluster's.
	raftBootstrap raftStart = "bootstrap"
	// raftJoin: empty raft log and --join: this node waits for the cluster's leader to
	// add it (the autopilot does, once gossip sees it) and takes the cluster's
	// directory from a snapshot. It never bootstraps.
	raftJoin raftStart = "join"
	// raftRestart: the raft log holds state: this node resumes as the member it was.
	raftRestart raftStart = "restart"
)

// directoryRaft is this node's part of the replicated directory: the raft log in
// <data>/raft, the raft transport, and group 1 applying to the directory.
type directoryRaft struct {
	log   *persistence.RaftLog
	host  *raftgroup.Host
	group *raftgroup.Group
	start raftStart
	// caughtUp: readiness saw this node caught up once (directoryReadiness).
	caughtUp atomic.Bool
}

// startDirectoryRaft opens <data>/raft, listens on addr (a free port when its port is
// 0: Addr tells which) and starts group 1 with the directory as its state machine.
// It does not route the directory's writes through the group yet (see
// directory.Replicate).
func startDirectoryRaft(cfg serveConfig, nodeID uint64, addr string, dir *directory.Directory, obs raftgroup.Observer, log *slog.Logger) (_ *directoryRaft, err error) {
	rl, err := persistence.OpenRaftLog(persistence.RaftLogConfig{Dir: filepath.Join(cfg.Data, "raft"), Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rl.Close()
		}
	}()
	storage, err := rl.Group(directoryGroup)
	if err != nil {
		return nil, fmt.Errorf("raft log: %w", err)
	}
	has, err := raftgroup.HasState(storage)
	if err != nil {
		return nil, fmt.Errorf("raft log: %w", err)
	}
	start := raftRestart
	switch {
	case has:
	case len(cfg.joinList()) == 0:
		start = raftBootstrap
	default:
		start = raftJoin
	}
	// Raft timing for the directory and the hot-state shards: a 50 ms tick, heartbeats
	// every 100 ms and an election after 600 ms to 1.2 s of silence, so that a shard whose
	// leader died serves again well within 2 s (issue 14; cluster/shards TestFigures).
	host, err := raftgroup.NewHost(raftgroup.Config{NodeID: nodeID, ListenAddr: addr, Logger: log, Observer: obs,
		TickInterval: 50 * time.Millisecond, HeartbeatTicks: 2, ElectionTicks: 12})
	if err != nil {
		return nil, fmt.Errorf("raft transport (--raft): %w", err)
	}
	var peers []raftgroup.Peer
	if start == raftBootstrap {
		peers = []raftgroup.Peer{{ID: nodeID, Addr: host.Addr()}}
	}
	group, err := host.StartGroup(raftgroup.GroupConfig{
		ID:           directoryGroup,
		StateMachine: dir.Replica(),
		Storage:      storage,
		Peers:        peers,
		Applied:      dir.AppliedIndex(),
	})
	if err != nil {
		host.Stop()
		return nil, fmt.Errorf("directory raft group: %w", err)
	}
	log.Info("directory raft group started", "start", string(start), "raft_address", host.Addr(),
		"applied", dir.AppliedIndex(), "log", filepath.Join(cfg.Data, "raft"))
	return &directoryRaft{log: rl, host: host, group: group, start: start}, nil
}

// Stop stops the transport and the group, then closes the raft log.
func (r *directoryRaft) Stop() error {
	r.host.Stop()
	return r.log.Close()
}

// Propose implements directory.Log: a write batch replicated through group 1. A write
// that finds no leader or no quorum before its deadline is directory.ErrUnavailable
// (HTTP 503).
func (r *directoryRaft) Propose(ctx context.Context, data []byte) (any, error) {
	v, err := r.group.Propose(ctx, data)
	if errors.Is(err, raftgroup.ErrUnavailable) || errors.Is(err, raftgroup.ErrStopped) {
		return nil, fmt.Errorf("%w (%w)", directory.ErrUnavailable, err)
	}
	return v, err
}

var _ directory.Log = (*directoryRaft)(nil)

// waitLeader waits until group 1 knows a leader and returns its id.
func (r *directoryRaft) waitLeader(ctx context.Context) (uint64, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if l := r.group.Leader(); l != 0 {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// mayInitDirectory decides whether this node writes the directory's first records (the
// admin application, the first signing key): a node that bootstraps a new cluster does,
// once it leads its group; a restarted node does only when its directory still lacks
// them and it leads the group (a single node stopped before it finished); a joining
// node never does: it takes the cluster's directory, and its --admin-client-* flags
// are ignored.
func (r *directoryRaft) mayInitDirectory(ctx context.Context, dir *directory.Directory, cfg serveConfig, log *slog.Logger) (bool, error) {
	switch r.start {
	case raftJoin:
		if cfg.AdminClientID != "" {
			log.Info("joining a cluster: --admin-client-id and --admin-client-secret are ignored, the cluster's directory applies")
		}
		return false, nil
	case raftRestart:
		if dir.Ready() {
			return false, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	leader, err := r.waitLeader(ctx)
	if err != nil {
		if r.start == raftBootstrap {
			return false, fmt.Errorf("directory raft group: no leader elected: %w", err)
		}
		log.Warn("directory raft group: no leader yet; waiting for the cluster's directory", "err", err)
		return false, nil
	}
	return leader == r.host.NodeID(), nil
}

// leave removes this node from group 1 when other voters remain (a sole voter keeps its
// group: it is the cluster). The removal is proposed through the leader and waited for
// at most a few seconds; without a quorum it fails, and the leader's autopilot removes
// the node when its leave is gossiped.
func (r *directoryRaft) leave(ctx context.Context, log *slog.Logger) {
	st := r.group.Status()
	self := r.host.NodeID()
	if !slices.Contains(st.Voters, self) && !slices.Contains(st.Learners, self) {
		return
	}
	if others := slices.DeleteFunc(slices.Clone(st.Voters), func(id uint64) bool { return id == self }); len(others) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.group.Remove(ctx, self); err != nil {
		log.Warn("directory raft group: leaving the group failed; the leader removes this node when gossip reports its leave", "err", err)
		return
	}
	log.Info("directory raft group: left the group before stopping")
}

// transferLeadership hands group 1's leadership to the most caught-up voter when this
// node leads it, so that a graceful stop costs the cluster no election timeout.
func (r *directoryRaft) transferLeadership(ctx context.Context, log *slog.Logger) {
	if !r.group.IsLeader() {
		return
	}
	st := r.group.Status()
	var to, best uint64
	for _, id := range st.Voters {
		if p, ok := st.Progress[id]; ok && id != st.Node && p.RecentActive && (to == 0 || p.Match > best) {
			to, best = id, p.Match
		}
	}
	if to == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.group.TransferLeadership(ctx, to); err != nil {
		log.Warn("directory raft group: leadership transfer failed", "to", cluster.FormatNodeID(to), "err", err)
		return
	}
	log.Info("directory raft group: leadership transferred before stopping", "to", cluster.FormatNodeID(to))
}

// raftStatus is the directory group's state in /api/cluster.
type raftStatus struct {
	Group    uint64   `json:"group"`
	State    string   `json:"state"`
	Leader   string   `json:"leader,omitempty"`
	Term     uint64   `json:"term"`
	Voters   []string `json:"voters"`
	Learners []string `json:"learners"`
	Applied  uint64   `json:"applied"`
	Commit   uint64   `json:"commit"`
	// DirectoryApplied is the last entry the directory applied (entries without a
	// directory write, such as configuration changes, are not counted there).
	DirectoryApplied uint64 `json:"directoryApplied"`
}

func (r *directoryRaft) status(dir *directory.Directory) raftStatus {
	st := r.group.Status()
	ids := func(in []uint64) []string {
		out := make([]string, 0, len(in))
		for _, id := range in {
			out = append(out, cluster.FormatNodeID(id))
		}
		return out
	}
	rs := raftStatus{
		Group: st.Group, State: st.State, Term: st.Term, Voters: ids(st.Voters), Learners: ids(st.Learners),
		Applied: st.Applied, Commit: st.Commit, DirectoryApplied: dir.AppliedIndex(),
	}
	if st.Leader != 0 {
		rs.Leader = cluster.FormatNodeID(st.Leader)
	}
	return rs
}

// directoryReadiness names what keeps this node from serving the directory. Until it
// first caught up: not a member of group 1 yet, no leader known, log not applied up to
// the commit index it heard, or a directory without its admin application and signing
// key. Once caught up, it stays ready while it is a member: without a leader (no
// quorum) it still serves reads and tokens from its directory, and only directory
// writes fail (503); taking every survivor out of the load balancer would turn a lost
// quorum into an outage. A node removed from the group no longer follows the
// directory: it is not ready until it is added again and caught up.
// watchCaughtUp evaluates the directory's readiness every 250 ms until ctx is done,
// so that "caught up" is latched (directoryReadiness) as soon as it holds, and again
// after this node was removed from the group and added back.
func (r *directoryRaft) watchCaughtUp(ctx context.Context, dir *directory.Directory) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		r.directoryReadiness(dir)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *directoryRaft) directoryReadiness(dir *directory.Directory) string {
	st := r.group.Status()
	member := slices.Contains(st.Voters, st.Node) || slices.Contains(st.Learners, st.Node)
	switch {
	case !member:
		// Not yet, or removed (declared dead past the grace period): the leader adds
		// it again once gossip sees it, and it catches up again.
		r.caughtUp.Store(false)
		return "not a member of the directory's raft group yet (the leader adds a node gossip sees)"
	case r.caughtUp.Load():
		return ""
	case st.Leader == 0:
		return "no leader"
	case st.Applied < st.Commit:
		return fmt.Sprintf("catching up (applied %d of %d)", st.Applied, st.Commit)
	case !dir.Ready():
		return "no admin application or current signing key yet"
	}
	r.caughtUp.Store(true)
	return ""
}

// startingHandler answers while a node waits for the cluster's directory before it can
// build its full handler: /healthz is alive, /readyz says what is missing (as the full
// handler's do), anything else is 503.
func startingHandler(ready httpapi.Readiness) http.Handler {
	write := func(w http.ResponseWriter, status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			write(w, http.StatusOK, map[string]string{"status": "ok"})
		case "/readyz":
			rep := ready(r.Context())
			if len(rep.NotReady) == 0 {
				rep.NotReady = map[string]string{"directory": "loading"}
			}
			write(w, http.StatusServiceUnavailable, map[string]any{"status": "not_ready", "node": rep.Node, "notReady": rep.NotReady})
		default:
			w.Header().Set("Retry-After", "1")
			write(w, http.StatusServiceUnavailable, map[string]string{"code": "directory.not_ready",
				"message": "this node is catching up with the cluster's directory; try again"})
		}
	})
}
