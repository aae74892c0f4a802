// Package ratelimit decides whether a login attempt may reach the portal before
// any lockout logic runs: deny and allow lists of CIDRs, then fixed-window rate
// limits per client IP prefix, per account and per route, counted by
// github.com/ulule/limiter/v3 in Redis (shared by every Caddy instance) or in
// memory.
//
// # Order and counting
//
// Check looks at the deny list first (Denied: refuse with 403), then the allow
// list (Skipped: nothing is counted), then the limits one after the other in
// the order ip, account, route, stopping at the first one that is exceeded. An
// attempt therefore counts only against the limits it reached: an attempt
// refused by its IP limit does not use up the account's or the route's
// allowance, so one noisy address cannot lock a victim's account or the whole
// route out by itself, and the route limit counts only attempts that passed
// the narrower limits. With Redis this costs one round trip per configured
// limit for an allowed attempt, and one for an attempt refused by its IP limit
// (the flood case). The sequential order was chosen over three concurrent
// lookups for these semantics; the package benchmarks measure both (see
// BenchmarkCheckRedis and BenchmarkCheckRedisConcurrentLookups).
//
// # Keys
//
// Counters live under Options.Prefix followed by the scope and the subject:
// "<prefix>ip:203.0.113.7/32", "<prefix>account:alice", "<prefix>route:". Every
// Redis command touches one key, so the keys are safe in a Redis Cluster
// whatever slot they hash to. Accounts longer than 64 bytes or with control
// characters are replaced by their SHA-256 so that a key stays small.
//
// # Redis
//
// ulule/limiter's Redis store loads its Lua scripts when it is made, with a
// background context; this package hands it a client wrapper whose SCRIPT
// LOAD only computes the digest locally, and whose EVALSHA falls back to EVAL
// when Redis answers NOSCRIPT (after a restart, a SCRIPT FLUSH, or on a
// Cluster node that never saw the script). So New never talks to Redis, never
// blocks and never fails because Redis is down, and the scripts reload by
// themselves. Redis errors from Check wrap ErrUnavailable; the caller decides
// whether to fail open or closed. Timeouts are those of the caller's client.
//
// # Sampling rate-limited events
//
// A flood of refused attempts must not become a flood of LOGIN_FAILURE events.
// Sampler lets through the first refused attempt per key and interval (default
// 10 s) and counts the rest; the next emitted event carries how many were
// suppressed since the previous one. Decision.Key is the natural key: it names
// the exceeded limit and its subject ("ip:<prefix>", "account:<name>",
// "route:"), so a route-wide flood from a million addresses yields one event
// per interval, not one per address. See Sampler for the memory bound.
package ratelimit
