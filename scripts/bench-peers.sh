#!/usr/bin/env bash
# scripts/bench-peers.sh -- what `make bench-peers` runs: Latch and other OpenID Providers
# under the same `latch bench` workloads, one after the other on this machine, with the
# results side by side in bench/results/<date>-<host>-peers.md (JSON reports and SVG
# plots next to it, `latch bench compare` tables of each scenario, Latch as a).
#
# The targets, all started fresh on 127.0.0.1 first; then each workload runs against every
# target in turn (noise that drifts over the minutes falls on all of them alike):
#  - latch: `latch serve` as in make bench (--durability sync, ES256); its scenarios set
#    up their own app, resource and users through the Management API;
#  - node-oidc-provider (npm oidc-provider, the OP library inside Logto) from
#    bench/peers/node-oidc-provider: one process, as Logto runs it, its in-memory
#    adapter; client_credentials JWTs signed with ES256 for the API resource;
#  - node-oidc-provider x2: the same with two worker processes (node:cluster), for the
#    stateless client_credentials only (each worker has its own in-memory store);
#  - hydra: Ory Hydra at its defaults (opaque access tokens, DSN=memory: SQLite in
#    memory; client secrets hashed with PBKDF2, as Hydra does for every client), built
#    from the Go module proxy by scripts/build-hydra.sh (cached after the first time);
#  - hydra jwt: Hydra with strategies.access_token=jwt and its access-token key set
#    replaced by one ES256 key, for client_credentials.
# A peer whose toolchain is missing (node >= 20.19 and npm; gcc for Hydra) is left out,
# and the results say so.
#
# The workloads (the same flags for every target; only the issuer and the client
# differ): client-credentials closed loop at 16 and 64 concurrent, then open loop at half
# that target's own peak; introspect (RFC 7662) of an opaque access token, closed loop 16
# (Latch: a signed-in user's token; a peer: a client_credentials token, as the report's
# tokenSource says).
#
# Loopback only; bounded in time (about 4 minutes of load, plus Hydra's first build).
# Knobs (environment): BENCH_WARMUP (3s), BENCH_DURATION (10s), BENCH_PEERS (which
# targets, default "latch node node2 hydra hydra-jwt"), HYDRA (a hydra binary to use
# instead of building one), BENCH_RESULTS (bench/results), BENCH_BUSY_LIMIT,
# BENCH_STEAL_LIMIT, GO (go).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
WARMUP=${BENCH_WARMUP:-3s}
DURATION=${BENCH_DURATION:-10s}
PEERS=${BENCH_PEERS:-latch node node2 hydra hydra-jwt}
SOURCE=${BENCH_SOURCE:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
RESULTS=${BENCH_RESULTS:-bench/results}

SCRIPT=bench-peers.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_init
results_stem "-peers"
command -v curl >/dev/null || { say "curl is needed to set the peers up"; exit 1; }

# What every peer is given: one client allowed client_credentials for one API.
CLIENT_ID=latch-bench
CLIENT_SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
SECRETS+=("$CLIENT_SECRET")
RESOURCE=https://api.bench.example
SCOPE=read:bench
CC=(--warmup "$WARMUP" --duration "$DURATION")

TARGETS=()  # the names of the targets measured, in order
SERVERS=()  # one Markdown line per target: how it was started
SKIPPED=()  # one Markdown line per target left out, with why

# add_target NAME: the server started last is target NAME; its flags for
# client-credentials are CC_TARGET, for introspect INTROSPECT_TARGET (empty: none).
T_ISSUER=() T_PID=()
add_target() {
	local i=${#TARGETS[@]}
	TARGETS+=("$1")
	T_ISSUER[i]=$ISSUER
	T_PID[i]=$SERVER_PID
	eval "T_CC_$i=(\"\${CC_TARGET[@]}\")"
	eval "T_IN_$i=(\"\${INTROSPECT_TARGET[@]}\")"
}

# use_target I: the runs that follow go to target I: NAME, ISSUER, SERVER_PID (for the
# CPU accounting) and its flags TCC, TIN.
use_target() {
	local i=$1
	NAME=${TARGETS[i]}
	ISSUER=${T_ISSUER[i]}
	SERVER_PID=${T_PID[i]}
	eval "TCC=(\"\${T_CC_$i[@]}\")"
	eval "TIN=(\"\${T_IN_$i[@]}\")"
}

target_latch() {
	local http gossip remoting raft admin_secret
	http=$(free_port)
	gossip=$(free_port)
	while [ "$gossip" = "$http" ]; do gossip=$(free_port); done
	# The cluster's other ports default to gossip+1 and +2, which may be taken.
	remoting=$(free_port)
	while [ "$remoting" = "$http" ] || [ "$remoting" = "$gossip" ]; do remoting=$(free_port); done
	raft=$(free_port)
	while [ "$raft" = "$http" ] || [ "$raft" = "$gossip" ] || [ "$raft" = "$remoting" ]; do raft=$(free_port); done
	admin_secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	SECRETS+=("$admin_secret")
	ISSUER="http://127.0.0.1:$http/oidc"
	local args=(serve --data "$TMP/latch-data" --http "127.0.0.1:$http" --endpoint "http://127.0.0.1:$http"
		--gossip "127.0.0.1:$gossip" --remoting "127.0.0.1:$remoting" --raft "127.0.0.1:$raft" --durability sync --log-level warn
		--admin-client-id bench-admin --admin-client-secret "$admin_secret")
	start_server "$TMP/latch.log" "$LATCH" "${args[@]}"
	wait_ready "latch serve" "$ISSUER/.well-known/openid-configuration"
	SERVERS+=("- latch: \`$(redact "$LATCH ${args[*]}")\` (ES256, its default)")
	# The admin credentials go through the environment, so no command line holds them;
	# the scenarios create their own app (and, for introspect, users who sign in).
	CC_TARGET=() INTROSPECT_TARGET=(--target latch)
	export LATCH_ADMIN_CLIENT_ID=bench-admin LATCH_ADMIN_CLIENT_SECRET=$admin_secret
	add_target latch
}

node_ready() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		SKIPPED+=("- node-oidc-provider: node and npm are not installed")
		return 1
	fi
	local v
	v=$(node --version)
	if ! awk -v v="${v#v}" 'BEGIN { split(v, p, "."); exit !(p[1] > 20 || (p[1] == 20 && p[2] >= 19)) }'; then
		SKIPPED+=("- node-oidc-provider: node $v is older than 20.19 (oidc-provider 9's floor)")
		return 1
	fi
	if [ ! -d bench/peers/node-oidc-provider/node_modules/oidc-provider ]; then
		say "installing bench/peers/node-oidc-provider's packages (npm ci)"
		(cd bench/peers/node-oidc-provider && npm ci --no-audit --no-fund --loglevel=error) >&2
	fi
}

# target_node NAME WORKERS FULL: FULL=1 also measures introspect (one process only: each
# worker has its own in-memory store, so a token introspects only where it was issued).
target_node() {
	local name=$1 workers=$2 full=$3 port version
	port=$(free_port)
	ISSUER="http://127.0.0.1:$port"
	version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' bench/peers/node-oidc-provider/node_modules/oidc-provider/package.json)
	start_server "$TMP/$name.log" env NODE_ENV=production PORT="$port" WORKERS="$workers" \
		CLIENT_ID="$CLIENT_ID" CLIENT_SECRET="$CLIENT_SECRET" RESOURCE="$RESOURCE" SCOPE="$SCOPE" \
		node bench/peers/node-oidc-provider/server.mjs
	wait_ready "node-oidc-provider" "$ISSUER/.well-known/openid-configuration"
	SERVERS+=("- $name: oidc-provider $version on node $(node --version), \`NODE_ENV=production WORKERS=$workers node bench/peers/node-oidc-provider/server.mjs\` (its in-memory adapter; ES256 JWTs for $RESOURCE)")
	local client=(--target generic --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --scope "$SCOPE")
	CC_TARGET=("${client[@]}" --resource "$RESOURCE") INTROSPECT_TARGET=()
	# Without a resource, node-oidc-provider issues an opaque token, kept in its store.
	if [ "$full" = 1 ]; then INTROSPECT_TARGET=("${client[@]}"); fi
	add_target "$name"
}

hydra_ready() {
	if [ -n "${HYDRA:-}" ]; then
		[ -x "$HYDRA" ] && return 0
		SKIPPED+=("- hydra: HYDRA=$HYDRA is not an executable")
		return 1
	fi
	if ! HYDRA=$(GO="$GO" bash scripts/build-hydra.sh); then
		SKIPPED+=("- hydra: scripts/build-hydra.sh failed (see the log of this run)")
		return 1
	fi
}

# target_hydra NAME STRATEGY: STRATEGY is opaque (Hydra's default; with introspect) or jwt
# (ES256 key; client-credentials only).
target_hydra() {
	local name=$1 strategy=$2 pub admin system_secret
	system_secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	SECRETS+=("$system_secret")
	pub=$(free_port)
	admin=$(free_port)
	while [ "$admin" = "$pub" ]; do admin=$(free_port); done
	ISSUER="http://127.0.0.1:$pub"
	local env=(DSN=memory URLS_SELF_ISSUER="$ISSUER" SECRETS_SYSTEM="$system_secret"
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$pub" SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$admin"
		LOG_LEVEL=warn SQA_OPT_OUT=true STRATEGIES_ACCESS_TOKEN="$strategy")
	start_server "$TMP/$name.log" env "${env[@]}" "$HYDRA" serve all --dev --sqa-opt-out
	wait_ready "hydra" "http://127.0.0.1:$admin/health/ready"
	local adminURL="http://127.0.0.1:$admin"
	curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "{\"client_id\":\"$CLIENT_ID\",\"client_secret\":\"$CLIENT_SECRET\",
		\"grant_types\":[\"client_credentials\"],\"response_types\":[\"token\"],\"scope\":\"$SCOPE\",
		\"audience\":[\"$RESOURCE\"],\"token_endpoint_auth_method\":\"client_secret_basic\"}" "$adminURL/admin/clients"
	local shown
	shown="\`$(redact "${env[*]}") hydra serve all --dev --sqa-opt-out\`"
	if [ "$strategy" = jwt ]; then
		# One ES256 key in the access-token key set, so its JWTs are signed as Latch's are.
		curl -fsS -o /dev/null -X DELETE "$adminURL/admin/keys/hydra.jwt.access-token"
		curl -fsS -o /dev/null -H 'Content-Type: application/json' -d '{"alg":"ES256","use":"sig"}' \
			"$adminURL/admin/keys/hydra.jwt.access-token"
		shown="$shown, access-token key set replaced by one ES256 key"
	fi
	SERVERS+=("- $name: Ory Hydra $HYDRA_VERSION_SHOWN, $shown (client created through the admin API; Hydra takes \`audience\`, not RFC 8707's \`resource\`)")
	local client=(--target generic --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --scope "$SCOPE")
	CC_TARGET=("${client[@]}" --audience "$RESOURCE") INTROSPECT_TARGET=()
	# Hydra serves introspection on its admin port and does not advertise it; with its
	# default (opaque) strategy a token without an audience is opaque too.
	if [ "$strategy" = opaque ]; then
		INTROSPECT_TARGET=("${client[@]}" --introspection-endpoint "$adminURL/admin/oauth2/introspect")
	fi
	add_target "$name"
}

HYDRA_VERSION_SHOWN=${HYDRA_VERSION:-v2.3.0}
for p in $PEERS; do
	case $p in
	latch) target_latch ;;
	node) node_ready && target_node node-oidc-provider 1 1 ;;
	node2) node_ready && target_node "node-oidc-provider-x2" 2 0 ;;
	hydra) hydra_ready && target_hydra hydra opaque ;;
	hydra-jwt) hydra_ready && target_hydra hydra-jwt jwt ;;
	*) say "unknown target $p (known: latch node node2 hydra hydra-jwt)"; exit 2 ;;
	esac
done

[ ${#TARGETS[@]} -gt 0 ] || { say "no target to measure"; exit 1; }

# Every workload against every target in turn, so that machine noise drifting over the
# minutes falls on all of them alike.
for i in "${!TARGETS[@]}"; do
	use_target "$i"
	run "$NAME-cc-c16" "$NAME: client-credentials, closed loop, 16 concurrent" "${CC[@]}" "${TCC[@]}" --concurrency 16 client-credentials
done
for i in "${!TARGETS[@]}"; do
	use_target "$i"
	run "$NAME-cc-c64" "$NAME: client-credentials, closed loop, 64 concurrent" "${CC[@]}" "${TCC[@]}" --concurrency 64 client-credentials
done
for i in "${!TARGETS[@]}"; do
	use_target "$i"
	peak=$(best_throughput "$RESULTS/$STEM-$NAME-cc-c16.json" "$RESULTS/$STEM-$NAME-cc-c64.json")
	rate=$(half "$peak")
	if [ "$rate" -gt 0 ]; then
		run "$NAME-cc-open-half" "$NAME: client-credentials, open loop at half its peak ($rate req/s of $peak)" \
			"${CC[@]}" "${TCC[@]}" --rate "$rate" --concurrency 64 client-credentials
	else
		FAILED=1
		HEADLINES+=("- **$NAME: open loop**: SKIPPED: no peak rate measured")
	fi
done
for i in "${!TARGETS[@]}"; do
	use_target "$i"
	[ ${#TIN[@]} -gt 0 ] || continue
	run "$NAME-introspect-c16" "$NAME: introspect (opaque access token), closed loop, 16 concurrent" \
		"${CC[@]}" "${TIN[@]}" --concurrency 16 introspect
done
stop_server

# compare_table SUFFIX TITLE: `latch bench compare` of every target's SUFFIX run.
compare_table() {
	local suffix=$1 title=$2 files=() t
	for t in "${TARGETS[@]}"; do
		[ -e "$RESULTS/$STEM-$t-$suffix.json" ] && files+=("$RESULTS/$STEM-$t-$suffix.json")
	done
	[ ${#files[@]} -ge 2 ] || return 0
	printf '### %s\n\n```sh\n%s bench compare %s\n```\n\n```\n' "$title" "$LATCH" "${files[*]}"
	"$LATCH" bench compare --svg "$RESULTS/$STEM-compare-$suffix.svg" "${files[@]}" || true
	printf '```\n\n![%s](%s)\n\n' "$title" "$STEM-compare-$suffix.svg"
}

# summary_row SUFFIX TITLE: one Markdown row, req/s and p99 of each target's SUFFIX run.
summary_row() {
	local suffix=$1 title=$2 t f row
	row="| $title |"
	for t in "${TARGETS[@]}"; do
		f="$RESULTS/$STEM-$t-$suffix.json"
		if [ -e "$f" ]; then
			row="$row $(printf '%.0f' "$(throughput "$f")") req/s, p99 $(printf '%.1f' "$(p99 "$f")") ms |"
		else
			row="$row - |"
		fi
	done
	echo "$row"
}

{
	status_lines
	echo
	echo "# latch bench: Latch and its peers, $(date -u +%Y-%m-%dT%H:%M:%SZ) on $HOST"
	echo
	machine_lines
	echo "- every target was started fresh, and all stayed up (an idle one takes no measurable CPU); each workload then ran against every target in turn, with the same \`latch bench\` flags (only the issuer and the client differ), so that machine noise drifting over the minutes falls on all alike; the runs are in the order below"
	echo "- built from: $SOURCE"
	echo "- produced by \`scripts/bench-peers.sh\` (\`make bench-peers\`); JSON reports and SVG plots next to this file"
	echo
	echo "## Targets"
	echo
	printf '%s\n' "${SERVERS[@]}"
	[ ${#SKIPPED[@]} -eq 0 ] || { echo; echo "Left out:"; echo; printf '%s\n' "${SKIPPED[@]}"; }
	echo
	echo "## Summary"
	echo
	header="| workload |" rule="|---|"
	for t in "${TARGETS[@]}"; do header="$header $t |" rule="$rule---|"; done
	echo "$header"
	echo "$rule"
	summary_row cc-c16 "client-credentials, closed loop 16"
	summary_row cc-c64 "client-credentials, closed loop 64"
	summary_row cc-open-half "client-credentials, open loop at half its own peak"
	summary_row introspect-c16 "introspect (opaque), closed loop 16"
	echo
	echo "## Side by side (\`latch bench compare\`, Latch as a)"
	echo
	compare_table cc-c64 "client-credentials, closed loop 64"
	compare_table cc-open-half "client-credentials, open loop at half each target's peak"
	compare_table introspect-c16 "introspect (opaque access token), closed loop 16"
	echo "## Runs"
	echo
	printf '%s\n' "${HEADLINES[@]}"
	echo
	cat "$SECTIONS"
} >"$MD"

say "wrote $MD"
exit "$FAILED"
