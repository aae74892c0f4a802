#!/usr/bin/env bash
# Fleet-wide alerts benchmark: what the alert engine costs when it counts its windows in
# Redis (alerts.NewFleet over alerts/redisalerts), on the login route with Redis state.
#
# Usage: bench/fleetalerts.sh                 (from anywhere; about 4 minutes once built)
#        DURATION=10s ROUNDS=5 bench/fleetalerts.sh
#
# Needs go, wrk (installed with apt-get when run as root), redis-server, redis-cli,
# python3 and curl. Every process it starts listens on a free port of 127.0.0.1 and is
# stopped on exit; nothing outside a temporary directory is written.
#
# On the same upstream (the demo portal) and one redis-server of its own (no persistence),
# Caddy with the same site, Redis state and a file sink (log store off, log level WARN) in
# three configurations:
#   off    no `alerts` option,
#   on     `alerts` with the default rules (the fleet engine: windows in Redis),
#   quiet  `alerts` with every counting rule's threshold out of reach (1,000,000): the
#          windows are updated as in `on`, but nothing fires. on against quiet is what
#          firing itself costs (the ALERT events and warnings; in Redis, the cooldown
#          claim, inside the same script call).
# wrk POSTs login bodies to /api/login with an X-Forwarded-For header that Caddy trusts
# (trusted_proxies 127.0.0.1/32), so that loginguard sees IPS client IPs (10.<t>.x.y)
# failing on ACCOUNTS unknown accounts (reason ACCOUNT_NOT_FOUND: every attempt is
# forwarded, none counts towards a lockout), and one login in SUCCESS_EVERY is
# active@example.com's success. Each run has IPs and accounts of its own (<t> is its
# tag), so that every run starts with empty windows and no cooldowns and fires the same
# alerts: at 1,000 logins/s for 10 s each IP fails about 150 times (ip_failures fires at
# 10, credential_stuffing at 5 accounts) and each account about 40 times, from as many IPs
# (distributed_attack at 5): each IP and account fires its rules once (their cooldowns
# outlast the run). Subjects alerting per run: about 2 x IPS + ACCOUNTS.
#
# Part 1, throughput and CPU: one Caddy of each configuration, ROUNDS rounds of each,
# interleaved (off on quiet, on quiet off, ...), so that the machine's drift falls on all
# alike. After each wrk run the script waits SETTLE for the events in flight (the fleet
# engine flushes its queue every 20 ms), then takes, for that round:
#   - wrk's req/s, and the login events and ALERT events the round added to that Caddy's
#     event file (one login event per attempt: "per login" below; it is wrk's request
#     count plus the requests in flight when wrk stopped);
#   - the CPU (user + system, /proc/<pid>/stat) that Caddy and Redis spent, per login;
#   - from Redis, since `CONFIG RESETSTAT` just before the round: total_commands_processed
#     (this counts the commands that scripts run inside Redis as well), the EVALSHA/EVAL
#     calls (`INFO commandstats`), total_reads_processed (read calls on client
#     connections: one per round trip whose bytes arrive together, more for a pipeline
#     larger than Redis's 16 KiB read buffer) and total_net_input_bytes, per login.
#   Redis's figures are net of its idle background (every Caddy sweeps the lock-end
#   buckets, 1,024 script calls, every 5 s, load or not), measured for 5 s with the three
#   Caddys idle and subtracted at that rate for each round's seconds.
# Part 2, round trips: then each configuration alone, its Redis reached through
# bench/respcount, a proxy that parses the commands and the replies and counts round trips
# (a command sent on a connection whose earlier commands are all answered starts one: a
# pipeline is one round trip) and commands sent, and apart those that carry a script call
# on an alert key (loginguard:alerts:...). One COUNT_DURATION run of each, paced at about
# COUNT_RATE logins/s (each connection waits CONNS/COUNT_RATE s before each request), since
# the state store's batching, and so its round trips per login, follows the rate; before
# it, 5 s of that Caddy idle, whose round trips and commands (its background) are
# subtracted at that rate. The proxy adds a hop: no throughput is taken from this part.
#
# Prints a line per round and per counting run, the medians, the alert engine's Redis
# traffic per login and per alert fired, the alerts by rule (loginguard_alerts_total
# from each Caddy's /metrics, and the "loginguard alert" warnings in each Caddy's log),
# and last:
#   alerts_ratio=<median over rounds of on/off req/s> median_ratio=<median on / median off>
#   quiet_ratio=<median over rounds of quiet/off>
# It fails when an `on` run fired no alert, or an `off` or `quiet` run fired one.
#
# Environment: DURATION (per round, default 10s), ROUNDS (of each configuration, default
# 3), COUNT_DURATION (per counting run, default 5s), COUNT_RATE (default 300), CONNS (wrk
# connections, default 32), IPS (default 64), ACCOUNTS (default 250), SUCCESS_EVERY
# (default 16), SETTLE (seconds after each run, default 1), KEEP (when set, the run's
# temporary directory is kept: event files, Caddy logs, round lines).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
for c in go redis-server redis-cli python3 curl; do
	command -v $c >/dev/null || { echo "$c is not installed" >&2; exit 1; }
done
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
COUNT_DURATION=${COUNT_DURATION:-5s}
COUNT_RATE=${COUNT_RATE:-300}
CONNS=${CONNS:-32}
IPS=${IPS:-64}
ACCOUNTS=${ACCOUNTS:-250}
SUCCESS_EVERY=${SUCCESS_EVERY:-16}
SETTLE=${SETTLE:-1}
if [ "$ROUNDS" -lt 1 ] || [ "$ROUNDS" -gt 70 ]; then echo "ROUNDS=$ROUNDS: want 1 to 70" >&2; exit 2; fi
if [ "$COUNT_RATE" -lt 1 ] || [ "$COUNT_RATE" -gt "$((CONNS * 1000))" ]; then echo "COUNT_RATE=$COUNT_RATE: want 1 to 1000 per connection" >&2; exit 2; fi
if [ "$IPS" -lt 1 ] || [ "$IPS" -gt 65536 ]; then echo "IPS=$IPS: want 1 to 65536" >&2; exit 2; fi
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${KEEP:-}" ]; then echo "kept: $work (event files, Caddy logs, round lines)" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'echo "bench/fleetalerts.sh: failed at line $LINENO" >&2' ERR
# Caddy's autosave and data stay in the run's directory.
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/respcount
portal_port=$(free_port) redis_port=$(free_port) proxy_port=$(free_port) proxy_http=$(free_port)
configs=(off on quiet)
declare -A port pid
for c in "${configs[@]}"; do port[$c]=$(free_port) port[$c.n]=$(free_port); done

"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >/dev/null &
pids+=($!)
redis_pid=$!
"$work/respcount" -listen "127.0.0.1:$proxy_port" -upstream "127.0.0.1:$redis_port" -http "127.0.0.1:$proxy_http" 2>"$work/respcount.log" &
pids+=($!)

# cfg <port> <name> <redis port> <alerts option>
cfg() {
	cat <<CF
{
	admin off
	log default {
		level WARN
	}
	servers {
		trusted_proxies static 127.0.0.1/32
	}
	loginguard {
		state redis://127.0.0.1:$3
		sink file $work/$2.jsonl
		store off
$4
	}
}
http://127.0.0.1:$1 {
$(login_handler)
	metrics /metrics
	reverse_proxy 127.0.0.1:$portal_port
}
CF
}
declare -A option=([off]="" [on]="		alerts" [quiet]="		alerts {
			ip_failures 1000000 1h
			credential_stuffing 1000000 10m
			distributed_attack 1000000 1h
			guessed_password 1000000 1h
		}")
# Part 1's Caddy of each configuration is <c>, part 2's (through the proxy) <c>.n.
for c in "${configs[@]}"; do
	cfg "${port[$c]}" "$c" "$redis_port" "${option[$c]}" >"$work/$c.caddyfile"
	cfg "${port[$c.n]}" "$c.n" "$proxy_port" "${option[$c]}" >"$work/$c.n.caddyfile"
done
# start <caddy>: starts that Caddy and waits until it answers; stop <caddy> stops it.
# Only the Caddys of the part running are up: each one's background work (the lock-end
# sweep: one script call per bucket, 1,024, every 5 s; the block list every 2 s) reaches
# Redis whether it has load or not.
start() {
	: >"$work/$1.jsonl"
	"$work/caddy" run --config "$work/$1.caddyfile" --adapter caddyfile >"$work/$1.log" 2>&1 &
	pids+=($!)
	pid[$1]=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:${port[$1]}/" && return 0; sleep 0.1; done
	echo "Caddy $1 did not start:" >&2
	cat "$work/$1.log" >&2
	exit 1
}
stop() {
	local p=${pid[$1]} q keep=()
	kill "$p"
	wait "$p" 2>/dev/null || true
	for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
	pids=("${keep[@]}")
}
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$portal_port/" && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null
curl -sf "http://127.0.0.1:$proxy_http/counts" >/dev/null

# The login mix. wrk passes: <tag> <ips> <accounts> <success every>.
cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tag, ips, accounts, every
local n = 0
init = function(args)
	tag, ips, accounts, every = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
end
request = function()
	n = n + 1
	-- Every IP fails, and the successes come from every IP too.
	local i = (n + math.floor(n / every)) % ips
	local ip = "10." .. tag .. "." .. math.floor(i / 256) .. "." .. (i % 256)
	local body
	if n % every == 0 then
		body = '{"email":"active@example.com","password":"correct-horse"}'
	else
		body = '{"email":"u' .. (n % accounts) .. '.t' .. tag .. '@example.org","password":"guess-' .. n .. '"}'
	end
	return wrk.format(nil, "/api/login", {["X-Forwarded-For"] = ip}, body)
end
LUA
# Part 2's pace: each connection waits this long before each request, so that the
# configurations are counted at the same rate (the state store's batching, and so its
# round trips per login, depends on the rate).
{
	cat "$work/login.lua"
	echo "delay = function() return $((CONNS * 1000 / COUNT_RATE)) end"
} >"$work/paced.lua"
# load <caddy> <tag> <duration> [paced]: prints wrk's output.
load() { wrk -t1 -c"$CONNS" -d"$3" -s "$work/${4:-login}.lua" "http://127.0.0.1:${port[$1]}/api/login" -- "$2" "$IPS" "$ACCOUNTS" "$SUCCESS_EVERY"; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# info <section> <field>: the field's value in the run's Redis.
info() { redis-cli -p "$redis_port" INFO "$1" | tr -d '\r' | awk -F: -v f="$2" '$1 == f {print $2}'; }
# scripts: EVALSHA and EVAL calls since the last reset.
scripts() { redis-cli -p "$redis_port" INFO commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_(evalsha|eval):/ {s += $3} END {print s + 0}'; }
# events <caddy>: "<login events> <ALERT events>" in that Caddy's event file.
events() { awk '/"eventType":"ALERT"/ {a++; next} /"eventType":"LOGIN_/ {l++} END {print l + 0, a + 0}' "$work/$1.jsonl"; }
# perlogin <ticks> <logins>: µs of CPU per login.
perlogin() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}'; }

# now: seconds since the epoch. redis_since <start> <redis ticks at start>: prints
# "<seconds> <redis ticks> <commands> <script calls> <read calls> <input bytes>" since then
# (and since the last CONFIG RESETSTAT).
now() { date +%s.%N; }
redis_since() {
	echo "$(awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}') $(($(ticks "$redis_pid") - $2))" \
		"$(info stats total_commands_processed) $(scripts) $(info stats total_reads_processed) $(info stats total_net_input_bytes)"
}
# round <config> <tag>: one part-1 run; appends to $work/rounds
# "<config> <req/s> <requests> <caddy ticks> <logins> <alerts> <seconds> <redis ticks>
#  <commands> <script calls> <read calls> <input bytes>"
round() {
	local c=$1 out rps n t0 c0 r0 c1 l0 a0 l1 a1 red
	read -r l0 a0 < <(events "$c")
	redis-cli -p "$redis_port" CONFIG RESETSTAT >/dev/null
	t0=$(now) c0=$(ticks "${pid[$c]}") r0=$(ticks "$redis_pid")
	out=$(load "$c" "$2" "$DURATION")
	sleep "$SETTLE"
	c1=$(ticks "${pid[$c]}") red=$(redis_since "$t0" "$r0")
	read -r rps n < <(echo "$out" | awk '/Requests\/sec/ {r = $2} /requests in/ {n = $1} END {print r, n}')
	read -r l1 a1 < <(events "$c")
	echo "$c $rps $n $((c1 - c0)) $((l1 - l0)) $((a1 - a0)) $red" >>"$work/rounds"
}

# metrics <caddy>: its loginguard_alerts_total by rule, its "loginguard alert" warnings,
# and its warnings that the shared alert windows failed (a flush of the alert engine
# that failed: its events count for no alert), with how many events each held and why;
# saved while it runs, printed at the end.
metrics() {
	local m f
	m=$(curl -s "http://127.0.0.1:${port[$1]}/metrics" | awk -F'[{}" ]' '/^loginguard_alerts_total\{/ {for (i = 1; i <= NF; i++) if ($i == "rule=") r = $(i + 1); printf "%s%s=%s", sep, r, $NF; sep = " "}')
	f=$(grep 'shared alert windows failed' "$work/$1.log" | grep -o '"events":[0-9]*\|"error":"[^"]*"' | paste -sd' ' || true)
	printf '  %-7s %s; "loginguard alert" warnings: %d; flushes failed: %d %s\n' "$1" "${m:-none}" \
		"$(grep -c '"msg":"loginguard alert"' "$work/$1.log" || true)" "$(grep -c 'shared alert windows failed' "$work/$1.log" || true)" "$f" >>"$work/metrics"
}
declare -A warm fired

# Part 1. Warm-up: one short run of each (tags 250-252, not counted), then Redis with the
# three Caddys idle, for the background's share of the rounds' figures.
for c in "${configs[@]}"; do start "$c"; done
tag=249
for c in "${configs[@]}"; do
	tag=$((tag + 1))
	load "$c" "$tag" 2s >/dev/null
done
sleep "$SETTLE"
for c in "${configs[@]}"; do warm[$c]=$(events "$c" | cut -d' ' -f2); done
redis-cli -p "$redis_port" CONFIG RESETSTAT >/dev/null
t0=$(now) r0=$(ticks "$redis_pid")
sleep 5
idle=$(redis_since "$t0" "$r0")

echo "round lines: config req/s requests caddy-ticks logins alerts seconds redis-ticks redis-commands script-calls read-calls input-bytes"
tag=0
for r in $(seq "$ROUNDS"); do
	for k in 0 1 2; do
		c=${configs[$(((r - 1 + k) % 3))]}
		tag=$((tag + 1))
		round "$c" "$tag"
		echo "round $r: $(tail -n1 "$work/rounds")"
	done
done
for c in "${configs[@]}"; do
	metrics "$c"
	fired[$c]=$(($(events "$c" | cut -d' ' -f2) - warm[$c]))
	stop "$c"
done

# Part 2: each configuration alone, through the proxy: a warm-up (tags 253-255), its
# background alone for 5 s (the lock-end sweep and the block list: subtracted at that rate
# from its counts below), then one counting run; appends to $work/counted
# "<config> <logins> <alerts> <round trips> <alert round trips> <commands> <alert commands>
#  <load seconds> <counted seconds> <idle round trips> <idle commands> <idle seconds>".
fields() { awk '{for (i = 1; i <= 4; i++) {split($i, kv, "="); printf "%s%s", sep, kv[2]; sep = " "}; printf "\n"}'; }
wtag=252
for c in "${configs[@]}"; do
	n=$c.n
	start "$n"
	wtag=$((wtag + 1))
	load "$n" "$wtag" 2s >/dev/null
	sleep "$SETTLE"
	curl -s "http://127.0.0.1:$proxy_http/reset" >/dev/null
	t0=$(now)
	sleep 5
	read -r irt _ icmd _ < <(curl -s "http://127.0.0.1:$proxy_http/reset" | fields)
	isecs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
	tag=$((tag + 1))
	read -r l0 a0 < <(events "$n")
	warm[$n]=$a0
	t0=$(now)
	load "$n" "$tag" "$COUNT_DURATION" paced >/dev/null
	secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
	sleep "$SETTLE"
	line=$(curl -s "http://127.0.0.1:$proxy_http/reset")
	wsecs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.3f", b - a}')
	read -r l1 a1 < <(events "$n")
	fired[$n]=$((a1 - a0))
	echo "$c $((l1 - l0)) $((a1 - a0)) $(echo "$line" | fields) $secs $wsecs $irt $icmd $isecs" >>"$work/counted"
	echo "counted $c: $((l1 - l0)) logins, $((a1 - a0)) alerts; $line; idle alone: $irt round trips, $icmd commands in $isecs s"
	metrics "$n"
	stop "$n"
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# Part 1 per login, with Redis's figures net of the idle background (its rate with the
# three Caddys idle, times the round's seconds): $work/per
# "<config> <req/s> <caddy µs> <redis µs> <alerts> <commands> <script calls> <read calls> <input bytes> <logins>".
read -r is it ic iscr ir ib <<<"$idle"
awk -v is="$is" -v it="$it" -v ic="$ic" -v iscr="$iscr" -v ir="$ir" -v ib="$ib" -v hz="$hz" '{
	n = $5; k = $7 / is
	printf "%s %s %.1f %.1f %d %.3f %.3f %.4f %.1f %d\n", $1, $2, $4 * 1e6 / hz / n, ($8 - it * k) * 1e6 / hz / n, $6,
		($9 - ic * k) / n, ($10 - iscr * k) / n, ($11 - ir * k) / n, ($12 - ib * k) / n, n }' "$work/rounds" >"$work/per"
# col <config> <field of $work/per>: the median over its rounds.
col() { awk -v c="$1" -v f="$2" '$1 == c {print $f}' "$work/per" | median; }
# cnt <config> <field>: that field of the config's counting line; round trips (4) and
# commands (6) net of the idle background.
cnt() { awk -v c="$1" -v f="$2" '$1 == c {k = $9 / $12; print (f == 4) ? $4 - $10 * k : (f == 6) ? $6 - $11 * k : $f}' "$work/counted"; }
echo
awk -v s="$is" -v t="$it" -v c="$ic" -v x="$iscr" -v r="$ir" -v b="$ib" -v hz="$hz" 'BEGIN {
	printf "Redis with the three Caddys idle, per second: %.1f ms CPU, %.0f commands, %.0f script calls, %.1f read calls, %.0f input bytes (subtracted below)\n", t * 1000 / hz / s, c / s, x / s, r / s, b / s }'
echo "part 1, medians over $ROUNDS rounds of $DURATION ($CONNS connections, $IPS IPs, $ACCOUNTS accounts, one success in $SUCCESS_EVERY); per login:"
printf '%-6s %8s %10s %10s %7s %22s %9s %9s %10s\n' config req/s "Caddy µs" "Redis µs" alerts "commands (in scripts)" scripts reads "in bytes"
for c in "${configs[@]}"; do
	printf '%-6s %8.0f %10.1f %10.1f %7.0f %22.3f %9.3f %9.4f %10.1f\n' "$c" \
		"$(col "$c" 2)" "$(col "$c" 3)" "$(col "$c" 4)" "$(col "$c" 5)" "$(col "$c" 6)" "$(col "$c" 7)" "$(col "$c" 8)" "$(col "$c" 9)"
done
echo "part 2, through bench/respcount, each configuration alone, paced at about $COUNT_RATE logins/s for $COUNT_DURATION; per login (round trips and commands net of its idle background):"
printf '%-6s %8s %7s %12s %19s %10s %16s %18s\n' config logins/s alerts "round trips" "alert round trips" commands "alert commands" "alert round trips/s"
for c in "${configs[@]}"; do
	awk -v c="$c" '$1 == c {k = $9 / $12; printf "%-6s %8.0f %7d %12.4f %19.5f %10.3f %16.3f %18.1f\n", c, $2 / $8, $3, ($4 - $10 * k) / $2, $5 / $2, ($6 - $11 * k) / $2, $7 / $2, $5 / $8}' "$work/counted"
done
# The alert engine's Redis traffic: what on adds to off per login (part 1: commands run
# in Redis, script calls, read calls, Redis CPU; part 2: round trips and commands sent,
# and those of the alert engine), and per alert fired. What firing itself adds: on
# against quiet (the same ops, none firing), per alert.
awk -v on_c="$(col on 6)" -v off_c="$(col off 6)" -v on_s="$(col on 7)" -v off_s="$(col off 7)" \
	-v on_r="$(col on 8)" -v off_r="$(col off 8)" -v on_u="$(col on 4)" -v off_u="$(col off 4)" \
	-v n_on="$(cnt on 2)" -v al="$(cnt on 3)" -v rt_on="$(cnt on 4)" -v art_on="$(cnt on 5)" -v c_on="$(cnt on 6)" -v ac_on="$(cnt on 7)" \
	-v n_off="$(cnt off 2)" -v rt_off="$(cnt off 4)" -v c_off="$(cnt off 6)" \
	-v n_q="$(cnt quiet 2)" -v art_q="$(cnt quiet 5)" -v ac_q="$(cnt quiet 7)" -v s_on="$(cnt on 8)" -v s_q="$(cnt quiet 8)" 'BEGIN {
	printf "the alert engine in Redis, per login: part 1 (on - off) %+.3f commands run (in scripts too), %+.3f script calls, %+.4f read calls, %+.1f µs Redis CPU;\n", on_c - off_c, on_s - off_s, on_r - off_r, on_u - off_u
	printf "  part 2 (on - off) %+.4f round trips, %+.3f commands sent; on: %.5f alert round trips (one per %.1f logins), %.3f alert commands\n", rt_on / n_on - rt_off / n_off, c_on / n_on - c_off / n_off, art_on / n_on, n_on / art_on, ac_on / n_on
	if (al > 0) printf "per alert fired (%d alerts in part 2): the alert engine %.4f round trips, %.2f commands; what firing adds (on - quiet, per login, times logins per alert): %+.3f alert commands\n", al, art_on / al, ac_on / al, (ac_on / n_on - ac_q / n_q) * n_on / al
	printf "  (the alert engine sends what waits every 20 ms, or at 512 events: its round trips follow the time, not the alerts: on %.1f a second of load, quiet %.1f)\n", art_on / s_on, art_q / s_q }'
echo
echo "alerts fired, by rule (loginguard_alerts_total, warm-up included):"
cat "$work/metrics"
echo "ALERT events in the event files after the warm-ups: part 1 off ${fired[off]}, on ${fired[on]}, quiet ${fired[quiet]}; part 2 off ${fired[off.n]}, on ${fired[on.n]}, quiet ${fired[quiet.n]}"
# ratios <config>: its req/s over off's, round by round (the k-th run of each).
ratios() { awk -v c="$1" '$1 == c {x[++i] = $2} $1 == "off" {off[++j] = $2} END {for (k = 1; k <= i; k++) print x[k] / off[k]}' "$work/per"; }
awk -v r="$(ratios on | median)" -v q="$(ratios quiet | median)" -v a="$(col on 2)" -v b="$(col off 2)" \
	'BEGIN {printf "alerts_ratio=%.3f median_ratio=%.3f quiet_ratio=%.3f\n", r, a / b, q}'
if awk '$1 == "on" && $6 == 0 {bad = 1} END {exit !bad}' "$work/rounds" || [ "${fired[on.n]}" -le 0 ]; then
	echo "FAIL: a run of on fired no alert" >&2
	exit 1
fi
for c in off quiet off.n quiet.n; do
	if [ "${fired[$c]}" -ne 0 ]; then echo "FAIL: $c fired ${fired[$c]} alerts" >&2; exit 1; fi
done
