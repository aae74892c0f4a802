package api

import "github.com/loginguard/loginguard/logstore"

// Stats is the answer of GET /api/v1/stats: the login log's statistics of
// login attempts from From to To. Its lists are [] when empty, never null.
//
// An attempt is a login request that reached loginguard, refused by the
// gateway or not; a refused attempt is a failure. Under a flood the gateway
// stores one event per key and sample interval for many refusals (its
// "count" says how many attempts it stands for), so every number here counts
// attempts, the sum of the events' counts, except "events", which counts the
// stored LOGIN_SUCCESS and LOGIN_FAILURE events behind them.
type Stats struct {
	// Interval ("interval") is the width of a Series bucket: "hour" or "day".
	Interval string `json:"interval"`
	// Stats adds the fields of logstore.Stats, all counts of attempts but
	// "events": "from", "to", "total" (successes + failures), "successes",
	// "failures" (refused included), "refused" (the gateway's refusals:
	// reasons LOCKED, RATE_LIMITED, AMBIGUOUS_PRINCIPAL, MISSING_PRINCIPAL,
	// BREACHED_PASSWORD), "wouldRefuse" (the refusals a route in monitor
	// mode did not make: failures too, not in "refused"), "breached" (the
	// attempts whose password is breached) and "breachedSuccesses" (the
	// successful ones among them), "events" (stored events), "successRate",
	// "byReason", "refusedByReason" and "wouldRefuseByReason" ({reason,
	// count}), "topUsers" (attempts) and "topIps" (failed attempts) ({key,
	// count}), "series" ({start, successes, failures, refused, wouldRefuse,
	// breached}, one per Interval from From), "byHour"
	// (24 counts, UTC), "byCountry" ({country, attempts, successes,
	// failures}), "topAsns" ({asn, org, failures}) and "byDeviceType"
	// ({deviceType, attempts, successes, failures}), the last three top N,
	// most first.
	logstore.Stats
	// FailureRate ("failureRate") is failures/total, 0 when total is 0.
	FailureRate float64 `json:"failureRate"`
}

// Suspicious is the answer of GET /api/v1/suspicious: the failures since
// Since that look like brute force or credential stuffing, and the
// thresholds that found them.
type Suspicious struct {
	// Suspicious adds the fields of logstore.Suspicious: "since" (the start
	// of the window), "failingIps" and "sprayingIps" (logstore.SuspectIP:
	// {ip, failures, accounts, last}) and "attackedAccounts"
	// (logstore.SuspectAccount: {identity, failures, ips, last}), each
	// sorted by its count, most first, [] when empty.
	logstore.Suspicious
	// MinIPFailures ("minIpFailures"): an IP with this many failures is in
	// failingIps.
	MinIPFailures int `json:"minIpFailures"`
	// MinAccountIPs ("minAccountIps"): an account that failed from this many
	// distinct IPs is in attackedAccounts.
	MinAccountIPs int `json:"minAccountIps"`
	// MinIPAccounts ("minIpAccounts"): an IP that failed on this many distinct
	// accounts is in sprayingIps.
	MinIPAccounts int `json:"minIpAccounts"`
}
