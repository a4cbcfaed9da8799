package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Raft implements raftgroup.Observer: per group, leader changes, proposal latency
// (proposed to applied on the proposing node, which includes the commit) and how far
// the applied index trails the commit index. Group ids are a small fixed set (the
// directory group and the shards), so they are a bounded label.
type Raft struct {
	leaderChanges *prometheus.CounterVec
	isLeader      *prometheus.GaugeVec
	proposals     *prometheus.HistogramVec
	commit        *prometheus.GaugeVec
	applied       *prometheus.GaugeVec
	lag           *prometheus.GaugeVec

	groups sync.Map // uint64 -> *raftGroup
}

type raftGroup struct {
	leaderChanges           prometheus.Counter
	isLeader                prometheus.Gauge
	proposalOK, proposalErr prometheus.Observer
	commit, applied, lag    prometheus.Gauge
}

// NewRaft registers the Raft collectors on reg.
func NewRaft(reg prometheus.Registerer) *Raft {
	g := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "raft", Name: name, Help: help}, []string{"group"})
	}
	m := &Raft{
		leaderChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "raft", Name: "leader_changes_total",
			Help: "Leader changes this node saw, per Raft group (a new leader, or none).",
		}, []string{"group"}),
		isLeader: g("is_leader", "1 while this node leads the group."),
		proposals: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "raft", Name: "proposal_duration_seconds",
			Help:    "Proposal latency, from Propose to applied on this node (commit included), per group and result (ok, error).",
			Buckets: latencyBuckets,
		}, []string{"group", "result"}),
		commit:  g("commit_index", "Highest log index this node knows is committed."),
		applied: g("applied_index", "Highest log index this node applied."),
		lag:     g("apply_lag_entries", "Committed entries not yet applied on this node (commit_index - applied_index)."),
	}
	reg.MustRegister(m.leaderChanges, m.isLeader, m.proposals, m.commit, m.applied, m.lag)
	return m
}

func (m *Raft) group(id uint64) *raftGroup {
	if g, ok := m.groups.Load(id); ok {
		return g.(*raftGroup)
	}
	l := strconv.FormatUint(id, 10)
	g, _ := m.groups.LoadOrStore(id, &raftGroup{
		leaderChanges: m.leaderChanges.WithLabelValues(l),
		isLeader:      m.isLeader.WithLabelValues(l),
		proposalOK:    m.proposals.WithLabelValues(l, "ok"),
		proposalErr:   m.proposals.WithLabelValues(l, "error"),
		commit:        m.commit.WithLabelValues(l),
		applied:       m.applied.WithLabelValues(l),
		lag:           m.lag.WithLabelValues(l),
	})
	return g.(*raftGroup)
}

// LeaderChanged records that group's leader is now leader (0: none known) and
// whether it is this node.
func (m *Raft) LeaderChanged(group, leader uint64, self bool) {
	g := m.group(group)
	g.leaderChanges.Inc()
	if self {
		g.isLeader.Set(1)
	} else {
		g.isLeader.Set(0)
	}
}

// ProposalDone records one proposal's latency and whether it applied.
func (m *Raft) ProposalDone(group uint64, elapsed time.Duration, err error) {
	g := m.group(group)
	if err != nil {
		g.proposalErr.Observe(elapsed.Seconds())
		return
	}
	g.proposalOK.Observe(elapsed.Seconds())
}

// Applied records the group's commit and applied indexes after a Ready was handled.
func (m *Raft) Applied(group, commit, applied uint64) {
	g := m.group(group)
	g.commit.Set(float64(commit))
	g.applied.Set(float64(applied))
	lag := float64(0)
	if commit > applied {
		lag = float64(commit - applied)
	}
	g.lag.Set(lag)
}
