// Package api holds the wire types of loginguard's admin API: every JSON body
// that the admin handler (package admin) answers or accepts, declared once.
// The handler encodes them; the CLI (package admin/cli), the tests and any Go
// client decode them, so that a change to the API is one edit here, and a
// test of package admin fails when the handler answers a field that the type
// here lacks.
//
// Where the API answers a value of another package as it is (an event, a
// lock state, the login log's statistics), the type here embeds or names that
// value and that package's declaration, with its JSON tags, is the only one.
//
// The bodies of each endpoint (paths relative to the handler's mount point):
//
//	GET    /api/v1/whoami                 Whoami
//	GET    /api/v1/login-logs             Page[event.Event] (or CSV, NDJSON of event.Event)
//	GET    /api/v1/login-logs/{id}        event.Event
//	GET    /api/v1/stats                  Stats
//	GET    /api/v1/audit-logs             AuditLogPage (the audit-log API's view)
//	GET    /api/v1/users                  Page[User]
//	GET    /api/v1/suspicious             Suspicious
//	GET    /api/v1/lockouts               Lockouts
//	POST   /api/v1/lockouts/accounts      LockRequest       → state.AccountStatus
//	DELETE /api/v1/lockouts/accounts/{a}                    → UnlockResult
//	POST   /api/v1/lockouts/ips           BlockRequest      → state.IPBlock
//	DELETE /api/v1/lockouts/ips/{ip}                        → UnblockResult
//	GET    /api/v1/connectors             Connectors
//	GET    /api/admin/logins              LoginHistory (Unleash's login history API; or CSV)
//	GET    /api/v1/privacy/export         NDJSON (or CSV) of event.Event
//	POST   /api/v1/privacy/erase          EraseRequest      → EraseResult
//
// Every error, on every path, is an ErrorBody.
package api
