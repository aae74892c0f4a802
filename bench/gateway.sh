#!/usr/bin/env bash
# Gateway benchmark. In one run, on the same upstream (the demo portal):
#   (a) bare reverse_proxy,
#   (b) the same site with loginguard, memory state, file sink,
#   (c) the same with loginguard, Redis state (a disposable redis-server), file sink,
# (the login log store is off here: its ingest has its own benchmark, bench/logstore)
# driven by wrk POSTing login bodies. Every request is forwarded: the bodies are
# successful logins and logins of unknown accounts (not counted towards lockout).
# One login in 256 succeeds (active@example.com); the rest are 5,000 unknown accounts:
# one account sees about one attempt at a time, as real users do. (Many attempts at once
# on ONE account are serialised on purpose by the admission slots, at most max_failures
# in flight, which would measure waiting, not the gateway.)
#
# Prints throughput and p99 of each; p50 and p99 at half of bare's peak rate (open loop,
# bench/loadgen, median of rounds), the admission wait over those rounds (the metric
# loginguard_state_wait_seconds) and the floor of a lone Redis round trip at that load
# (bench/redisping); Redis commands per attempt (INFO commandstats); CPU per request of
# each process; and last one line:
#   login_ratio=<b/a> passthrough_ratio=<b/a on a route without the handler> redis_ratio=<c/a>
# Environment: DURATION (per run, default 5s), CONNS (default 32), ROUNDS (default 3),
# OPEN_ROUNDS (open-loop rounds, default 5), REDIS_CPU (unset: every process shares
# every CPU; a CPU number: Redis runs alone on that CPU and everything else on the
# others, as when Redis has a host of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
for c in redis-server redis-cli python3; do
	command -v $c >/dev/null || { echo "$c is not installed" >&2; exit 1; }
done
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
OPEN_ROUNDS=${OPEN_ROUNDS:-5}
REDIS_CPU=${REDIS_CPU:-}
# Commands start with "${on_rest[@]}" (the CPUs that Redis does not have, all of
# them when REDIS_CPU is unset), Redis with "${on_redis[@]}"; taskset execs the
# command, so $! is still its pid.
on_rest=()
on_redis=()
if [ -n "$REDIS_CPU" ]; then
	command -v taskset >/dev/null || { echo "taskset is not installed (util-linux)" >&2; exit 1; }
	cpus=$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')
	rest="" found=""
	for c in $cpus; do
		if [ "$c" = "$REDIS_CPU" ]; then found=1; else rest+=${rest:+,}$c; fi
	done
	if [ -z "$found" ] || [ -z "$rest" ]; then
		echo "REDIS_CPU=$REDIS_CPU: must be one of the CPUs this runs on ($cpus), and not the only one" >&2
		exit 2
	fi
	on_rest=(taskset -c "$rest")
	on_redis=(taskset -c "$REDIS_CPU")
	echo "Redis on CPU $REDIS_CPU alone; everything else on CPUs $rest"
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/loadgen ./bench/redisping
portal_port=$(free_port); bare_port=$(free_port); mem_port=$(free_port); red_port=$(free_port); redis_port=$(free_port)

"${on_rest[@]}" "$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)
portal_pid=$!
"${on_redis[@]}" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
redis_pid=$!

cat > "$work/bare.caddyfile" <<CF
{
	admin off
	log default {
		level ERROR
	}
}
http://127.0.0.1:$bare_port {
	reverse_proxy 127.0.0.1:$portal_port
}
CF
lg_config() { # lg_config <port> <state> <events file>
	cat <<CF
{
	admin off
	log default {
		level ERROR
	}
	loginguard {
		state $2
		sink file $3
		store off
	}
}
http://127.0.0.1:$1 {
$(login_handler)
	metrics /metrics
	reverse_proxy 127.0.0.1:$portal_port
}
CF
}
lg_config "$mem_port" memory "$work/mem.jsonl" > "$work/mem.caddyfile"
lg_config "$red_port" "redis://127.0.0.1:$redis_port" "$work/red.jsonl" > "$work/red.caddyfile"
for cfg in bare mem red; do
	"${on_rest[@]}" "$work/caddy" run --config "$work/$cfg.caddyfile" --adapter caddyfile >"$work/$cfg.log" 2>&1 &
	pids+=($!)
	declare "${cfg}_pid=$!"
done
for port in $portal_port $bare_port $mem_port $red_port; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done
redis-cli -p "$redis_port" ping >/dev/null

cat > "$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
	n = n + 1
	local body
	if n % 256 == 0 then
		body = '{"email":"active@example.com","password":"correct-horse"}'
	else
		body = '{"email":"user' .. (n % 5000) .. '@example.org","password":"guess-' .. n .. '"}'
	end
	return wrk.format(nil, "/api/login", nil, body)
end
LUA

# run <port> <path> [lua]: prints "<req/s> <p99 ms> <requests>"
run() {
	local out script=()
	[ -n "${3:-}" ] && script=(-s "$3")
	out=$("${on_rest[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${script[@]}" "http://127.0.0.1:$1$2")
	echo "$out" | awk '
		/Requests\/sec/ {rps=$2}
		/requests in/ {n=$1}
		$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p=v}
		END {print rps, p, n}'
}
# rounds <path> <lua> <port...>: runs the ports one after the other, ROUNDS times (so
# that the noise of a shared machine falls on all alike), and keeps each one's best
# round. Prints "<req/s> <p99>" per port, one per line.
rounds() {
	local path=$1 lua=$2; shift 2
	declare -A best_rps best_p99
	for p in "$@"; do best_rps[$p]=0; best_p99[$p]=0; done
	for _ in $(seq "$ROUNDS"); do
		for p in "$@"; do
			read -r rps p99 _ < <(run "$p" "$path" "$lua")
			if awk -v a="$rps" -v b="${best_rps[$p]}" 'BEGIN{exit !(a>b)}'; then best_rps[$p]=$rps; best_p99[$p]=$p99; fi
		done
	done
	for p in "$@"; do echo "${best_rps[$p]} ${best_p99[$p]}"; done
}

for p in $bare_port $mem_port $red_port; do run "$p" /api/login "$work/login.lua" >/dev/null; done # warm-up
mapfile -t login < <(rounds /api/login "$work/login.lua" "$bare_port" "$mem_port" "$red_port")
mapfile -t pass < <(rounds / "" "$bare_port" "$mem_port")

# Redis commands per attempt, over one more run against (c) alone.
redis-cli -p "$redis_port" CONFIG RESETSTAT >/dev/null
read -r _ _ attempts < <(run "$red_port" /api/login "$work/login.lua")
calls=$(redis-cli -p "$redis_port" INFO commandstats | awk -F'[=,:]' '/^cmdstat_/ && !/cmdstat_(info|config|ping|hello|client)/ {s+=$3} END {print s+0}')
evals=$(redis-cli -p "$redis_port" INFO commandstats | awk -F'[=,:]' '/^cmdstat_(evalsha|eval):/ {s+=$3} END {print s+0}')

# CPU per request (user + system, from /proc): the gateway's Caddy, the portal and Redis,
# over one more run of each. A figure that a noisy machine moves less than throughput.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
cpu() { # cpu <caddy pid> <port>: prints "caddy portal redis" in µs per request
	local c0 p0 r0 n
	c0=$(ticks "$1"); p0=$(ticks "$portal_pid"); r0=$(ticks "$redis_pid")
	read -r _ _ n < <(run "$2" /api/login "$work/login.lua")
	awk -v c="$(( $(ticks "$1") - c0 ))" -v p="$(( $(ticks "$portal_pid") - p0 ))" -v r="$(( $(ticks "$redis_pid") - r0 ))" \
		-v n="$n" -v hz="$hz" 'BEGIN { f = 1e6 / hz / n; printf "%.0f %.0f %.0f\n", c*f, p*f, r*f }'
}
read -r cpu_bare_c cpu_bare_p _ < <(cpu "$bare_pid" "$bare_port")
read -r cpu_mem_c cpu_mem_p _ < <(cpu "$mem_pid" "$mem_port")
read -r cpu_red_c cpu_red_p cpu_red_r < <(cpu "$red_pid" "$red_port")

# p99 at half of bare's peak rate, open loop: OPEN_ROUNDS rounds of (a), (b), (c) in
# turn. One 5 s round's p99 moves by several milliseconds with what else the two cores
# run, so each configuration's figure is the median of its rounds' p50 and p99.
half=$(awk -v r="${login[0]% *}" 'BEGIN{printf "%d", r/2}')
lat() { "${on_rest[@]}" "$work/loadgen" -url "http://127.0.0.1:$1/api/login" -rate "$half" -duration "$DURATION" -success-every 256; }
field() { echo "$1" | sed "s/.*$2=\([0-9.]*\).*/\1/"; }
median() { tr ' ' '\n' | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# The admission's own wait (loginguard_state_wait_seconds{op="admit"}) over the same
# rounds: the time a request spent waiting for the state store, apart from what the
# rest of the box did to it. admit_hist <port>: "<count> <sum> <le>:<cumulative> ...".
admit_hist() {
	curl -s "http://127.0.0.1:$1/metrics" | awk -F'[ {}]' '
		/^loginguard_state_wait_seconds_bucket/ && /op="admit"/ {match($0, /le="[^"]*"/); le=substr($0, RSTART+4, RLENGTH-5); b=b " " le ":" $NF}
		/^loginguard_state_wait_seconds_count/ && /op="admit"/ {n=$NF}
		/^loginguard_state_wait_seconds_sum/ && /op="admit"/ {s=$NF}
		END {print n+0, s+0 b}'
}
# admit_wait <before> <after>: "mean <ms> ms, p99 <= <ms> ms" over the difference.
admit_wait() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, " "); split(b, y, " "); n = y[1] - x[1]
		if (n <= 0) { print "no admissions"; exit }
		for (i = 3; i <= na; i++) { split(x[i], p, ":"); split(y[i], q, ":"); if (q[2] - p[2] >= 0.99 * n) { le = p[1]; break } }
		printf "mean %.3f ms, p99 <= %s ms over %d admissions", (y[2] - x[2]) / n * 1000, (le == "+Inf") ? "inf" : le * 1000, n }'
}
hist_mem0=$(admit_hist "$mem_port"); hist_red0=$(admit_hist "$red_port")
declare -A p50s p99s failed=([a]=0 [b]=0 [c]=0)
for r in $(seq "$OPEN_ROUNDS"); do
	for cfg in a:$bare_port b:$mem_port c:$red_port; do
		out=$(lat "${cfg#*:}")
		echo "open loop round $r (${cfg%:*}): $out" >>"$work/open.log"
		p50s[${cfg%:*}]+="$(field "$out" p50_ms) "
		p99s[${cfg%:*}]+="$(field "$out" p99_ms) "
		failed[${cfg%:*}]=$(( failed[${cfg%:*}] + $(field "$out" failed) ))
	done
done
printf '%-38s %10s %9s\n' "throughput (wrk, -c$CONNS, best of $ROUNDS)" "req/s" "p99 ms"
printf '%-38s %10s %9s\n' "(a) bare reverse_proxy   /api/login" ${login[0]}
printf '%-38s %10s %9s\n' "(b) loginguard, memory   /api/login" ${login[1]}
printf '%-38s %10s %9s\n' "(c) loginguard, Redis    /api/login" ${login[2]}
printf '%-38s %10s %9s\n' "(a) bare reverse_proxy   / (no handler)" ${pass[0]}
printf '%-38s %10s %9s\n' "(b) loginguard config    / (no handler)" ${pass[1]}
# The floor: one more round of (a) at the same rate, with bench/redisping timing a lone
# Redis PING round trip (1,000 a second, one at a time) against the idle Redis meanwhile.
# No Redis-backed admission can wait less than that round trip on this machine at this load.
"${on_rest[@]}" "$work/redisping" -addr "127.0.0.1:$redis_port" -rate 1000 -duration "$DURATION" >"$work/ping.out" &
ping_pid=$!
lat "$bare_port" >/dev/null
wait "$ping_pid"
ping=$(cat "$work/ping.out")
wait_mem=$(admit_wait "$hist_mem0" "$(admit_hist "$mem_port")")
wait_red=$(admit_wait "$hist_red0" "$(admit_hist "$red_port")")
echo "open loop at $half req/s (half of bare's peak), median of $OPEN_ROUNDS rounds (p99s of the rounds in brackets):"
for cfg in a b c; do
	printf '  (%s) p50 %.3f ms, p99 %.3f ms  [%s], %d answers 5xx or 429\n' "$cfg" "$(echo ${p50s[$cfg]} | median)" "$(echo ${p99s[$cfg]} | median)" "${p99s[$cfg]% }" "${failed[$cfg]}"
done
awk -v a="$(echo ${p99s[a]} | median)" -v b="$(echo ${p99s[b]} | median)" -v c="$(echo ${p99s[c]} | median)" \
	-v a50="$(echo ${p50s[a]} | median)" -v b50="$(echo ${p50s[b]} | median)" -v c50="$(echo ${p50s[c]} | median)" \
	'BEGIN { printf "added at half rate: memory p50 %.3f ms, p99 %.3f ms; redis p50 %.3f ms, p99 %.3f ms\n", b50-a50, b-a, c50-a50, c-a }'
echo "admission wait at half rate (loginguard_state_wait_seconds): memory $wait_mem; redis $wait_red"
echo "floor: a lone Redis PING round trip while (a) runs at half rate: $ping"
awk -v c="$calls" -v e="$evals" -v n="$attempts" \
	'BEGIN { printf "redis per attempt: %.2f commands, %.2f script calls (pipelined when concurrent) over %d attempts\n", c/n, e/n, n }'
echo "CPU per request (µs; Caddy + portal + Redis): (a) $cpu_bare_c + $cpu_bare_p, (b) $cpu_mem_c + $cpu_mem_p, (c) $cpu_red_c + $cpu_red_p + $cpu_red_r"
echo "events written: memory $(wc -l <"$work/mem.jsonl"), redis $(wc -l <"$work/red.jsonl")"
awk -v a="${login[1]% *}" -v b="${login[0]% *}" -v c="${pass[1]% *}" -v d="${pass[0]% *}" -v r="${login[2]% *}" \
	'BEGIN { printf "login_ratio=%.3f passthrough_ratio=%.3f redis_ratio=%.3f\n", a/b, c/d, r/b }'
