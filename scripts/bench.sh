#!/usr/bin/env bash
# scripts/bench.sh -- what `make bench` runs: the standard `latch bench` suite against a
# fresh local Latch, with the results written to bench/results/<date>-<host>.md (plus the
# JSON reports and SVG plots next to it).
#
#  1. builds bin/latch;
#  2. starts `latch serve` on 127.0.0.1 (a free port, a temporary data directory, the admin
#     app's credentials set, --durability sync, --argon2-memory stated explicitly so the
#     results record the password-hashing cost) and waits until discovery answers;
#  3. runs client-credentials in a closed loop at 16 and 64 concurrency, then in an open
#     loop at half the best closed-loop rate (latency corrected for coordinated omission);
#  4. runs the browser scenarios in a closed loop at 16 concurrency: refresh (rotation on
#     every request; also at 64), sso-code (authorize with a live session -> code ->
#     token), userinfo, introspect (opaque access token), introspect-jwt (a JWT access
#     token, RFC 9068: setup creates an API resource and signs in asking for it) and,
#     last, password-login (a full sign-in through the Experience API; shorter, Argon2id
#     makes it slow);
#  5. stops Latch and removes its data.
#
# Loopback only; bounded in time (about 110 s of load, < 3 minutes in all). The load
# generator shares the machine with the server: note it when quoting the figures.
# Knobs (environment): BENCH_WARMUP (3s) and BENCH_DURATION (10s) for client-credentials;
# BENCH_SIGNIN_WARMUP (2s), BENCH_SIGNIN_DURATION (8s) for the browser scenarios and
# BENCH_LOGIN_DURATION (6s) for password-login; BENCH_ARGON2_MEMORY (19456 KiB);
# BENCH_SOURCE (what was built; default: git describe); BENCH_BUSY_LIMIT (5: flag a run
# during which other processes took at least this % of the CPU); BENCH_STEAL_LIMIT (2:
# flag a run during which the hypervisor took at least this % of a VM's CPU); GO (go).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
WARMUP=${BENCH_WARMUP:-3s}
DURATION=${BENCH_DURATION:-10s}
SIGNIN_WARMUP=${BENCH_SIGNIN_WARMUP:-2s}
SIGNIN_DURATION=${BENCH_SIGNIN_DURATION:-8s}
LOGIN_DURATION=${BENCH_LOGIN_DURATION:-6s}
# Latch's Argon2id parameters: the memory is a flag, stated even at its default so the
# results name it; t=2 and p=1 are fixed (directory.DefaultArgon2).
ARGON2_MEMORY=${BENCH_ARGON2_MEMORY:-19456}
SOURCE=${BENCH_SOURCE:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
RESULTS=bench/results

say() { printf 'bench.sh: %s\n' "$*" >&2; }

say "building bin/latch"
"$GO" build -o bin/latch ./cmd/latch
LATCH=bin/latch

# A port nothing listens on (TCP), from the ephemeral-free range 20000-32767.
free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if command -v ss >/dev/null 2>&1; then
			ss -Htanu 2>/dev/null | awk '{print $5}' | grep -q ":$p\$" && continue
		fi
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	say "no free port found"
	return 1
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/latch-bench.XXXXXX")
LATCH_PID=
cleanup() {
	if [ -n "$LATCH_PID" ] && kill -0 "$LATCH_PID" 2>/dev/null; then
		kill -TERM "$LATCH_PID" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$LATCH_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$LATCH_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HTTP_PORT=$(free_port)
GOSSIP_PORT=$(free_port)
while [ "$GOSSIP_PORT" = "$HTTP_PORT" ]; do GOSSIP_PORT=$(free_port); done
ENDPOINT="http://127.0.0.1:$HTTP_PORT"
ISSUER="$ENDPOINT/oidc"
ADMIN_ID=bench-admin
ADMIN_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

SERVE_ARGS=(serve --data "$TMP/data" --http "127.0.0.1:$HTTP_PORT" --endpoint "$ENDPOINT"
	--gossip "127.0.0.1:$GOSSIP_PORT" --durability sync --argon2-memory "$ARGON2_MEMORY" --log-level warn
	--admin-client-id "$ADMIN_ID" --admin-client-secret "$ADMIN_SECRET")
SERVE_SHOWN="$LATCH ${SERVE_ARGS[*]}"
SERVE_SHOWN=${SERVE_SHOWN/$ADMIN_SECRET/REDACTED}

say "starting: $SERVE_SHOWN"
"$LATCH" "${SERVE_ARGS[@]}" >"$TMP/latch.log" 2>&1 &
LATCH_PID=$!

probe() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 2 "$ISSUER/.well-known/openid-configuration" 2>/dev/null
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT" &&
			printf 'GET /oidc/.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
			head -n1 <&3 | grep -q ' 200 ') 2>/dev/null
	fi
}
ready=
for _ in $(seq 1 300); do
	if ! kill -0 "$LATCH_PID" 2>/dev/null; then
		say "latch serve exited during start-up:"
		cat "$TMP/latch.log" >&2
		exit 1
	fi
	if probe; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ -z "$ready" ]; then
	say "latch serve did not become ready within 30s:"
	cat "$TMP/latch.log" >&2
	exit 1
fi
say "latch is ready at $ISSUER"

mkdir -p "$RESULTS"
HOST=$(hostname -s 2>/dev/null || hostname)
STEM="$(date +%Y-%m-%d)-$HOST"
[ -e "$RESULTS/$STEM.md" ] && STEM="$STEM-$(date +%H%M%S)"
MD="$RESULTS/$STEM.md"
SECTIONS="$TMP/sections.md"
: >"$SECTIONS"
HEADLINES=()
FAILED=0
NOISY=0
# A run during which other processes took at least this share of the CPU is flagged.
BUSY_LIMIT=${BENCH_BUSY_LIMIT:-5}
# A run during which the hypervisor took at least this share of the VM's CPU is flagged.
STEAL_LIMIT=${BENCH_STEAL_LIMIT:-2}

# The admin credentials go through the environment, so the recorded command lines are
# exact and hold no secret.
export LATCH_ADMIN_CLIENT_ID="$ADMIN_ID" LATCH_ADMIN_CLIENT_SECRET="$ADMIN_SECRET"

# run NAME TITLE ARGS...: one `latch bench` run, its report appended to the Markdown.
# cpu_ticks: "<busy> <all> <latch serve> <this shell's waited-for children> <steal>" in
# clock ticks, from /proc (Linux); empty elsewhere. The difference between two samples
# tells how much CPU processes other than Latch and `latch bench` took during a run, and
# how much the hypervisor took from this VM (steal): on a shared machine, figures taken
# while something else was busy are not comparable, and on a VM stolen time arrives in
# slices of milliseconds that show up directly in the latency tail.
cpu_ticks() {
	[ -r /proc/stat ] && [ -r "/proc/$LATCH_PID/stat" ] || return 0
	local cpu user nice sys idle iowait irq softirq steal rest latch kids
	read -r cpu user nice sys idle iowait irq softirq steal rest </proc/stat
	# Fields after the command name: utime is the 12th, stime the 13th; cutime and cstime
	# (children already waited for) the 14th and 15th.
	latch=$(sed 's/^.*) //' "/proc/$LATCH_PID/stat" | awk '{print $12 + $13}')
	kids=$(sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}')
	echo "$((user + nice + sys + irq + softirq)) $((user + nice + sys + idle + iowait + irq + softirq + steal)) $latch $kids $steal"
}

# foreign_cpu BEFORE AFTER: the percentage of the machine's CPU that other processes used
# between two cpu_ticks samples, or empty when unknown.
foreign_cpu() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		all = y[2] - x[2]; other = (y[1] - x[1]) - (y[3] - x[3]) - (y[4] - x[4])
		if (all <= 0) exit
		if (other < 0) other = 0
		printf "%.0f", 100 * other / all
	}'
}

# stolen_cpu BEFORE AFTER: the percentage of the machine's CPU time the hypervisor took
# (steal) between two cpu_ticks samples, with one decimal, or empty when unknown.
stolen_cpu() {
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		all = y[2] - x[2]
		if (all <= 0 || y[5] == "") exit
		printf "%.1f", 100 * (y[5] - x[5]) / all
	}'
}

run() {
	local name=$1 title=$2
	shift 2
	local json="$RESULTS/$STEM-$name.json" svg="$RESULTS/$STEM-$name.svg"
	local args=(bench --issuer "$ISSUER" --json "$json" --svg "$svg" --label "$name" "$@")
	say "running: $LATCH ${args[*]}"
	local code=0 before after busy stolen
	before=$(cpu_ticks)
	"$LATCH" "${args[@]}" >"$TMP/$name.txt" || code=$?
	after=$(cpu_ticks)
	busy=$(foreign_cpu "$before" "$after")
	stolen=$(stolen_cpu "$before" "$after")
	cat "$TMP/$name.txt"
	if [ "$code" -ne 0 ]; then
		FAILED=1
		say "$name: latch bench exited with status $code"
	fi
	local head
	head=$(head -n1 "$TMP/$name.txt" 2>/dev/null || true)
	[ -n "$head" ] || head="FAILED (exit $code): see the log below"
	if [ -n "$busy" ] && [ "$busy" -ge "$BUSY_LIMIT" ]; then
		NOISY=1
		head="$head (NOISY: other processes used $busy% of the CPU during this run)"
	fi
	if [ -n "$stolen" ] && awk -v s="$stolen" -v l="$STEAL_LIMIT" 'BEGIN { exit !(s >= l) }'; then
		NOISY=1
		head="$head (NOISY: the hypervisor took $stolen% of the CPU during this run)"
	fi
	HEADLINES+=("- **$title**: $head")
	{
		printf '## %s\n\n```sh\n%s %s\n```\n\n' "$title" "$LATCH" "${args[*]}"
		[ -n "$busy" ] && printf 'Other processes on the machine used %s%% of its CPU during this run (setup included)' "$busy"
		[ -n "$stolen" ] && printf '; the hypervisor took %s%% (steal)' "$stolen"
		[ -n "$busy" ] && printf '.\n\n'
		printf '```\n'
		if [ -s "$TMP/$name.txt" ]; then cat "$TMP/$name.txt"; else echo "(no report; exit status $code)"; fi
		printf '```\n\n'
		[ -e "$svg" ] && printf '![%s latency by percentile](%s)\n\n' "$name" "$(basename "$svg")"
	} >>"$SECTIONS"
}

# throughput FILE: the "throughput" (ok req/s) of a JSON report, 0 if absent.
throughput() {
	local v
	v=$(sed -n 's/^  "throughput": \([0-9.]*\),*$/\1/p' "$1" 2>/dev/null | head -n1)
	echo "${v:-0}"
}

CC=(--warmup "$WARMUP" --duration "$DURATION")
SIGNIN=(--warmup "$SIGNIN_WARMUP" --duration "$SIGNIN_DURATION")
run cc-c16 "client-credentials, closed loop, 16 concurrent" "${CC[@]}" --concurrency 16 client-credentials
run cc-c64 "client-credentials, closed loop, 64 concurrent" "${CC[@]}" --concurrency 64 client-credentials

PEAK=$(printf '%s\n%s\n' "$(throughput "$RESULTS/$STEM-cc-c16.json")" "$(throughput "$RESULTS/$STEM-cc-c64.json")" | sort -g | tail -n1)
HALF=$(awk -v p="$PEAK" 'BEGIN { printf "%d", p / 2 }')
if [ "$HALF" -gt 0 ]; then
	run cc-open-half "client-credentials, open loop at half the peak ($HALF req/s of $PEAK)" \
		"${CC[@]}" --rate "$HALF" --concurrency 64 client-credentials
else
	FAILED=1
	HEADLINES+=("- **open loop**: SKIPPED: no peak rate measured")
fi

# Refresh at 16 and 64 concurrent, like client-credentials: each request waits for a
# durable write (fsync), so 16 clients leave the CPU partly idle while their writes
# sync; 64 finds the throughput. password-login runs last: Argon2id allocates 19 MiB
# per hash, and on a small VM the runs after that churn measured ~15 % slower
# (refresh 4,271 -> ~3,500 req/s, the load generator's CPU per request up too), which
# would bill the other scenarios for the password hashing.
run refresh-c16 "refresh (SPA: rotation, a durable write, on every request), closed loop, 16 concurrent" \
	"${SIGNIN[@]}" --concurrency 16 refresh
run refresh-c64 "refresh (SPA: rotation, a durable write, on every request), closed loop, 64 concurrent" \
	"${SIGNIN[@]}" --concurrency 64 refresh
run sso-c16 "sso-code (authorize with a live session -> code -> token), closed loop, 16 concurrent" \
	"${SIGNIN[@]}" --concurrency 16 sso-code
run userinfo-c16 "userinfo (opaque access token), closed loop, 16 concurrent" \
	"${SIGNIN[@]}" --concurrency 16 userinfo
run introspect-c16 "introspect (RFC 7662, opaque access token, client_secret_basic), closed loop, 16 concurrent" \
	"${SIGNIN[@]}" --concurrency 16 introspect
run introspect-jwt-c16 "introspect (RFC 7662, JWT access token, client_secret_basic), closed loop, 16 concurrent" \
	"${SIGNIN[@]}" --concurrency 16 introspect-jwt
run login-c16 "password-login (full sign-in, Argon2id m=$ARGON2_MEMORY KiB t=2 p=1), closed loop, 16 concurrent" \
	--warmup "$SIGNIN_WARMUP" --duration "$LOGIN_DURATION" --concurrency 16 password-login

{
	if [ "$FAILED" -ne 0 ]; then
		echo "**ERRORS: at least one run failed or had request errors -- read the runs below.**"
	else
		echo "All runs OK, no errors."
	fi
	if [ "$NOISY" -ne 0 ]; then
		echo
		echo "**NOISY: other processes took at least $BUSY_LIMIT% of the CPU, or the hypervisor at least $STEAL_LIMIT% (steal), during some runs (flagged below); their figures understate Latch.**"
	fi
	echo
	echo "# latch bench: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $HOST"
	echo
	echo "- machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1) x $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, $(uname -sr)"
	echo "- $("$LATCH" version 2>/dev/null), $("$GO" version | cut -d' ' -f3-)"
	echo "- the load generator runs on the same machine as the server (loopback)"
	echo "- server: \`$SERVE_SHOWN\`"
	echo "- built from: $SOURCE"
	echo "- password hashing: Argon2id m=$ARGON2_MEMORY KiB, t=2, p=1 (\`--argon2-memory $ARGON2_MEMORY\`; t and p are Latch's fixed defaults); hot-state writes: \`--durability sync\` (fsync before acknowledging)"
	echo "- produced by \`scripts/bench.sh\` (\`make bench\`); JSON reports and SVG plots next to this file"
	echo
	printf '%s\n' "${HEADLINES[@]}"
	echo
	cat "$SECTIONS"
	if [ -s "$TMP/latch.log" ]; then
		echo "## latch serve log (warnings and errors)"
		echo
		echo '```'
		tail -n 50 "$TMP/latch.log"
		echo '```'
	fi
} >"$MD"

say "wrote $MD"
exit "$FAILED"
