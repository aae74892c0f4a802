#!/usr/bin/env bash
# OpenTelemetry benchmark. In one run, on the same upstream (the demo portal), the
# gateway bench's login route (memory state, file sink, store off, bench/gateway.sh's
# login mix) with telemetry off and with it on: Caddy's `tracing` and loginguard's spans
# and metrics exported over OTLP/HTTP to a local receiver (bench/otlpsink), every trace
# sampled; and, to tell the two apart, loginguard's export alone (no Caddy tracing).
# Rounds interleave the three (best of ROUNDS each). Last line:
#   otel_ratio=<on/off> lg_ratio=<loginguard's export alone/off>
# Environment: DURATION (per run, default 5s), CONNS (default 32), ROUNDS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/otlpsink
portal_port=$(free_port) off_port=$(free_port) on_port=$(free_port) lg_port=$(free_port) sink_port=$(free_port)
"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)
"$work/otlpsink" -addr "127.0.0.1:$sink_port" &
pids+=($!)

cfg() { # cfg <port> <events file> <telemetry line> <tracing directive>
	cat <<CF
{
	admin off
	log default {
		level ERROR
	}
	loginguard {
		state memory
		sink file $2
		store off
		$3
	}
}
http://127.0.0.1:$1 {
	$4
	loginguard /api/login {
		portal_id bench
		rule success {
			status 200
			cookie portal_session
		}
		rule failure {
			status 4xx
			json /code
			reasons {
				BAD_CREDENTIALS BAD_CREDENTIALS
				USER_NOT_FOUND ACCOUNT_NOT_FOUND
			}
		}
		account_id /account/id
		display_name /account/displayName
		session_cookie portal_session
	}
	reverse_proxy 127.0.0.1:$portal_port
}
CF
}
cfg "$off_port" "$work/off.jsonl" "telemetry off" "" >"$work/off.caddyfile"
cfg "$on_port" "$work/on.jsonl" "telemetry http://127.0.0.1:$sink_port {
			metric_interval 1s
		}" "tracing" >"$work/on.caddyfile"
cfg "$lg_port" "$work/lg.jsonl" "telemetry http://127.0.0.1:$sink_port {
			metric_interval 1s
		}" "" >"$work/lg.caddyfile"
"$work/caddy" run --config "$work/lg.caddyfile" --adapter caddyfile >"$work/lg.log" 2>&1 &
pids+=($!)
"$work/caddy" run --config "$work/off.caddyfile" --adapter caddyfile >"$work/off.log" 2>&1 &
pids+=($!)
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
	"$work/caddy" run --config "$work/on.caddyfile" --adapter caddyfile >"$work/on.log" 2>&1 &
pids+=($!)
for port in $portal_port $off_port $on_port $lg_port $sink_port; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

cat >"$work/login.lua" <<'LUA'
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
rps() { wrk -t1 -c"$CONNS" -d"$DURATION" -s "$work/login.lua" "http://127.0.0.1:$1/api/login" | awk '/Requests\/sec/ {print $2}'; }
rps "$off_port" >/dev/null
rps "$on_port" >/dev/null
rps "$lg_port" >/dev/null
best_off=0 best_on=0 best_lg=0
for r in $(seq "$ROUNDS"); do
	off=$(rps "$off_port")
	on=$(rps "$on_port")
	lg=$(rps "$lg_port")
	echo "round $r: off $off req/s, on $on req/s, loginguard's export alone $lg req/s"
	best_off=$(awk -v a="$off" -v b="$best_off" 'BEGIN{print (a>b)?a:b}')
	best_on=$(awk -v a="$on" -v b="$best_on" 'BEGIN{print (a>b)?a:b}')
	best_lg=$(awk -v a="$lg" -v b="$best_lg" 'BEGIN{print (a>b)?a:b}')
done
sleep 2 # the last batch of spans and metrics
received=$(curl -s "http://127.0.0.1:$sink_port/count")
echo "receiver: $received"
case "$received" in requests=0*) echo "the receiver got nothing: telemetry is not exporting" >&2; exit 1 ;; esac
echo "off $best_off req/s, on $best_on req/s, loginguard's export alone $best_lg req/s (best of $ROUNDS)"
echo "otel_ratio=$(awk -v a="$best_on" -v b="$best_off" 'BEGIN{printf "%.3f", a/b}') lg_ratio=$(awk -v a="$best_lg" -v b="$best_off" 'BEGIN{printf "%.3f", a/b}')"
