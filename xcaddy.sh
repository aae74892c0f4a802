#!/usr/bin/env bash
# Builds Caddy with the standard modules and loginguard into ./caddy (or $1).
# Uses xcaddy when it is installed (go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5)
# and falls back to `go build ./cmd/caddy`, which builds the same thing, when it is not
# or when it fails (e.g. a module proxy that refuses to list this module's versions).
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-./caddy}"
built=""
if command -v xcaddy >/dev/null 2>&1; then
	if CADDY_VERSION=v2.11.9 xcaddy build --output "$out" --with github.com/loginguard/loginguard=.; then
		built=xcaddy
	else
		echo "xcaddy failed; building with go build ./cmd/caddy instead" >&2
	fi
fi
if [ -z "$built" ]; then
	go build -o "$out" ./cmd/caddy
fi
"$out" list-modules | grep loginguard
