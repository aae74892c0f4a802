package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/loginguard/loginguard/admin/api"
)

// Scope is what a token may do.
type Scope int

// Scopes. An admin token may also do everything a read token may.
const (
	// ScopeRead allows every GET except the privacy export.
	ScopeRead Scope = iota + 1
	// ScopeAdmin also allows lock, unlock, block, unblock and the privacy
	// operations (export and erase).
	ScopeAdmin
)

// String returns "read" or "admin".
func (s Scope) String() string {
	switch s {
	case ScopeRead:
		return "read"
	case ScopeAdmin:
		return "admin"
	}
	return fmt.Sprintf("Scope(%d)", int(s))
}

// ParseScope parses "read" or "admin".
func ParseScope(s string) (Scope, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return ScopeRead, nil
	case "admin":
		return ScopeAdmin, nil
	}
	return 0, fmt.Errorf("unknown token scope %q (want read or admin)", s)
}

// Token is a bearer token the API accepts, kept as its SHA-256 hash only.
type Token struct {
	// Hash is HashToken of the token.
	Hash [32]byte
	// Scope is what the token may do.
	Scope Scope
	// Name names the token in audit events and logs. Default: "token " and the
	// first 8 hex digits of Hash.
	Name string
}

// HashToken returns the SHA-256 hash of a bearer token, as kept in Token.Hash.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// who names a token for audit messages.
func (t Token) who() string {
	if t.Name != "" {
		return t.Name
	}
	return "token " + hex.EncodeToString(t.Hash[:4])
}

// rawTokenPath is the one route that also takes Unleash's form of the header,
// "Authorization: <token>" with no scheme (the clients of Unleash's login
// history API send it).
const rawTokenPath = "/api/admin/logins"

// authenticate finds the token of the request's Authorization header. The
// token's hash is compared with every configured hash in constant time. The
// header is "Bearer <token>"; on rawTokenPath the bare token is accepted too.
func (h *handler) authenticate(r *http.Request, path string) (Token, *apiError) {
	raw := path == rawTokenPath
	forms := "Authorization: Bearer <token>"
	if raw {
		forms = "Authorization: Bearer <token> or Authorization: <token>"
	}
	v := strings.TrimSpace(r.Header.Get("Authorization"))
	if v == "" {
		return Token{}, &apiError{http.StatusUnauthorized, api.NameAuthenticationRequired,
			"You must authenticate to use the loginguard admin API. Your request had no Authorization header: send " + forms + "."}
	}
	scheme, tok, ok := strings.Cut(v, " ")
	tok = strings.TrimSpace(tok)
	switch {
	case ok && strings.EqualFold(scheme, "Bearer") && tok != "":
	case !ok && raw:
		tok = v
	default:
		what := "is not a bearer token"
		if !ok {
			what = "has no Bearer scheme"
		}
		return Token{}, &apiError{http.StatusUnauthorized, api.NameAuthenticationRequired,
			"The Authorization header " + what + ": send " + forms + "."}
	}
	sum := HashToken(tok)
	var found Token
	match := 0
	for _, t := range h.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], t.Hash[:])
		if eq == 1 && match == 0 {
			found = t
		}
		match |= eq
	}
	if match == 0 {
		return Token{}, &apiError{http.StatusUnauthorized, api.NameAuthenticationRequired, "The bearer token is not valid."}
	}
	return found, nil
}

// allow checks that tok's scope covers a route that needs scope need.
func allow(tok Token, need Scope, r *http.Request) *apiError {
	if tok.Scope >= need {
		return nil
	}
	return &apiError{http.StatusForbidden, api.NameNoAccess,
		fmt.Sprintf("%s %s needs a token with %s scope; this token has %s scope", r.Method, r.URL.Path, need, tok.Scope)}
}
