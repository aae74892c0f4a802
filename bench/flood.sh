#!/usr/bin/env bash
# Flood benchmark. One Caddy with loginguard in front of the demo portal (memory state,
# SQLite login log, lockout 5 in 15m, the default locked_events 10 per sample_interval
# 10s, no per-IP limit so that every attempt reaches the lockout), and a second one the
# same but with `locked_events all`. In one run:
#   rate:   the login rate bench/gateway.sh reaches (wrk, closed loop, its mix of 5,000
#           unknown accounts and one in 256 successful logins), on the second instance;
#   alone:  the login throughput (wrk) of a legitimate account, logging in with its
#           right password, with nothing else going on;
#   flood:  the same while bench/loadgen floods another account with wrong passwords
#           from the same IP at that rate, open loop (an attacker does not slow down
#           when the gateway does);
#   all:    the same flood on the `locked_events all` instance (rows stored per second
#           when every refusal is an event).
# Prints the events stored per second during each flood (rows of the flooded account in
# the log store, every sampled count delivered) and last one line:
#   legit_ratio=<flood/alone> stored_per_s=<n> stored_per_s_all=<n> flood_rate=<n>
# Environment: DURATION (per run, default 10s), CONNS (wrk connections, default 16),
# FLOOD_RATE (attempts/s; unset: the rate measured above).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
secs=${DURATION%s}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/loadgen
portal_port=$(free_port)
"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)

token=bench-admin-token-0123456789
cfg() { # cfg <port> <admin port> <db> <locked_events>
	cat <<CF
{
	admin off
	log default {
		level ERROR
	}
	loginguard {
		state memory
		store sqlite $3
	}
}
http://127.0.0.1:$1 {
	loginguard /api/login {
$(login_rules)
		session_cookie portal_session
		lockout {
			max_failures 5
			window 15m
			duration 15m
			locked_events $4
		}
	}
	reverse_proxy 127.0.0.1:$portal_port
}
http://127.0.0.1:$2 {
	loginguard_admin {
		admin_token $token
	}
}
CF
}
sampled_port=$(free_port) sampled_api=$(free_port) all_port=$(free_port) all_api=$(free_port)
cfg "$sampled_port" "$sampled_api" "$work/sampled.db" 10 >"$work/sampled.caddyfile"
cfg "$all_port" "$all_api" "$work/all.db" all >"$work/all.caddyfile"
for c in sampled all; do
	XDG_DATA_HOME="$work/data-$c" "$work/caddy" run --config "$work/$c.caddyfile" --adapter caddyfile >"$work/$c.log" 2>&1 &
	pids+=($!)
done
for port in $portal_port $sampled_port $all_port $sampled_api $all_api; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

victim=waiting@example.com
cat >"$work/flood.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
	n = n + 1
	return wrk.format(nil, "/api/login", nil, '{"email":"$victim","password":"guess-' .. n .. '"}')
end
LUA
cat >"$work/mix.lua" <<'LUA'
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
cat >"$work/legit.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"active@example.com","password":"correct-horse"}'
LUA
rps() { # rps <port> <lua> <duration>
	wrk -t1 -c"$CONNS" -d"$3" -s "$2" "http://127.0.0.1:$1/api/login" | awk '/Requests\/sec/ {print $2}'
}
# rows <api port>: the flooded account's rows in the log store
rows() {
	curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$1/api/v1/login-logs?size=1&email=$victim" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["totalElements"])'
}
# settle <api port>: waits until the row count stops moving (the last sampled count
# arrives when its interval ends, the store flushes every 200ms), prints it
settle() {
	local last=-1 now stable=0
	for _ in $(seq 200); do
		now=$(rows "$1")
		if [ "$now" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
		[ "$stable" -ge 12 ] && { echo "$now"; return; }
		last=$now
		sleep 0.25
	done
	echo "$now"
}
# stored <rows before> <rows after> <loadgen output>: rows per second of the flood
stored() {
	local sent rate
	sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' <<<"$3")
	rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$3")
	awk -v a="$2" -v b="$1" -v n="$sent" -v r="$rate" 'BEGIN{printf "%.1f", (a-b)/(n/r)}'
}
flood() { # flood <port> <rate>: loadgen's summary line
	"$work/loadgen" -url "http://127.0.0.1:$1/api/login" -account "$victim" -rate "$2" -duration "$DURATION" -conns 64
}

rps "$sampled_port" "$work/flood.lua" 2s >/dev/null # warm-up; locks the victim
rps "$all_port" "$work/flood.lua" 2s >/dev/null
rate=${FLOOD_RATE:-$(rps "$all_port" "$work/mix.lua" "$DURATION")}
echo "flood rate (bench/gateway.sh's login mix, closed loop): $rate attempts/s"
alone=$(rps "$sampled_port" "$work/legit.lua" "$DURATION")
echo "legitimate account alone: $alone logins/s"
before=$(settle "$sampled_api")
flood "$sampled_port" "$rate" >"$work/flood.out" &
lg=$!
during=$(rps "$sampled_port" "$work/legit.lua" "$DURATION")
wait "$lg"
after=$(settle "$sampled_api")
out=$(cat "$work/flood.out")
per_s=$(stored "$before" "$after" "$out")
echo "legitimate account during the flood: $during logins/s; the flood: $out"
echo "rows stored for the flooded account: $per_s/s ($((after - before)) rows; locked_events 10)"
before=$(settle "$all_api")
out=$(flood "$all_port" "$rate")
after=$(settle "$all_api")
per_s_all=$(stored "$before" "$after" "$out")
echo "rows stored with locked_events all: $per_s_all/s ($((after - before)) rows; the flood: $out)"
echo "legit_ratio=$(awk -v a="$during" -v b="$alone" 'BEGIN{printf "%.3f", a/b}') stored_per_s=$per_s stored_per_s_all=$per_s_all flood_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$(cat "$work/flood.out")")"
