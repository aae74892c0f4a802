#!/usr/bin/env bash
# OpenTelemetry benchmark. In one run, on the same upstream (the demo portal), the
# gateway bench's login route (memory state, file sink, store off, bench/gateway.sh's
# login mix) with telemetry off and with it on: Caddy's `tracing` and loginguard's spans
# and metrics exported over OTLP/HTTP to a local receiver (bench/otlpsink), every trace
# sampled (or the share SAMPLE sets); and, to tell the two apart, loginguard's export
# alone (no Caddy tracing); and Caddy's tracing alone (loginguard's telemetry off), the
# share of the cost that is Caddy's own.
# Rounds interleave the four (best of ROUNDS each). Last line:
#   otel_ratio=<on/off> lg_ratio=<loginguard's export alone/off> caddy_ratio=<Caddy's
#   tracing alone/off>
# Also printed: the CPU each Caddy spends per request over the rounds, and the receiver's.
# Environment: DURATION (per run, default 5s), CONNS (default 32), ROUNDS (default 5),
# SAMPLE (the share of traces sampled, default 1: loginguard's sample_ratio, and Caddy's
# through OTEL_TRACES_SAMPLER=parentbased_traceidratio; metrics count every request),
# PROFILE_DIR (when set: after the rounds, one more run of each with a CPU profile of its
# Caddy taken meanwhile from Caddy's admin endpoint, written to PROFILE_DIR/off.pprof,
# on.pprof, lg.pprof and caddy.pprof; read with `go tool pprof -top`).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-5}
PROFILE_DIR=${PROFILE_DIR:-}
SAMPLE=${SAMPLE:-1}
awk -v s="$SAMPLE" 'BEGIN{exit !(s ~ /^[0-9.]+$/ && s > 0 && s <= 1)}' || { echo "SAMPLE=$SAMPLE: want a number in (0, 1]" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/otlpsink
portal_port=$(free_port) off_port=$(free_port) on_port=$(free_port) lg_port=$(free_port) caddy_port=$(free_port) sink_port=$(free_port)
off_admin=$(free_port) on_admin=$(free_port) lg_admin=$(free_port) caddy_admin=$(free_port)
"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)
"$work/otlpsink" -addr "127.0.0.1:$sink_port" &
pids+=($!)
sink_pid=$!

cfg() { # cfg <port> <admin port> <events file> <telemetry line> <tracing directive>
	cat <<CF
{
	admin 127.0.0.1:$2
	log default {
		level ERROR
	}
	loginguard {
		state memory
		sink file $3
		store off
		$4
	}
}
http://127.0.0.1:$1 {
	$5
$(login_handler)
	reverse_proxy 127.0.0.1:$portal_port
}
CF
}
cfg "$off_port" "$off_admin" "$work/off.jsonl" "telemetry off" "" >"$work/off.caddyfile"
export_on="telemetry http://127.0.0.1:$sink_port {
			metric_interval 1s
			sample_ratio $SAMPLE
		}"
cfg "$on_port" "$on_admin" "$work/on.jsonl" "$export_on" "tracing" >"$work/on.caddyfile"
cfg "$lg_port" "$lg_admin" "$work/lg.jsonl" "$export_on" "" >"$work/lg.caddyfile"
cfg "$caddy_port" "$caddy_admin" "$work/caddy.jsonl" "telemetry off" "tracing" >"$work/caddy.caddyfile"
"$work/caddy" run --config "$work/lg.caddyfile" --adapter caddyfile >"$work/lg.log" 2>&1 &
pids+=($!)
lg_pid=$!
"$work/caddy" run --config "$work/off.caddyfile" --adapter caddyfile >"$work/off.log" 2>&1 &
pids+=($!)
off_pid=$!
# traced <name>: runs Caddy on <name>.caddyfile with its tracing exporting to the
# receiver, SAMPLE of the traces sampled. It execs Caddy, so that `traced on &` leaves
# Caddy's own pid in $! (its CPU ticks are read from /proc).
traced() {
	exec env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$sink_port" OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
		OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$SAMPLE" \
		"$work/caddy" run --config "$work/$1.caddyfile" --adapter caddyfile >"$work/$1.log" 2>&1
}
traced on &
pids+=($!)
on_pid=$!
traced caddy &
pids+=($!)
caddy_pid=$!
for port in $portal_port $off_port $on_port $lg_port $caddy_port $sink_port $off_admin $on_admin $lg_admin $caddy_admin; do
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
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run <name>: one wrk run on off, on or lg; prints "<req/s> <requests> <its caddy's CPU ticks> <receiver's ticks>".
run() {
	local port pid c0 s0 out
	port=$(eval echo \$${1}_port) pid=$(eval echo \$${1}_pid)
	c0=$(ticks "$pid") s0=$(ticks "$sink_pid")
	out=$(wrk -t1 -c"$CONNS" -d"$DURATION" -s "$work/login.lua" "http://127.0.0.1:$port/api/login")
	echo "$out" | awk -v c="$(( $(ticks "$pid") - c0 ))" -v s="$(( $(ticks "$sink_pid") - s0 ))" \
		'/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n, c, s}'
}
configs="off on lg caddy"
for c in $configs; do run $c >/dev/null; done # warm-up
declare -A best=() n_tot=() c_tot=() s_tot=() rps=()
for c in $configs; do best[$c]=0 n_tot[$c]=0 c_tot[$c]=0 s_tot[$c]=0; done
for r in $(seq "$ROUNDS"); do
	for c in $configs; do
		read -r rate n ct st < <(run $c)
		rps[$c]=$rate
		best[$c]=$(awk -v a="$rate" -v b="${best[$c]}" 'BEGIN{print (a>b)?a:b}')
		n_tot[$c]=$(( n_tot[$c] + n )) c_tot[$c]=$(( c_tot[$c] + ct )) s_tot[$c]=$(( s_tot[$c] + st ))
	done
	echo "round $r: off ${rps[off]} req/s, on ${rps[on]} req/s, loginguard's export alone ${rps[lg]} req/s, Caddy's tracing alone ${rps[caddy]} req/s"
done
if [ -n "$PROFILE_DIR" ]; then
	mkdir -p "$PROFILE_DIR"
	secs=$(( $(echo "$DURATION" | tr -dc 0-9) - 1 ))
	for c in $configs; do
		curl -s -o "$PROFILE_DIR/$c.pprof" "http://127.0.0.1:$(eval echo \$${c}_admin)/debug/pprof/profile?seconds=$secs" &
		prof=$!
		sleep 0.5
		read -r rate _ < <(run $c)
		wait "$prof"
		echo "profile of ($c) at $rate req/s: $PROFILE_DIR/$c.pprof"
	done
fi
best_off=${best[off]} best_on=${best[on]} best_lg=${best[lg]} best_caddy=${best[caddy]}
sleep 2 # the last batch of spans and metrics
received=$(curl -s "http://127.0.0.1:$sink_port/count")
echo "receiver: $received"
case "$received" in requests=0*) echo "the receiver got nothing: telemetry is not exporting" >&2; exit 1 ;; esac
per() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN{printf "%.0f", t*1e6/hz/n}'; }
echo "CPU per request over the rounds (µs): Caddy off $(per "${c_tot[off]}" "${n_tot[off]}"), on $(per "${c_tot[on]}" "${n_tot[on]}"), loginguard's export alone $(per "${c_tot[lg]}" "${n_tot[lg]}"), Caddy's tracing alone $(per "${c_tot[caddy]}" "${n_tot[caddy]}"); the receiver during on $(per "${s_tot[on]}" "${n_tot[on]}"), during lg $(per "${s_tot[lg]}" "${n_tot[lg]}")"
echo "off $best_off req/s, on $best_on req/s, loginguard's export alone $best_lg req/s, Caddy's tracing alone $best_caddy req/s (best of $ROUNDS, traces sampled: $SAMPLE)"
echo "otel_ratio=$(awk -v a="$best_on" -v b="$best_off" 'BEGIN{printf "%.3f", a/b}') lg_ratio=$(awk -v a="$best_lg" -v b="$best_off" 'BEGIN{printf "%.3f", a/b}') caddy_ratio=$(awk -v a="$best_caddy" -v b="$best_off" 'BEGIN{printf "%.3f", a/b}')"
