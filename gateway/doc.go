// Package gateway is loginguard's login gateway, free of Caddy: one Route per
// watched login or logout route of a portal. A route reads who is logging in
// from the request (policy), refuses denied IPs, rate-limited attempts and
// locked accounts, lets the attempt through to the portal, judges the
// portal's answer, counts failures and locks accounts in the state store
// (state), and emits one event per attempt to the app's event pipeline
// (connectors).
//
// A route is built in two steps: New fills the defaults of its Config and
// compiles its rules; Start connects it to its App (the lockout state, the
// metrics and the pipeline that every route of a configuration shares) and
// to what the server that runs it provides (Env: the client IP, the status of
// an upstream error). Serve then serves each request of the route, and Close
// ends it. The Caddy module (caddymodule) is one such server: its handler
// turns its JSON and Caddyfile configuration into a Config and calls Serve.
//
// Files: config.go (Config, defaults' documentation, Validate), route.go
// (Route, App, Env, New, Start, Serve), serve.go (the login and logout
// flows), identity.go (who an attempt names, aliases, ambiguous requests),
// capture.go (the request body's prefix and the response recorder),
// ratelimit.go and sampled.go (rate limits and sampled refusals),
// lockedevents.go (a locked account's refusals), mimic.go (refusal mimic),
// lockouts.go (the admin's actions on accounts and IPs: Lockouts).
package gateway
