package admin

import "net/http"

// consolePage is the placeholder of the web console (a later issue).
const consolePage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>loginguard admin</title></head>
<body>
<h1>loginguard admin</h1>
<p>The web console is coming. Until then, use the CLI (<code>caddy loginguard</code>) or the API,
with <code>Authorization: Bearer &lt;token&gt;</code>:</p>
<pre>
GET    api/v1/login-logs             from, to, email, ip, status, eventType, source, portalId,
                                     reason, principal, page, size, sort; format=csv|ndjson
GET    api/v1/login-logs/{id}
GET    api/v1/stats                  from, to, interval=hour|day, top
GET    api/v1/users                  search, page, size
GET    api/v1/suspicious             window | since, minIpFailures, minAccountIps, minIpAccounts
GET    api/v1/lockouts
POST   api/v1/lockouts/accounts      {"principal", "duration"}       (admin)
DELETE api/v1/lockouts/accounts/{principal}                         (admin)
POST   api/v1/lockouts/ips           {"ip" | "cidr", "duration"}     (admin)
DELETE api/v1/lockouts/ips/{ip}                                     (admin)
GET    api/v1/connectors
GET    api/admin/logins              JSON, or CSV with Accept: text/csv
GET    api/v1/privacy/export         principal                       (admin)
POST   api/v1/privacy/erase          {"principal", "pseudonym"}      (admin)
</pre>
</body>
</html>
`

// console serves the placeholder page of the web console. It needs no token:
// it holds no data.
func (h *handler) console(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(consolePage))
}
