#!/usr/bin/env bash
# Runs the whole demo: the demo portal on $PORTAL_UPSTREAM (127.0.0.1:9080) and Caddy
# with loginguard in front of it on http://localhost:$LOGINGUARD_PORT (8080), using
# Caddyfile.example, with the admin API and web console on
# http://localhost:$LOGINGUARD_ADMIN_PORT (8081). Events go to $LOGINGUARD_EVENTS
# (./loginguard-events.jsonl). Once Caddy is up it prints the variables and commands
# to use from another shell, with this run's ports and admin token. Ctrl-C stops both.
#
# The first build downloads and compiles Caddy and its standard modules: up to about
# 11 minutes on a 2-core machine (later builds take seconds).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT
trap 'exit 130' INT TERM

port=${LOGINGUARD_PORT:-8080}
admin_port=${LOGINGUARD_ADMIN_PORT:-8081}
events=${LOGINGUARD_EVENTS:-loginguard-events.jsonl}
case $events in /*) ;; *) events=$here/$events ;; esac

echo "demo.sh: building Caddy with loginguard, and the demo portal..."
echo "demo.sh: the first build downloads and compiles Caddy's modules: up to about 11 minutes"
echo "demo.sh: on two cores (later builds take seconds); nothing more is printed until it is done."
start=$SECONDS
go build -o "$bin" ./cmd/caddy ./cmd/demoportal
echo "demo.sh: built in $((SECONDS - start)) s"

export PORTAL_UPSTREAM=${PORTAL_UPSTREAM:-127.0.0.1:9080}
# Caddy's spans are "unknown_service:caddy" without a service name.
export OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-loginguard-demo}
if [ -z "${LOGINGUARD_ADMIN_TOKEN:-}" ]; then
	LOGINGUARD_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	export LOGINGUARD_ADMIN_TOKEN
	generated=" (generated for this run)"
fi

"$bin/demoportal" -addr "$PORTAL_UPSTREAM" &
"$bin/caddy" run --config Caddyfile.example --adapter caddyfile &
caddy=$!

# Wait for the gateway and the admin API to listen before printing how to use them.
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for _ in $(seq 150); do
	kill -0 "$caddy" 2>/dev/null || { wait "$caddy" || true; echo "demo.sh: Caddy exited (see its log above)" >&2; exit 1; }
	up "$port" && up "$admin_port" && break
	sleep 0.2
done

cat <<MSG

=== loginguard demo is running (Ctrl-C stops it) ===
  gateway:           http://localhost:$port   (the demo portal behind it: $PORTAL_UPSTREAM)
  admin API, console: http://localhost:$admin_port/   admin token${generated:-}: $LOGINGUARD_ADMIN_TOKEN
  events file:       $events
  mode:              ${LOGINGUARD_MODE:-enforce}   (LOGINGUARD_MODE=monitor: decide and record everything, refuse nothing)

In another shell, set the variables the README's commands use:

  cd $here
  export GATEWAY=http://localhost:$port
  export EVENTS=$events
  export LOGINGUARD_ADMIN_URL=http://localhost:$admin_port
  export LOGINGUARD_ADMIN_TOKEN=$LOGINGUARD_ADMIN_TOKEN

then, for example:

  curl -i \$GATEWAY/api/login -H 'Content-Type: application/json' -d '{"email":"active@example.com","password":"correct-horse"}'
  curl -i \$GATEWAY/api/login -H 'Content-Type: application/json' -d '{"email":"active@example.com","password":"wrong"}'   # 6 times
  tail -f \$EVENTS
  curl -H "Authorization: Bearer \$LOGINGUARD_ADMIN_TOKEN" "\$LOGINGUARD_ADMIN_URL/api/v1/login-logs?status=FAILURE"

The CLI, with this demo's admin URL and token (go run links it first: a few seconds
once the demo has been built):

  go run ./cmd/caddy loginguard --url http://localhost:$admin_port --token $LOGINGUARD_ADMIN_TOKEN logs --email active@example.com

MSG
wait "$caddy"
