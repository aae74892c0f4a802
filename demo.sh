#!/usr/bin/env bash
# Runs the whole demo: the demo portal on $PORTAL_UPSTREAM (127.0.0.1:9080) and Caddy
# with loginguard in front of it on http://localhost:$LOGINGUARD_PORT (8080), using
# Caddyfile.example. Events go to $LOGINGUARD_EVENTS (./loginguard-events.jsonl).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$bin"' EXIT
echo "building..."
go build -o "$bin" ./cmd/caddy ./cmd/demoportal
export PORTAL_UPSTREAM=${PORTAL_UPSTREAM:-127.0.0.1:9080}
if [ -z "${LOGINGUARD_ADMIN_TOKEN:-}" ]; then
	LOGINGUARD_ADMIN_TOKEN=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
	export LOGINGUARD_ADMIN_TOKEN
	generated=" (generated for this run)"
fi
"$bin/demoportal" -addr "$PORTAL_UPSTREAM" &
cat <<MSG

loginguard demo: http://localhost:${LOGINGUARD_PORT:-8080}  (portal behind it: $PORTAL_UPSTREAM)
Try:
  curl -i localhost:${LOGINGUARD_PORT:-8080}/api/login -H 'Content-Type: application/json' -d '{"email":"active@example.com","password":"correct-horse"}'
  curl -i localhost:${LOGINGUARD_PORT:-8080}/api/login -H 'Content-Type: application/json' -d '{"email":"active@example.com","password":"wrong"}'   # 6 times
  tail -f ${LOGINGUARD_EVENTS:-loginguard-events.jsonl}

Admin API: http://localhost:${LOGINGUARD_ADMIN_PORT:-8081}  token${generated:-}: $LOGINGUARD_ADMIN_TOKEN
  curl -H "Authorization: Bearer \$LOGINGUARD_ADMIN_TOKEN" localhost:${LOGINGUARD_ADMIN_PORT:-8081}/api/v1/login-logs
  LOGINGUARD_ADMIN_TOKEN=$LOGINGUARD_ADMIN_TOKEN go run ./cmd/caddy loginguard logs

MSG
"$bin/caddy" run --config Caddyfile.example --adapter caddyfile
