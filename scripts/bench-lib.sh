# scripts/bench-lib.sh -- what scripts/bench.sh (make bench) and scripts/bench-peers.sh
# (make bench-peers) share: free ports, starting and stopping a server under test, CPU
# accounting per run, and one `latch bench` run written into the Markdown results.
# Sourced, not run. The sourcing script sets SCRIPT (its name, for messages), GO and
# RESULTS, then calls bench_init; it starts each server with start_server and records
# runs with run.

say() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; }

# SECRETS holds the secrets of this session (admin and client secrets); redact replaces
# each in its argument with REDACTED, for the command lines the results show.
SECRETS=()
redact() {
	local s=$1 x
	for x in "${SECRETS[@]}"; do s=${s//$x/REDACTED}; done
	printf '%s' "$s"
}

# bench_init: builds bin/latch, makes the temporary directory (removed at exit, with every
# server still running), and the names of this session's results.
bench_init() {
	say "building bin/latch"
	"$GO" build -o bin/latch ./cmd/latch
	LATCH=bin/latch
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/latch-bench.XXXXXX")
	SERVER_PID=
	ALL_PIDS=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$RESULTS"
	HOST=$(hostname -s 2>/dev/null || hostname)
	SECTIONS="$TMP/sections.md"
	: >"$SECTIONS"
	HEADLINES=()
	FAILED=0
	NOISY=0
	# A run during which other processes took at least this share of the CPU is flagged.
	BUSY_LIMIT=${BENCH_BUSY_LIMIT:-5}
	# A run during which the hypervisor took at least this share of the VM's CPU is flagged.
	STEAL_LIMIT=${BENCH_STEAL_LIMIT:-2}
}

# results_stem SUFFIX: sets STEM, the file names' common part: <date>-<host><SUFFIX>, with
# the time added when that exists already.
results_stem() {
	STEM="$(date +%Y-%m-%d)-$HOST$1"
	[ -e "$RESULTS/$STEM.md" ] && STEM="$STEM-$(date +%H%M%S)"
	MD="$RESULTS/$STEM.md"
}

cleanup() {
	stop_server
	rm -rf "$TMP"
}

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

# take_port VAR: sets VAR to a free port that no earlier take_port of this run handed
# out (free_port alone may pick one twice before anything listens on it). It sets a
# variable rather than printing, so that the ports it remembers outlive the call.
TAKEN=" "
take_port() {
	local p
	p=$(free_port) || return 1
	while [[ "$TAKEN" == *" $p "* ]]; do p=$(free_port) || return 1; done
	TAKEN="$TAKEN$p "
	printf -v "$1" '%s' "$p"
}

# bench_admin: the admin app of the Latch servers this session starts: ADMIN_ID and a
# random ADMIN_SECRET (redacted from what is shown), also exported as
# LATCH_ADMIN_CLIENT_ID / LATCH_ADMIN_CLIENT_SECRET for `latch serve` and `latch bench`.
bench_admin() {
	ADMIN_ID=bench-admin
	ADMIN_SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	SECRETS+=("$ADMIN_SECRET")
	export LATCH_ADMIN_CLIENT_ID="$ADMIN_ID" LATCH_ADMIN_CLIENT_SECRET="$ADMIN_SECRET"
}

# start_server LOG CMD...: starts CMD in the background, in a process group of its own
# (so that stop_server also stops a server's worker processes), output to LOG. Sets
# SERVER_PID (the server that cpu_ticks accounts for) and SERVER_LOG; every server
# started is stopped at exit.
ALL_PIDS=()
start_server() {
	SERVER_LOG=$1
	shift
	say "starting: $(redact "$*")"
	setsid "$@" >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	ALL_PIDS+=("$SERVER_PID")
}

# stop_server [PID...]: SIGTERM to each server's process group (default: every server
# started), then SIGKILL after 10 s.
stop_server() {
	local pids=("$@") p
	[ ${#pids[@]} -gt 0 ] || pids=("${ALL_PIDS[@]}")
	for p in "${pids[@]}"; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

# http_ok URL: whether URL answers 200 (curl, else bash's /dev/tcp for 127.0.0.1 URLs).
http_ok() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
		return
	fi
	local rest=${1#http://127.0.0.1:}
	local port=${rest%%/*} path=/${rest#*/}
	(exec 3<>"/dev/tcp/127.0.0.1/$port" &&
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3 &&
		head -n1 <&3 | grep -q ' 200 ') 2>/dev/null
}

# wait_ready NAME URL: waits up to 60 s until URL answers 200 while the server runs;
# exits with the server's log when it dies or does not get there.
wait_ready() {
	local name=$1 url=$2
	for _ in $(seq 1 600); do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			say "$name exited during start-up:"
			cat "$SERVER_LOG" >&2
			exit 1
		fi
		if http_ok "$url"; then
			say "$name is ready ($url)"
			return 0
		fi
		sleep 0.1
	done
	say "$name did not become ready within 60s:"
	cat "$SERVER_LOG" >&2
	exit 1
}

# server_ticks: CPU clock ticks (user + system) of the server and its child processes
# (node-oidc-provider's workers), from /proc.
server_ticks() {
	local total=0 p t
	for p in "$SERVER_PID" $(pgrep -P "$SERVER_PID" 2>/dev/null); do
		[ -r "/proc/$p/stat" ] || continue
		# Fields after the command name: utime is the 12th, stime the 13th.
		t=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
		total=$((total + t))
	done
	echo "$total"
}

# cpu_ticks: "<busy> <all> <server> <this shell's waited-for children> <steal>" in clock
# ticks, from /proc (Linux); empty elsewhere. The difference between two samples tells
# how much CPU processes other than the server and `latch bench` took during a run, and
# how much the hypervisor took from this VM (steal): on a shared machine, figures taken
# while something else was busy are not comparable, and on a VM stolen time arrives in
# slices of milliseconds that show up directly in the latency tail.
cpu_ticks() {
	[ -r /proc/stat ] && [ -r "/proc/$SERVER_PID/stat" ] || return 0
	local cpu user nice sys idle iowait irq softirq steal rest kids
	read -r cpu user nice sys idle iowait irq softirq steal rest </proc/stat
	# cutime and cstime (children already waited for) are the 14th and 15th fields.
	kids=$(sed 's/^.*) //' "/proc/$$/stat" | awk '{print $14 + $15}')
	echo "$((user + nice + sys + irq + softirq)) $((user + nice + sys + idle + iowait + irq + softirq + steal)) $(server_ticks) $kids $steal"
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

# measured NAME ARGS...: `latch ARGS...` with its report in TMP/NAME.txt (and on stdout).
# Sets the caller's locals code (its exit status; FAILED too when not 0), busy and stolen
# (the CPU % other processes and the hypervisor took during it), as run and crun need.
measured() {
	local name=$1 before after
	shift
	before=$(cpu_ticks)
	"$LATCH" "$@" >"$TMP/$name.txt" || code=$?
	after=$(cpu_ticks)
	busy=$(foreign_cpu "$before" "$after")
	stolen=$(stolen_cpu "$before" "$after")
	cat "$TMP/$name.txt"
	if [ "$code" -ne 0 ]; then
		FAILED=1
		say "$name: latch bench exited with status $code"
	fi
}

# flag_noisy: marks the caller's headline head (and NOISY) when other processes
# (busy >= BUSY_LIMIT) or the hypervisor (stolen >= STEAL_LIMIT) took a share of the CPU.
flag_noisy() {
	if [ -n "$busy" ] && [ "$busy" -ge "$BUSY_LIMIT" ]; then
		NOISY=1
		head="$head (NOISY: other processes used $busy% of the CPU during this run)"
	fi
	if [ -n "$stolen" ] && awk -v s="$stolen" -v l="$STEAL_LIMIT" 'BEGIN { exit !(s >= l) }'; then
		NOISY=1
		head="$head (NOISY: the hypervisor took $stolen% of the CPU during this run)"
	fi
}

# report_section: the Markdown section of the caller's run (title, shown, name, busy,
# stolen, code): the command, the CPU others took, the text report.
report_section() {
	printf '## %s\n\n```sh\n%s\n```\n\n' "$title" "$shown"
	if [ -n "$busy" ]; then
		printf 'Other processes on the machine used %s%% of its CPU during this run (setup included)' "$busy"
		if [ -n "$stolen" ]; then printf '; the hypervisor took %s%% (steal)' "$stolen"; fi
		printf '.\n\n'
	fi
	printf '```\n'
	if [ -s "$TMP/$name.txt" ]; then cat "$TMP/$name.txt"; else echo "(no report; exit status $code)"; fi
	printf '```\n\n'
}

# run NAME TITLE ARGS...: one `latch bench --issuer $ISSUER ARGS...` run against the
# server started last; its JSON and SVG go next to the Markdown, its report into
# SECTIONS, its first line into HEADLINES (flagged when other processes or the hypervisor
# took a share of the CPU).
run() {
	local name=$1 title=$2
	shift 2
	local json="$RESULTS/$STEM-$name.json" svg="$RESULTS/$STEM-$name.svg"
	local args=(bench --issuer "$ISSUER" --json "$json" --svg "$svg" --label "$name" "$@")
	local shown
	shown=$(redact "$LATCH ${args[*]}")
	say "running: $shown"
	local code=0 busy stolen
	measured "$name" "${args[@]}"
	local head
	head=$(head -n1 "$TMP/$name.txt" 2>/dev/null || true)
	[ -n "$head" ] || head="FAILED (exit $code): see the log below"
	flag_noisy
	local calib
	calib=$(calibration "$json")
	[ -z "$calib" ] || head="$head [one core: $calib ES256 signatures/s before the run]"
	HEADLINES+=("- **$title**: $head")
	{
		report_section
		if [ -e "$svg" ]; then printf '![%s latency by percentile](%s)\n\n' "$name" "$(basename "$svg")"; fi
	} >>"$SECTIONS"
}

# throughput FILE: the "throughput" (ok req/s) of a JSON report, 0 if absent.
throughput() {
	local v
	v=$(sed -n 's/^  "throughput": \([0-9.]*\),*$/\1/p' "$1" 2>/dev/null | head -n1)
	echo "${v:-0}"
}

# calibration FILE: the machine's single-core speed before the run (ES256 signatures/s,
# rounded) of a JSON report (empty if absent).
calibration() {
	sed -n 's/^ *"es256PerSecBefore": \([0-9.]*\),*$/\1/p' "$1" 2>/dev/null | head -n1 | awk '{ printf "%.0f", $1 }'
}

# p99 FILE: the corrected p99 latency in ms of a JSON report (empty if absent).
p99() { sed -n '/^  "latency": {/,/}/s/^ *"p99Ms": \([0-9.]*\),*$/\1/p' "$1" 2>/dev/null | head -n1; }

# median NUMBER...: the median (the lower middle one of an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# best_throughput FILE...: the best throughput among the reports (0 when none has one).
best_throughput() {
	local f best=0
	for f in "$@"; do best=$(printf '%s\n%s\n' "$best" "$(throughput "$f")" | sort -g | tail -n1); done
	echo "$best"
}

# half RATE: half of RATE, as an integer.
half() { awk -v p="$1" 'BEGIN { printf "%d", p / 2 }'; }

# machine_lines: the Markdown lines that describe where the figures were taken.
machine_lines() {
	echo "- machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1) x $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, $(uname -sr)"
	echo "- $("$LATCH" version 2>/dev/null), $("$GO" version | cut -d' ' -f3-)"
	echo "- the load generator runs on the same machine as the server (loopback)"
}

# status_lines: the first lines of a results file: errors, then noise.
status_lines() {
	if [ "$FAILED" -ne 0 ]; then
		echo "**ERRORS: at least one run failed or had request errors -- read the runs below.**"
	else
		echo "All runs OK, no errors."
	fi
	if [ "$NOISY" -ne 0 ]; then
		echo
		echo "**NOISY: other processes took at least $BUSY_LIMIT% of the CPU, or the hypervisor at least $STEAL_LIMIT% (steal), during some runs (flagged below); their figures understate the server.**"
	fi
}
