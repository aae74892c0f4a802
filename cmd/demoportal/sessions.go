package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Cookie names.
const (
	portalCookie  = "portal_session"
	managerCookie = "manager_session"
)

// sessionStore maps session tokens to the principal they were issued to. It is safe
// for concurrent use.
type sessionStore struct {
	mu       sync.Mutex
	sessions map[string]string
}

func newSessionStore() *sessionStore {
	return &sessionStore{sessions: make(map[string]string)}
}

// create issues a new token for principal.
func (s *sessionStore) create(principal string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating session token: %w", err)
	}
	token := hex.EncodeToString(b)
	s.mu.Lock()
	s.sessions[token] = principal
	s.mu.Unlock()
	return token, nil
}

// get returns the principal of the session named by the request's cookie.
func (s *sessionStore) get(r *http.Request, cookie string) (principal, token string, ok bool) {
	c, err := r.Cookie(cookie)
	if err != nil || c.Value == "" {
		return "", "", false
	}
	s.mu.Lock()
	principal, ok = s.sessions[c.Value]
	s.mu.Unlock()
	return principal, c.Value, ok
}

// delete ends the session with the given token.
func (s *sessionStore) delete(token string) {
	s.mu.Lock()
	delete(s.sessions, token)
	s.mu.Unlock()
}

// sessionCookie is the cookie that carries a new session token.
func sessionCookie(name, path, token string, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: token, Path: path, HttpOnly: true, SameSite: sameSite}
}

// expiredCookie is a cookie that tells the browser to drop the named cookie.
func expiredCookie(name, path string, sameSite http.SameSite) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    "",
		Path:     path,
		MaxAge:   -1,
		Expires:  time.Unix(0, 0),
		HttpOnly: true,
		SameSite: sameSite,
	}
}
