// Package admin is loginguard's admin API: a plain net/http handler that
// searches and exports the login log, computes statistics, finds suspicious
// activity, lists users, locks and unlocks accounts, blocks IPs, reports the
// connectors and serves the privacy operations (data access and erasure).
//
// It talks to the stores through logstore.Store and the small Lockouts
// interface and never imports Caddy: the Caddy module mounts the handler that
// New returns and registers the CLI of package admin/cli.
//
// Every path is served relative to the handler's mount point:
//
//	GET    /, /console/…                  the web console (embedded, strict CSP)
//	GET    /api/v1/whoami                 the token's name and scope
//	GET    /api/v1/login-logs             search (JSON page), CSV or NDJSON export
//	GET    /api/v1/login-logs/{id}        one event
//	GET    /api/v1/stats                  totals, success rate, reasons, tops, series,
//	                                      by country, AS and device type
//	GET    /api/v1/audit-logs             the audit-log API's view (audit.go)
//	GET    /api/v1/users                  per user last login/logout/failure and status
//	GET    /api/v1/suspicious             brute force and credential stuffing
//	GET    /api/v1/lockouts               locked accounts and blocked IPs
//	POST   /api/v1/lockouts/accounts      lock an account        (admin scope)
//	DELETE /api/v1/lockouts/accounts/{a}  unlock an account      (admin scope)
//	POST   /api/v1/lockouts/ips           block an IP or CIDR    (admin scope)
//	DELETE /api/v1/lockouts/ips/{ip}      unblock it             (admin scope)
//	GET    /api/v1/connectors             delivery counters of each connector
//	GET    /api/admin/logins              Unleash's login history API (JSON or CSV)
//	GET    /api/v1/privacy/export         every event of one identity (admin scope)
//	POST   /api/v1/privacy/erase          erase or pseudonymise one identity (admin scope)
//
// Every /api path needs "Authorization: Bearer <token>" (/api/admin/logins
// also takes a bare "Authorization: <token>"); errors have one shape,
// {"id", "name", "message"}, and a 400 names the parameter at fault.
//
// The JSON bodies of every path are the types of package admin/api, shared
// with the CLI and the tests.
package admin
