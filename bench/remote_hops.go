package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// How many of a run's grain calls took a remote hop (Latch only): each node exports
// latch_grain_calls_total{kind, where="local"|"remote", result} at GET /metrics (the
// Prometheus text format, on the HTTP listener unless `latch serve --metrics` moved it).
// The harness reads every node's counters right before the load and right after it
// (warm-up included, setup and teardown excluded) and reports the share of the
// difference that was answered by an activation on another node. A node whose /metrics
// cannot be read is left out, with a note.

// grainCallsMetric is the counter family Latch exports (metrics/grains.go).
const grainCallsMetric = "latch_grain_calls_total"

// RemoteHops is the grain calls of a run by where they were answered.
type RemoteHops struct {
	// Local and Remote sum the nodes that could be read both times.
	Local  int64 `json:"local"`
	Remote int64 `json:"remote"`
	// RemoteShare is Remote / (Local + Remote), absent when no grain call was counted.
	RemoteShare *float64   `json:"remoteShare,omitempty"`
	Nodes       []NodeHops `json:"nodes"`
	// Note says what was left out (a node without /metrics).
	Note string `json:"note,omitempty"`
}

// NodeHops is one node's grain calls during a run.
type NodeHops struct {
	Endpoint    string   `json:"endpoint"`
	Local       int64    `json:"local"`
	Remote      int64    `json:"remote"`
	RemoteShare *float64 `json:"remoteShare,omitempty"`
	// Error is why the node was left out.
	Error string `json:"error,omitempty"`
}

// grainCalls is one reading of a node's counters.
type grainCalls struct {
	local, remote float64
}

// hopProbe reads the grain-call counters of a run's nodes.
type hopProbe struct {
	client    *http.Client
	endpoints []string // origins: scheme://host
}

// metricsURL is where a node's /metrics is.
func metricsURL(origin string) string { return strings.TrimSuffix(origin, "/") + "/metrics" }

// read takes one reading of every node: a nil entry where the node's counters could not
// be read, with the reason in errs.
func (p *hopProbe) read(ctx context.Context) ([]*grainCalls, []error) {
	out := make([]*grainCalls, len(p.endpoints))
	errs := make([]error, len(p.endpoints))
	for i, e := range p.endpoints {
		gc, err := scrapeGrainCalls(ctx, p.client, metricsURL(e))
		if err != nil {
			errs[i] = err
			continue
		}
		out[i] = &gc
	}
	return out, errs
}

// scrapeGrainCalls reads one node's grain-call counters.
func scrapeGrainCalls(ctx context.Context, client *http.Client, url string) (grainCalls, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return grainCalls{}, err
	}
	// The classic text format: what every Prometheus client library serves.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		return grainCalls{}, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return grainCalls{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return grainCalls{}, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	gc, err := parseGrainCalls(body)
	if err != nil {
		return grainCalls{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return gc, nil
}

// parseGrainCalls sums latch_grain_calls_total by its where label (every kind and
// result) in a Prometheus text exposition. No such family is zero calls (Latch exports a
// series once it has counted something); a document that is not the text format is an
// error. Never panics.
func parseGrainCalls(body []byte) (grainCalls, error) {
	// The text format is parsed here rather than with prometheus/common: only package
	// metrics may import Prometheus (internal/archtest), and bench imports nothing of
	// Latch. A sample line is: name{label="value",...} value [timestamp].
	var gc grainCalls
	for n, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		labels := ""
		if i := strings.IndexAny(line, "{ \t"); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return grainCalls{}, fmt.Errorf("not Prometheus text format: line %d: unclosed labels", n+1)
			}
			labels, rest = rest[1:end], rest[end+1:]
		}
		fields := strings.Fields(rest)
		if name == "" || len(fields) == 0 || len(fields) > 2 {
			return grainCalls{}, fmt.Errorf("not Prometheus text format: line %d: %.80q", n+1, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return grainCalls{}, fmt.Errorf("not Prometheus text format: line %d: value %q", n+1, fields[0])
		}
		if name != grainCallsMetric || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			continue
		}
		switch labelValue(labels, "where") {
		case "local":
			gc.local += v
		case "remote":
			gc.remote += v
		}
	}
	return gc, nil
}

// labelValue returns the value of label name in a sample's label list (the text
// between the braces), "" when absent. Values are quoted; \" and \\ are escapes.
func labelValue(labels, name string) string {
	for labels != "" {
		eq := strings.IndexByte(labels, '=')
		if eq < 0 || eq+1 >= len(labels) || labels[eq+1] != '"' {
			return ""
		}
		key := strings.TrimSpace(labels[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(labels) && labels[i] != '"'; i++ {
			if labels[i] == '\\' && i+1 < len(labels) {
				i++
			}
			val.WriteByte(labels[i])
		}
		if key == name {
			return val.String()
		}
		labels = strings.TrimLeft(labels[min(i+1, len(labels)):], ", ")
	}
	return ""
}

// remoteHops is the difference between two readings of the nodes (before and after a
// run), per node and in total, with a note naming the nodes left out.
func remoteHops(endpoints []string, before, after []*grainCalls, errs []error) *RemoteHops {
	r := &RemoteHops{}
	var left []string
	for i, e := range endpoints {
		n := NodeHops{Endpoint: e}
		switch {
		case i < len(errs) && errs[i] != nil:
			n.Error = errs[i].Error()
		case before[i] == nil || after[i] == nil:
			n.Error = "/metrics not read both before and after the run"
		case after[i].local < before[i].local || after[i].remote < before[i].remote:
			n.Error = "counters went down during the run (node restarted?)"
		default:
			n.Local = int64(math.Round(after[i].local - before[i].local))
			n.Remote = int64(math.Round(after[i].remote - before[i].remote))
			n.RemoteShare = share(n.Remote, n.Local+n.Remote)
			r.Local += n.Local
			r.Remote += n.Remote
		}
		if n.Error != "" {
			left = append(left, e)
		}
		r.Nodes = append(r.Nodes, n)
	}
	r.RemoteShare = share(r.Remote, r.Local+r.Remote)
	if len(left) > 0 {
		r.Note = fmt.Sprintf("left out (no usable /metrics): %s", strings.Join(left, ", "))
		if len(left) == len(endpoints) {
			r.Note = "skipped: no node's /metrics could be read (" + r.Nodes[0].Error + ")"
		}
	}
	return r
}

// share is n/of rounded to 4 decimals, nil when of is 0.
func share(n, of int64) *float64 {
	if of <= 0 {
		return nil
	}
	s := math.Round(float64(n)/float64(of)*1e4) / 1e4
	return &s
}

// describe is the report's line: "33.4% of 1234 grain calls (a 30.1%, b 35.0%)".
func (r *RemoteHops) describe() string {
	if r.RemoteShare == nil {
		if r.Note != "" {
			return r.Note
		}
		return "no grain call counted during the run"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%.1f%% of %d grain calls took a remote hop", 100**r.RemoteShare, r.Local+r.Remote)
	if len(r.Nodes) > 1 {
		var parts []string
		for _, n := range r.Nodes {
			host := strings.TrimPrefix(strings.TrimPrefix(n.Endpoint, "http://"), "https://")
			switch {
			case n.Error != "":
				parts = append(parts, host+" unread")
			case n.RemoteShare == nil:
				parts = append(parts, host+" none")
			default:
				parts = append(parts, fmt.Sprintf("%s %.1f%% of %d", host, 100**n.RemoteShare, n.Local+n.Remote))
			}
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if r.Note != "" {
		b.WriteString("; " + r.Note)
	}
	return b.String()
}
