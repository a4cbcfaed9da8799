#!/usr/bin/env bash
# scripts/bench-cluster.sh -- what `make bench-cluster` runs: refresh and sso-code against
# one Latch node, then against a 3-node loopback cluster, in one sitting, with the
# results in bench/results/<date>-<host>-cluster.md (Markdown only: the JSON reports stay
# in the temporary directory).
#
#  1. builds bin/latch;
#  2. starts one `latch serve` on 127.0.0.1 (free ports, a temporary data directory,
#     --durability as `make bench` uses), waits for /readyz, runs refresh and sso-code
#     with `latch bench --issuer`, and stops it;
#  3. starts three nodes as README.md's "Running a cluster" does (temporary data
#     directories, free ports on 127.0.0.1, one shared --endpoint: the public address of
#     a load balancer nobody runs; node 1 founds, nodes 2 and 3 --join it), waits for
#     /readyz on all three, and runs the same two scenarios with `latch bench --endpoints`
#     across the three nodes: the load generator is the load balancer (setup on node 1;
#     each browser's requests go to the nodes in turn, so every refresh rotation and
#     both halves of an sso-code round cross nodes);
#  4. writes one table (scenario x {1 node, 3 nodes}: req/s, p50, p99, errors, and the
#     share of grain calls that took a remote hop, read from every node's /metrics)
#     and every run's report.
#
# Every server is stopped at exit (trap), whatever happens. Bounded: four runs of
# warm-up + duration (3 s + 15 s by default) plus setup, about 2 minutes in all. The
# three nodes and the load generator share this machine's cores: the 3-node figures
# price the cluster's coordination on the same hardware, not a scale-out.
# Knobs (environment): BENCH_CLUSTER_WARMUP (3s), BENCH_CLUSTER_DURATION (15s),
# BENCH_CLUSTER_CONCURRENCY (16), BENCH_DURABILITY (sync), BENCH_ARGON2_MEMORY (19456
# KiB), BENCH_SOURCE (default: git describe), BENCH_RESULTS (bench/results),
# BENCH_BUSY_LIMIT, BENCH_STEAL_LIMIT (as make bench), GO (go).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
WARMUP=${BENCH_CLUSTER_WARMUP:-3s}
DURATION=${BENCH_CLUSTER_DURATION:-15s}
CONCURRENCY=${BENCH_CLUSTER_CONCURRENCY:-16}
DURABILITY=${BENCH_DURABILITY:-sync}
ARGON2_MEMORY=${BENCH_ARGON2_MEMORY:-19456}
SOURCE=${BENCH_SOURCE:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
RESULTS=${BENCH_RESULTS:-bench/results}

SCRIPT=bench-cluster.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_init
results_stem "-cluster"

# NODE_PIDS are the servers of the configuration under test: the CPU accounting of a
# run counts all of them as the server (bench-lib's server_ticks counts SERVER_PID only).
NODE_PIDS=()
server_ticks() {
	local total=0 p t
	for p in "${NODE_PIDS[@]}"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
		total=$((total + t))
	done
	echo "$total"
}

bench_admin
COMMON=(--durability "$DURABILITY" --argon2-memory "$ARGON2_MEMORY" --log-level warn)
ADMIN=(--admin-client-id "$ADMIN_ID" --admin-client-secret "$ADMIN_SECRET")

# start_node NAME DIR PUBLIC [ARGS...]: starts `latch serve` on free loopback ports with
# data in DIR and --endpoint PUBLIC ("self": the node's own address), waits for its
# /readyz; sets NODE_HTTP (its base URL) and NODE_GOSSIP, records the command line in
# SERVERS.
SERVERS=()
start_node() {
	local name=$1 dir=$2 public=$3
	shift 3
	local http gossip remoting raft
	take_port http
	take_port gossip
	take_port remoting
	take_port raft
	[ "$public" != self ] || public="http://127.0.0.1:$http"
	local args=(serve --data "$dir" --http "127.0.0.1:$http" --endpoint "$public" --gossip "127.0.0.1:$gossip"
		--remoting "127.0.0.1:$remoting" --raft "127.0.0.1:$raft" "${COMMON[@]}" "$@")
	SERVERS+=("$name: \`$(redact "$LATCH ${args[*]}")\`")
	start_server "$TMP/$name.log" "$LATCH" "${args[@]}"
	NODE_PIDS+=("$SERVER_PID")
	NODE_HTTP="http://127.0.0.1:$http"
	NODE_GOSSIP="127.0.0.1:$gossip"
	wait_ready "$name" "$NODE_HTTP/readyz"
}

# crun NAME TITLE ARGS...: one `latch bench ARGS...` run; its JSON report in TMP, its text
# report into SECTIONS, the CPU other processes and the hypervisor took during it noted.
crun() {
	local name=$1 title=$2
	shift 2
	local json="$TMP/$name.json"
	local args=(bench --json "$json" --label "$name" --warmup "$WARMUP" --duration "$DURATION"
		--concurrency "$CONCURRENCY" --engine goroutines --progress 0 "$@")
	local shown code=0 busy stolen head
	shown=$(redact "$LATCH ${args[*]}")
	say "running: $shown"
	measured "$name" "${args[@]}"
	head=$(head -n1 "$TMP/$name.txt" 2>/dev/null || true)
	[ -n "$head" ] || head="FAILED (exit $code): see below"
	flag_noisy
	HEADLINES+=("- **$title**: $head")
	{
		report_section
	} >>"$SECTIONS"
}

# jnum FILE KEY: a top-level number of a JSON report (empty if absent).
jnum() { sed -n "s/^  \"$2\": \([0-9.e+-]*\),*\$/\1/p" "$1" 2>/dev/null | head -n1; }
# jlat FILE KEY: a latency figure (p50Ms, p99Ms) of a JSON report.
jlat() { sed -n "/^  \"latency\": {/,/^  }/s/^    \"$2\": \([0-9.e+-]*\),*\$/\1/p" "$1" 2>/dev/null | head -n1; }
# hops FILE: the share of remote grain calls of a JSON report, in %, or why there is none.
hops() {
	local s note
	s=$(sed -n '/^  "remoteHops": {/,/^  }/s/^    "remoteShare": \([0-9.e+-]*\),*$/\1/p' "$1" 2>/dev/null | head -n1)
	if [ -n "$s" ]; then
		awk -v s="$s" 'BEGIN { printf "%.1f %%", 100 * s }'
		return
	fi
	note=$(sed -n '/^  "remoteHops": {/,/^  }/s/^    "note": "\(.*\)",*$/\1/p' "$1" 2>/dev/null | head -n1)
	echo "${note:-n/a}"
}
# row TITLE FILE [BASE]: a Markdown table row of a run (BASE: the 1-node run, for the ratio).
row() {
	local title=$1 f=$2 base=${3:-} tp ratio=""
	if [ ! -s "$f" ]; then
		echo "| $title | FAILED | | | | | |"
		return
	fi
	tp=$(jnum "$f" throughput)
	if [ -n "$base" ] && [ -s "$base" ]; then
		ratio=$(awk -v a="${tp:-0}" -v b="$(jnum "$base" throughput)" 'BEGIN { if (b > 0) printf "x%.2f", a / b }')
	fi
	local p50 p99 errs
	p50=$(jlat "$f" p50Ms)
	p99=$(jlat "$f" p99Ms)
	errs=$(jnum "$f" errors)
	printf '| %s | %.0f | %.2f ms | %.2f ms | %s | %s | %s |\n' "$title" "${tp:-0}" "${p50:-0}" "${p99:-0}" \
		"${errs:-?}" "$(hops "$f")" "$ratio" || true
}

# 1. One node, addressed directly.
start_node "node" "$TMP/single" self "${ADMIN[@]}"
ISSUER="$NODE_HTTP/oidc"
crun refresh-1 "refresh, 1 node" --issuer "$ISSUER" refresh
crun sso-1 "sso-code, 1 node" --issuer "$ISSUER" sso-code
stop_server "${NODE_PIDS[@]}"
NODE_PIDS=()

# 2. Three nodes, as README.md's "Running a cluster": one --endpoint for all (the public
# address, where nobody listens: latch bench --endpoints sends its requests to the
# nodes), node 1 founds the cluster, nodes 2 and 3 join it, one after the other.
take_port public_port
PUBLIC="http://localhost:$public_port"
start_node node1 "$TMP/n1" "$PUBLIC" "${ADMIN[@]}"
ENDPOINTS=$NODE_HTTP
SEED=$NODE_GOSSIP
start_node node2 "$TMP/n2" "$PUBLIC" --join "$SEED"
ENDPOINTS="$ENDPOINTS,$NODE_HTTP"
start_node node3 "$TMP/n3" "$PUBLIC" --join "$SEED"
ENDPOINTS="$ENDPOINTS,$NODE_HTTP"
# /readyz of every node, once more: a node may have left the ready state while the
# next one joined.
for e in ${ENDPOINTS//,/ }; do
	for _ in $(seq 1 300); do
		http_ok "$e/readyz" && break
		sleep 0.1
	done
	http_ok "$e/readyz" || { say "$e/readyz is not 200"; FAILED=1; }
done
crun refresh-3 "refresh, 3 nodes" --issuer "$PUBLIC/oidc" --endpoints "$ENDPOINTS" refresh
crun sso-3 "sso-code, 3 nodes" --issuer "$PUBLIC/oidc" --endpoints "$ENDPOINTS" sso-code

{
	status_lines
	echo
	echo "# latch bench, 1 node and a 3-node cluster: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $HOST"
	echo
	machine_lines
	echo "- built from: $SOURCE"
	echo "- hot-state writes: \`--durability $DURABILITY\`; Argon2id m=$ARGON2_MEMORY KiB"
	echo "- closed loop, $CONCURRENCY concurrent, warm-up $WARMUP, $DURATION measured, goroutine engine, every run"
	echo "- 3 nodes: every request for the public address goes to a node (\`--endpoints\`): setup to node 1; each browser's requests to the nodes in turn, starting at its own, so each refresh rotation and the two requests of an sso-code round (authorize, token) go to different nodes"
	echo "- the three nodes and the load generator share this machine's CPUs: the 3-node column prices the cluster's coordination on the same hardware, it is not a scale-out"
	echo "- remote hops: the share of grain calls (\`latch_grain_calls_total\` by \`where\`, every node's /metrics read before and after the load, warm-up included) answered by an activation on another node"
	echo "- produced by \`scripts/bench-cluster.sh\` (\`make bench-cluster\`)"
	echo
	echo "| run | req/s | p50 | p99 | errors | remote hops | vs 1 node |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	row "refresh, 1 node" "$TMP/refresh-1.json"
	row "refresh, 3 nodes" "$TMP/refresh-3.json" "$TMP/refresh-1.json"
	row "sso-code, 1 node" "$TMP/sso-1.json"
	row "sso-code, 3 nodes" "$TMP/sso-3.json" "$TMP/sso-1.json"
	echo
	printf '%s\n' "${HEADLINES[@]}"
	echo
	echo "Servers:"
	echo
	printf -- '- %s\n' "${SERVERS[@]}"
	echo
	cat "$SECTIONS"
	for n in node node1 node2 node3; do
		if [ -s "$TMP/$n.log" ]; then
			echo "## $n log (warnings and errors, last 20 lines)"
			echo
			echo '```'
			tail -n 20 "$TMP/$n.log"
			echo '```'
			echo
		fi
	done
} >"$MD"

say "wrote $MD"
exit "$FAILED"
