// Package layers holds the test that keeps loginguard's core free of Caddy:
// only caddymodule (and what registers it: the root package, cmd/caddy) may
// import github.com/caddyserver/...; the core packages take a *slog.Logger
// and small interfaces instead.
package layers
