package gateway

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
)

// Refusal "mimic" (OWASP ASVS 6.3.8): a locked account's attempt is answered
// with the portal's own most recent wrong-password answer on the route, after
// a delay drawn from the portal's recent wrong-password latencies, so that an
// attacker cannot tell a locked account from a wrong password by the status,
// the body, the headers or the time.
//
// What is learned, and from what:
//
//	answer    the last portal answer the rules judged a failure with reason
//	          BAD_CREDENTIALS or ACCOUNT_NOT_FOUND (never a success, never an
//	          error of the proxy, never an XML-RPC multicall), whose body the
//	          recorder captured whole (at most policy.MaxBody bytes);
//	          its headers without Set-Cookie, Date, Content-Length,
//	          Transfer-Encoding, Trailer and the remaining-attempts header
//	latencies the last mimicLatencies spans from just before forwarding to the
//	          portal's answer of those same attempts
//
// Answers are kept per account (the lockout key), and a locked account's
// refusal replays its own last wrong-password answer: a portal's error page
// may name what was typed (WordPress: "The username … is not registered"),
// so another visitor's answer must never be replayed. A locked account
// always had wrong passwords; until this instance saw one for it (the lock
// was an admin's, or another instance of a fleet saw them, or the account
// fell out of the bounded table) the route answers with its configured
// lockout response, at once. The latencies are the route's, every account's.
//
// The same machinery, fed with success answers under one key instead, makes
// a uniform reset_request route's answers (see uniform.go).
//
// mimicAccounts bounds the table: past it, an arbitrary account's answer is
// dropped for each new one.
const mimicAccounts = 4096

// mimicLatencies is how many recent wrong-password latencies a route keeps.
const mimicLatencies = 64

// learnedAnswer is one portal answer to replay. It is never changed once
// stored: a new answer replaces the pointer.
type learnedAnswer struct {
	status int
	header http.Header
	body   []byte
}

// mimic is what a route with refusal mimic learned of its portal.
type mimic struct {
	answersMu sync.Mutex
	answers   map[string]*learnedAnswer // by account

	mu  sync.Mutex
	lat [mimicLatencies]time.Duration
	n   int // latencies recorded so far (the ring holds min(n, mimicLatencies))

	// late is how late the delay's timer fires on this machine (a moving
	// average, in ns): the portal's own latencies include its timers'
	// lateness already, so the delay asks for that much less.
	late atomic.Int64
}

// droppedHeaders are never replayed: a session or any cookie, what the server
// regenerates (Date) or recomputes (the length and framing).
var droppedHeaders = []string{"Set-Cookie", "Date", "Content-Length", "Transfer-Encoding", "Trailer"}

// answer returns the answer learned for account, nil when there is none.
func (m *mimic) answer(account string) *learnedAnswer {
	m.answersMu.Lock()
	defer m.answersMu.Unlock()
	return m.answers[account]
}

// learn keeps account's wrong-password answer and the time the portal took
// for it.
func (m *mimic) learn(account string, status int, hdr http.Header, body []byte, took time.Duration, remainingHeader string) {
	h := hdr.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, k := range droppedHeaders {
		h.Del(k)
	}
	if remainingHeader != "" {
		h.Del(remainingHeader)
	}
	ans := &learnedAnswer{status: status, header: h, body: append([]byte(nil), body...)}
	m.answersMu.Lock()
	if m.answers == nil {
		m.answers = make(map[string]*learnedAnswer)
	}
	if _, ok := m.answers[account]; !ok && len(m.answers) >= mimicAccounts {
		for k := range m.answers { // an arbitrary one
			delete(m.answers, k)
			break
		}
	}
	m.answers[account] = ans
	m.answersMu.Unlock()
	m.mu.Lock()
	m.lat[m.n%mimicLatencies] = took
	m.n++
	m.mu.Unlock()
}

// latency draws one of the recent latencies at random; ok is false when none
// was seen.
func (m *mimic) latency() (d time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := min(m.n, mimicLatencies)
	if k == 0 {
		return 0, false
	}
	return m.lat[rand.IntN(k)], true
}

// learnRefusal lets a route with refusal mimic learn from the portal's answer
// to a forwarded attempt: status is what the client got, took the upstream
// span, err the error of the handlers behind.
func (h *Route) learnRefusal(a *attempt, v policy.Verdict, err error, rec *recorder, took time.Duration) {
	if h.mimic == nil || err != nil || v.Success || a.calls > 0 || a.account == "" || !rec.capture || rec.over || rec.status < 200 {
		return
	}
	if v.Reason != event.BadCredentials && v.Reason != event.AccountNotFound {
		return
	}
	h.mimic.learn(a.account, rec.status, rec.Header(), rec.body, took, h.Lockout.RemainingHeader)
}

// answerLocked writes the answer to a locked account's attempt: the learned
// one under refusal mimic (when wait is set, at from plus the drawn delay, so
// that the refusal's own work is inside the delay), else the
// configured lockout response. A client that hangs up during the delay gets
// nothing and holds nothing.
func (h *Route) answerLocked(ctx context.Context, w http.ResponseWriter, a *attempt, from time.Time, wait bool) {
	var ans *learnedAnswer
	if h.mimic != nil {
		ans = h.mimic.answer(a.account)
	}
	if ans == nil {
		h.writeOwnRefusal(w, h.Lockout.Status, h.lockBody)
		return
	}
	if d, ok := h.mimic.latency(); ok && wait && !a.monitor {
		if !h.mimic.sleepUntil(ctx, from.Add(d)) {
			return
		}
	}
	writeLearned(w, ans, h.Lockout.RemainingHeader, nil)
}

// writeLearned writes a learned answer on w in place of whatever w's header
// held: its status, headers (over them, those of over) and body, and
// remainingHeader (when set) as 0.
func writeLearned(w http.ResponseWriter, ans *learnedAnswer, remainingHeader string, over http.Header) {
	hdr := w.Header()
	clear(hdr)
	for k, vs := range ans.header {
		hdr[k] = append([]string(nil), vs...)
	}
	for k, vs := range over {
		hdr[k] = vs
	}
	if remainingHeader != "" {
		hdr.Set(remainingHeader, "0")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(ans.body)))
	w.WriteHeader(ans.status)
	_, _ = w.Write(ans.body)
}

// sleepUntil waits until about at, early by the timer's usual lateness; it
// reports false when ctx ended first.
func (m *mimic) sleepUntil(ctx context.Context, at time.Time) bool {
	wait := time.Until(at) - time.Duration(m.late.Load())
	if wait <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	late := int64(time.Since(at)) + m.late.Load() // how late the timer fired
	old := m.late.Load()
	m.late.Store(old + (max(0, min(late, int64(5*time.Millisecond)))-old)/8)
	return true
}

// writeOwnRefusal writes the gateway's own refusal: status and body (nil:
// none) with the route's lockout content type.
func (h *Route) writeOwnRefusal(w http.ResponseWriter, status int, body []byte) {
	if h.Lockout.RemainingHeader != "" {
		w.Header().Set(h.Lockout.RemainingHeader, "0")
	}
	if body != nil {
		w.Header().Set("Content-Type", h.Lockout.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if body != nil {
		_, _ = w.Write(body)
	}
}
