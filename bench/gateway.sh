#!/usr/bin/env bash
# Gateway throughput benchmark: in one run, on the same upstream (the demo portal),
#   (a) bare reverse_proxy and (b) the same site with loginguard (memory state, file sink),
# driven by wrk POSTing login bodies. Every request is forwarded: the bodies are
# successful logins and logins of unknown accounts (not counted towards lockout), so
# no lockout or rate limit answers in place of the portal.
# Prints throughput and p99 of each, the ratios, and last one line:
#   login_ratio=<b/a on /api/login> passthrough_ratio=<b/a on a route without the handler>
# Environment: DURATION (per run, default 5s), CONNS (default 32), ROUNDS (default 4).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-4}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work" ./cmd/caddy ./cmd/demoportal
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
portal_port=$(free_port); bare_port=$(free_port); lg_port=$(free_port)

"$work/demoportal" -addr "127.0.0.1:$portal_port" 2>/dev/null &
pids+=($!)

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
cat > "$work/lg.caddyfile" <<CF
{
	admin off
	log default {
		level ERROR
	}
	loginguard {
		sink file $work/events.jsonl
	}
}
http://127.0.0.1:$lg_port {
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
for cfg in bare lg; do
	"$work/caddy" run --config "$work/$cfg.caddyfile" --adapter caddyfile >"$work/$cfg.log" 2>&1 &
	pids+=($!)
done
for port in $portal_port $bare_port $lg_port; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

# One login in 32 succeeds (active@example.com); the rest are 5,000 unknown accounts.
# One account sees about one attempt at a time, as real users do: many attempts at once
# on one account are deliberately serialised by the admission slots (at most
# max_failures in flight), which would measure waiting, not the gateway.
cat > "$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
	n = n + 1
	local body
	if n % 32 == 0 then
		body = '{"email":"active@example.com","password":"correct-horse"}'
	else
		body = '{"email":"user' .. (n % 5000) .. '@example.org","password":"guess-' .. n .. '"}'
	end
	return wrk.format(nil, "/api/login", nil, body)
end
LUA

# run <port> <path> [lua]: prints "<req/s> <p99 ms>"
run() {
	local out
	if [ -n "${3:-}" ]; then
		out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$3" "http://127.0.0.1:$1$2")
	else
		out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$1$2")
	fi
	if echo "$out" | grep -q "Non-2xx or 3xx" && [ -z "${3:-}" ]; then
		echo "unexpected errors on $2: $out" >&2
	fi
	local rps p99
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
	echo "$rps $p99"
}
# pair <path> [lua]: runs bare and loginguard alternately ROUNDS times (so that the
# noise of a shared machine falls on both alike) and keeps each one's best round.
# Prints "<bare req/s> <bare p99> <lg req/s> <lg p99>".
pair() {
	local b_rps=0 b_p99=0 l_rps=0 l_p99=0 r
	for _ in $(seq "$ROUNDS"); do
		r=$(run "$bare_port" "$@")
		if awk -v a="${r% *}" -v b="$b_rps" 'BEGIN{exit !(a>b)}'; then b_rps=${r% *}; b_p99=${r#* }; fi
		r=$(run "$lg_port" "$@")
		if awk -v a="${r% *}" -v b="$l_rps" 'BEGIN{exit !(a>b)}'; then l_rps=${r% *}; l_p99=${r#* }; fi
	done
	echo "$b_rps $b_p99 $l_rps $l_p99"
}

run "$bare_port" /api/login "$work/login.lua" >/dev/null # warm-up
run "$lg_port" /api/login "$work/login.lua" >/dev/null
read -r bl_rps bl_p99 ll_rps ll_p99 < <(pair /api/login "$work/login.lua")
read -r bp_rps bp_p99 lp_rps lp_p99 < <(pair /)

events=$(wc -l <"$work/events.jsonl")
printf '%-34s %12s %10s\n' "" "req/s" "p99 ms"
printf '%-34s %12s %10s\n' "bare reverse_proxy  /api/login" "$bl_rps" "$bl_p99"
printf '%-34s %12s %10s\n' "loginguard (memory) /api/login" "$ll_rps" "$ll_p99"
printf '%-34s %12s %10s\n' "bare reverse_proxy  / (no handler)" "$bp_rps" "$bp_p99"
printf '%-34s %12s %10s\n' "loginguard config   / (no handler)" "$lp_rps" "$lp_p99"
echo "events written by loginguard: $events"
awk -v a="$ll_rps" -v b="$bl_rps" -v c="$lp_rps" -v d="$bp_rps" \
	'BEGIN { printf "login_ratio=%.3f passthrough_ratio=%.3f\n", a/b, c/d }'
