#!/usr/bin/env bash
# Connector cost benchmark. In one run, on the same upstream (the demo portal), the
# gateway bench's login route (bench/gateway.sh's wrk load and login mix; memory state,
# file sink, store off) on two Caddy processes:
#   (a) no connectors,
#   (b) the same with three connectors, each with its spool on (the default, fsync per
#       batch) under this run's temporary directory:
#         kafka  to an in-process Kafka broker run as a process (bench/kfakebroker),
#         hook   a webhook signed with one secret to a local receiver that verifies
#                every signature (bench/hookrecv),
#         down   a RabbitMQ connector to a closed port: down the whole run, its events
#                wait in its spool;
#   (c) the same three, the webhook with `batch 100` (up to 100 events per signed
#       request, a JSON array) instead of one request per event.
# Rounds interleave a b c a b c ... (ROUNDS of each). Before every round the connectors
# of (b) and (c) are let catch up with what they were given (kafka and hook delivered as
# many events as the file sink), so that a backlog never runs during another's round;
# the catch-up time after each round of (b) and (c) is printed. Also printed: the CPU each
# process spends per request over the rounds (Caddy, and the receiver and the broker,
# which in production run elsewhere), and what each connector delivered or holds.
# Last lines:
#   connectors_ratio=<median over rounds of b/a of that round> median_ratio=<median b /
#   median a> best_ratio=<best b / best a>
#   batched_ratio=<the same for c/a> median_ratio=... best_ratio=...
# Environment: DURATION (per run, default 5s), CONNS (default 32), ROUNDS (default 5,
# at least 3), PROFILE_DIR (when set: after the rounds, one more run of each of (a) and
# (b) and (c) with a CPU profile of its Caddy taken meanwhile from Caddy's admin endpoint,
# written to PROFILE_DIR/a.pprof, b.pprof and c.pprof; read with `go tool pprof -top`).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
need_wrk
for c in python3 curl; do
	command -v $c >/dev/null || { echo "$c is not installed" >&2; exit 1; }
done
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-5}
PROFILE_DIR=${PROFILE_DIR:-}
[ "$ROUNDS" -ge 3 ] || { echo "ROUNDS=$ROUNDS: want at least 3" >&2; exit 2; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Caddy's autosave and data (certificates, default spools) stay in the run's directory.
export XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data"

go build -o "$work" ./cmd/caddy ./cmd/demoportal ./bench/kfakebroker ./bench/hookrecv
portal_port=$(free_port) a_port=$(free_port) b_port=$(free_port) c_port=$(free_port)
a_admin=$(free_port) b_admin=$(free_port) c_admin=$(free_port)
kafka_port=$(free_port) hook_port=$(free_port) down_port=$(free_port)
secret="whsec_$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"

"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)
portal_pid=$!
"$work/kfakebroker" -addr "127.0.0.1:$kafka_port" -topic login-events 2>"$work/kfake.log" &
pids+=($!)
kafka_pid=$!
"$work/hookrecv" -addr "127.0.0.1:$hook_port" -secret "$secret" &
pids+=($!)
hook_pid=$!

cfg() { # cfg <port> <admin port> <name> <connectors>
	cat <<CF
{
	admin 127.0.0.1:$2
	log default {
		level ERROR
	}
	loginguard {
		state memory
		sink file $work/$3.jsonl
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
cfg "$a_port" "$a_admin" a "" >"$work/a.caddyfile"
three() { # three <name> <webhook options>: the three connectors of (b) or (c)
	cat <<CN
		connector kafka kafka {
			brokers 127.0.0.1:$kafka_port
			topic login-events
			spool {
				dir $work/spool/$1/kafka
			}
		}
		connector hook webhook http://127.0.0.1:$hook_port/logins {
			secret $secret
			$2
			spool {
				dir $work/spool/$1/hook
			}
		}
		connector down rabbitmq amqp://guest:guest@127.0.0.1:$down_port/ {
			routing_key login-events
			spool {
				dir $work/spool/$1/down
			}
		}
CN
}
cfg "$b_port" "$b_admin" b "$(three b "")" >"$work/b.caddyfile"
cfg "$c_port" "$c_admin" c "$(three c "batch 100")" >"$work/c.caddyfile"
for c in a b c; do
	"$work/caddy" run --config "$work/$c.caddyfile" --adapter caddyfile >"$work/$c.log" 2>&1 &
	pids+=($!)
	declare "${c}_pid=$!"
done
up() { for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
for port in $portal_port $kafka_port $hook_port $a_port $b_port $c_port $a_admin $b_admin $c_admin; do
	up "$port" || { echo "nothing listens on $port; logs:" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
done
for c in a b c; do
	kill -0 "$(eval echo \$${c}_pid)" 2>/dev/null || { echo "caddy ($c) exited:" >&2; cat "$work/$c.log" >&2; exit 1; }
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

# metric <port> <name> <sink>: the value of loginguard_<name>{sink="<sink>"}, 0 when absent.
metric() {
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="loginguard_$2" -v s="sink=\"$3\"" \
		'$1 ~ "^"n"{" && index($1, s) {v=$2} END {print v+0}'
}
# settle <port>: waits (up to 120 s) until the kafka and hook connectors of (b) or (c)
# delivered as many events as its file sink; prints the seconds it took.
settle() {
	local t0 now file kafka hook
	t0=$(date +%s.%N)
	for _ in $(seq 1200); do
		file=$(metric "$1" events_delivered_total 'file#0')
		kafka=$(metric "$1" events_delivered_total kafka)
		hook=$(metric "$1" events_delivered_total hook)
		if [ "$kafka" -ge "$file" ] && [ "$hook" -ge "$file" ]; then
			now=$(date +%s.%N)
			awk -v a="$t0" -v b="$now" 'BEGIN{printf "%.1f", b-a}'
			return 0
		fi
		sleep 0.1
	done
	echo "the connectors on port $1 did not catch up in 120 s: file $file, kafka $kafka, hook $hook" >&2
	exit 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# run <port> <caddy pid>: one wrk run; prints "<req/s> <requests> <caddy ticks> <hook ticks> <kafka ticks>"
# (the CPU ticks of those processes during the run).
run() {
	local c0 h0 k0 out
	c0=$(ticks "$2"); h0=$(ticks "$hook_pid"); k0=$(ticks "$kafka_pid")
	out=$(wrk -t1 -c"$CONNS" -d"$DURATION" -s "$work/login.lua" "http://127.0.0.1:$1/api/login")
	echo "$out" | awk -v c="$(( $(ticks "$2") - c0 ))" -v h="$(( $(ticks "$hook_pid") - h0 ))" -v k="$(( $(ticks "$kafka_pid") - k0 ))" \
		'/Requests\/sec/ {rps=$2} /requests in/ {n=$1} END {print rps, n, c, h, k}'
}

for c in a b c; do run "$(eval echo \$${c}_port)" "$(eval echo \$${c}_pid)" >/dev/null; done # warm-up
settle "$b_port" >/dev/null
settle "$c_port" >/dev/null
declare -A all=([a]="" [b]="" [c]="") ratios=([b]="" [c]="") n_tot=([a]=0 [b]=0 [c]=0) c_tot=([a]=0 [b]=0 [c]=0) \
	h_tot=([b]=0 [c]=0) k_tot=([b]=0 [c]=0) rps=() drain=()
for r in $(seq "$ROUNDS"); do
	for c in a b c; do
		read -r rate n ct ht kt < <(run "$(eval echo \$${c}_port)" "$(eval echo \$${c}_pid)")
		rps[$c]=$rate all[$c]+="$rate "
		n_tot[$c]=$(( n_tot[$c] + n )) c_tot[$c]=$(( c_tot[$c] + ct ))
		if [ "$c" != a ]; then
			h_tot[$c]=$(( h_tot[$c] + ht )) k_tot[$c]=$(( k_tot[$c] + kt ))
			drain[$c]=$(settle "$(eval echo \$${c}_port)")
			ratios[$c]+="$(awk -v a="${rps[a]}" -v b="$rate" 'BEGIN{printf "%.3f", b/a}') "
		fi
	done
	echo "round $r: (a) no connectors ${rps[a]} req/s, (b) three connectors ${rps[b]} req/s (b/a $(awk -v a="${rps[a]}" -v b="${rps[b]}" 'BEGIN{printf "%.3f", b/a}')), (c) the webhook batched ${rps[c]} req/s (c/a $(awk -v a="${rps[a]}" -v b="${rps[c]}" 'BEGIN{printf "%.3f", b/a}')); caught up ${drain[b]}s and ${drain[c]}s after"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
best() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }

if [ -n "$PROFILE_DIR" ]; then
	mkdir -p "$PROFILE_DIR"
	secs=$(( $(echo "$DURATION" | tr -dc 0-9) - 1 ))
	for c in a b c; do
		port=$(eval echo \$${c}_port) admin=$(eval echo \$${c}_admin) pid=$(eval echo \$${c}_pid)
		curl -s -o "$PROFILE_DIR/$c.pprof" "http://127.0.0.1:$admin/debug/pprof/profile?seconds=$secs" &
		prof=$!
		sleep 0.5
		read -r rate _ < <(run "$port" "$pid")
		wait "$prof"
		echo "profile of ($c) at $rate req/s: $PROFILE_DIR/$c.pprof"
		[ "$c" != a ] && settle "$port" >/dev/null
	done
fi

# What the connectors did, and a check that they did it.
hooked=0
for c in b c; do
	port=$(eval echo \$${c}_port)
	file=$(metric "$port" events_delivered_total 'file#0')
	kafka=$(metric "$port" events_delivered_total kafka)
	hook=$(metric "$port" events_delivered_total hook)
	down=$(metric "$port" events_delivered_total down)
	dropped=$(for s in kafka hook down; do metric "$port" events_dropped_total $s; done | paste -sd+ | bc)
	spooled_down=$(du -sb "$work/spool/$c/down" | cut -f1)
	hooked=$(( hooked + hook ))
	echo "($c) events: file sink $file, kafka delivered $kafka, hook delivered $hook, down delivered $down (its spool: $spooled_down bytes), dropped by the connectors $dropped"
	[ "$kafka" -gt 0 ] && [ "$kafka" -ge "$file" ] || { echo "($c): kafka delivered $kafka of $file events" >&2; exit 1; }
	[ "$hook" -ge "$file" ] || { echo "($c): the webhook delivered $hook of $file events" >&2; exit 1; }
	[ "$down" -eq 0 ] || { echo "($c): the down connector delivered events: it is not down" >&2; exit 1; }
	[ "$spooled_down" -gt 100000 ] || { echo "($c): the down connector's spool holds $spooled_down bytes: events did not reach it" >&2; exit 1; }
	[ "$dropped" -eq 0 ] || echo "warning: the connectors of ($c) dropped $dropped events (queue or spool full)" >&2
done
# Read after the connectors' counts: an event is counted delivered only once the
# receiver has counted it.
received=$(curl -s "http://127.0.0.1:$hook_port/count")
echo "webhook receiver: $received"
case "$received" in "received=0 "* | *"rejected="[1-9]*) echo "the webhook receiver got nothing or rejected signatures" >&2; exit 1 ;; esac
got=$(echo "$received" | sed -n 's/.*events=\([0-9]*\).*/\1/p')
[ "${got:-0}" -ge "$hooked" ] || { echo "the receiver verified $got events, the webhooks delivered $hooked" >&2; exit 1; }

per() { awk -v t="$1" -v n="$2" -v hz="$hz" 'BEGIN{printf "%.0f", t*1e6/hz/n}'; }
for c in b c; do
	echo "CPU per request over the rounds (µs), ($c): Caddy (a) $(per "${c_tot[a]}" "${n_tot[a]}"), Caddy ($c) $(per "${c_tot[$c]}" "${n_tot[$c]}"); during ($c): webhook receiver $(per "${h_tot[$c]}" "${n_tot[$c]}"), Kafka broker $(per "${k_tot[$c]}" "${n_tot[$c]}")"
done
med_a=$(echo "${all[a]}" | median) best_a=$(echo "${all[a]}" | best)
echo "throughput (wrk -c$CONNS, $DURATION, $ROUNDS rounds each, interleaved): (a) median $med_a best $best_a; (b) median $(echo "${all[b]}" | median) best $(echo "${all[b]}" | best); (c) median $(echo "${all[c]}" | median) best $(echo "${all[c]}" | best) req/s"
for c in b c; do
	label=connectors_ratio
	[ "$c" = c ] && label=batched_ratio
	echo "$label=$(echo "${ratios[$c]}" | median) median_ratio=$(awk -v a="$med_a" -v b="$(echo "${all[$c]}" | median)" 'BEGIN{printf "%.3f", b/a}') best_ratio=$(awk -v a="$best_a" -v b="$(echo "${all[$c]}" | best)" 'BEGIN{printf "%.3f", b/a}')"
done
