#!/usr/bin/env bash
# Builds Caddy with the standard modules and loginguard into ./caddy (or $1).
# Uses xcaddy when it is installed (go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.4),
# otherwise plain `go build ./cmd/caddy`, which builds the same thing.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-./caddy}"
if command -v xcaddy >/dev/null 2>&1; then
	CADDY_VERSION=v2.11.9 xcaddy build --output "$out" --with github.com/loginguard/loginguard=.
else
	go build -o "$out" ./cmd/caddy
fi
"$out" list-modules | grep loginguard
