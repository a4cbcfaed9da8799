#!/usr/bin/env bash
# scripts/bench-audit.sh -- what `make bench-audit` runs: what audit logs cost a token
# request, measured as pairs: results in bench/results/<date>-<host>-audit.md.
#
# On a shared VM the machine's speed drifts by 10-20 % within minutes, more than the
# difference measured, so the two variants run AT THE SAME TIME, each its own fresh
# single-node `latch serve` (audit logs on: the default; off: --audit-logs=false) under
# its own `latch bench refresh` (epoll engine, closed loop): both see the same machine.
# The servers swap their ports and start order every round. Per round the script takes
# each server's CPU time over the measured window (from /proc, after the warm-up) and
# its request rate; the results are the per-round ratios on/off of server CPU per
# request and of throughput, and their medians.
#
# Every server is stopped at exit (trap). Bounded: ROUNDS x (setup + warm-up + duration),
# about 4 minutes with the defaults. Knobs (environment): BENCH_AUDIT_ROUNDS (6),
# BENCH_AUDIT_WARMUP (3s), BENCH_AUDIT_DURATION (20s), BENCH_AUDIT_CONCURRENCY (16),
# BENCH_DURABILITY (sync), BENCH_ARGON2_MEMORY (19456 KiB), BENCH_SOURCE (default: git
# describe), BENCH_RESULTS (bench/results), GO (go).
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
ROUNDS=${BENCH_AUDIT_ROUNDS:-6}
WARMUP=${BENCH_AUDIT_WARMUP:-3s}
DURATION=${BENCH_AUDIT_DURATION:-20s}
CONCURRENCY=${BENCH_AUDIT_CONCURRENCY:-16}
DURABILITY=${BENCH_DURABILITY:-sync}
ARGON2_MEMORY=${BENCH_ARGON2_MEMORY:-19456}
RESULTS=${BENCH_RESULTS:-bench/results}
SOURCE=${BENCH_SOURCE:-$(git describe --always --dirty 2>/dev/null || echo unknown)}

SCRIPT=bench-audit.sh
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
bench_init
results_stem "-audit"

bench_admin

# pid_ticks PID: the CPU clock ticks (user + system) PID used so far.
pid_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# start NAME DIR ARGS...: a single-node `latch serve` on free loopback ports; sets PID
# and URL.
start() {
	local name=$1 dir=$2
	shift 2
	local http gossip remoting raft
	take_port http
	take_port gossip
	take_port remoting
	take_port raft
	start_server "$TMP/$name.log" "$LATCH" serve --data "$dir" --http "127.0.0.1:$http" --endpoint "http://127.0.0.1:$http" \
		--gossip "127.0.0.1:$gossip" --remoting "127.0.0.1:$remoting" --raft "127.0.0.1:$raft" \
		--durability "$DURABILITY" --argon2-memory "$ARGON2_MEMORY" --log-level warn "$@"
	PID=$SERVER_PID
	URL="http://127.0.0.1:$http"
	wait_ready "$name" "$URL/readyz"
}

# measure_start NAME URL: starts `latch bench refresh` against URL in the background
# (BENCH_PID), its report in TMP/NAME.txt and TMP/NAME.json.
measure_start() {
	"$LATCH" bench refresh --issuer "$2/oidc" --engine epoll --concurrency "$CONCURRENCY" --warmup "$WARMUP" \
		--duration "$DURATION" --json "$TMP/$1.json" --label "$1" >"$TMP/$1.txt" 2>"$TMP/$1.progress" &
	BENCH_PID=$!
}

ROWS=()
CPU_RATIOS=()
RATE_RATIOS=()
for r in $(seq 1 "$ROUNDS"); do
	# Odd rounds start the server with audit logs first, even rounds the other.
	order=(on off)
	[ $((r % 2)) = 1 ] || order=(off on)
	declare -A pid url
	for v in "${order[@]}"; do
		flags=()
		[ "$v" = on ] || flags=(--audit-logs=false)
		start "r$r-$v" "$TMP/r$r-$v" "${flags[@]}"
		pid[$v]=$PID
		url[$v]=$URL
	done
	declare -A bp
	for v in "${order[@]}"; do
		measure_start "r$r-$v" "${url[$v]}"
		bp[$v]=$BENCH_PID
	done
	# The measured window starts when both runs are past their warm-up.
	for _ in $(seq 1 1200); do
		grep -q 'measure' "$TMP/r$r-on.progress" 2>/dev/null && grep -q 'measure' "$TMP/r$r-off.progress" 2>/dev/null && break
		sleep 0.1
	done
	t0=$(date +%s.%N)
	c0_on=$(pid_ticks "${pid[on]}")
	c0_off=$(pid_ticks "${pid[off]}")
	code=0
	wait "${bp[on]}" || code=$?
	wait "${bp[off]}" || code=$?
	c1_on=$(pid_ticks "${pid[on]}")
	c1_off=$(pid_ticks "${pid[off]}")
	t1=$(date +%s.%N)
	if [ "$code" -ne 0 ]; then
		FAILED=1
		say "round $r: latch bench exited with status $code"
		cat "$TMP/r$r-on.txt" "$TMP/r$r-off.txt" >&2
	fi
	stop_server "${pid[on]}" "${pid[off]}"
	rate_on=$(throughput "$TMP/r$r-on.json")
	rate_off=$(throughput "$TMP/r$r-off.json")
	# CPU per request over the window: ticks / (rate x window); the window is the
	# same for both, so only the ratio is exact; each figure is approximate (the
	# two runs' measured windows are offset by at most a second).
	row=$(awk -v r="$r" -v ron="$rate_on" -v roff="$rate_off" -v con=$((c1_on - c0_on)) -v coff=$((c1_off - c0_off)) \
		-v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v hz="$(getconf CLK_TCK)" \
		-v pon="$(p99 "$TMP/r$r-on.json")" -v poff="$(p99 "$TMP/r$r-off.json")" 'BEGIN {
		if (ron <= 0 || roff <= 0 || con <= 0 || coff <= 0) { print "| " r " | failed | | | | | | |"; exit }
		uon = con / hz / (ron * t) * 1e6; uoff = coff / hz / (roff * t) * 1e6
		printf "| %d | %.0f | %.0f | %.3f | %.0f | %.0f | %.3f | %s / %s |\n", r, ron, roff, ron / roff, uon, uoff, uon / uoff, pon, poff
	}')
	ROWS+=("$row")
	say "round $r: $row"
	CPU_RATIOS+=("$(echo "$row" | awk -F'|' '{ print $8 + 0 }')")
	RATE_RATIOS+=("$(echo "$row" | awk -F'|' '{ print $5 + 0 }')")
	unset pid url bp
done

cpu_med=$(median "${CPU_RATIOS[@]}")
rate_med=$(median "${RATE_RATIOS[@]}")
{
	echo "# Audit logs on against off: refresh, paired runs ($ROUNDS rounds)"
	echo
	status_lines
	echo
	echo "- **median server CPU per request, on/off: $cpu_med** (per round: ${CPU_RATIOS[*]})"
	echo "- **median throughput, on/off: $rate_med** (per round: ${RATE_RATIOS[*]})"
	machine_lines
	echo "- each round: two fresh single-node servers at once (\`--durability $DURABILITY\`; one with"
	echo "  \`--audit-logs=false\`), each under \`latch bench refresh --engine epoll --concurrency $CONCURRENCY"
	echo "  --warmup $WARMUP --duration $DURATION\`; they share the machine's cores, so each figure is about half"
	echo "  of what one server alone does: compare the ratios, not the rates"
	echo "- source: $SOURCE"
	echo
	echo "| round | req/s on | req/s off | on/off | server CPU/req on (us) | off (us) | on/off | p99 on / off (ms) |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${ROWS[@]}"
} >"$MD"
say "wrote $MD"
[ "$FAILED" -eq 0 ]
