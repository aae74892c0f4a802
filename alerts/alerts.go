// Package alerts turns the stream of login events into alerts on critical
// security events (the login-log page: "e.g. 10+ failed attempts"): many failures from
// one IP, an account locked, one IP trying many accounts (credential
// stuffing), one account failing from many IPs (a distributed attack), and a
// success right after many failures (a guessed password). Each rule fires once
// per subject and cooldown, so one attack gives one alert, not thousands.
//
// The package knows nothing of Caddy: feed an Engine every event with Observe
// and emit what it returns, or make it a stage of the event pipeline (Stage).
package alerts

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loginguard/loginguard/event"
)

// Rule names.
const (
	IPFailures         = "ip_failures"
	AccountLocked      = "account_locked"
	CredentialStuffing = "credential_stuffing"
	DistributedAttack  = "distributed_attack"
	GuessedPassword    = "guessed_password"
	// UnattributedSuccess fires on every successful login whose principal the
	// gateway could not read (a route with on_missing_principal forward): the
	// portal let someone in whom no lockout counted.
	UnattributedSuccess = "unattributed_success"
)

// Rule is one alert rule: it fires when Threshold is reached within Window
// (for account_locked, on every lock), then not again for the same subject
// until Cooldown has passed (default: Window, or 1h for account_locked).
type Rule struct {
	Name      string        `json:"name"`
	Threshold int           `json:"threshold,omitempty"`
	Window    time.Duration `json:"window,omitempty"`
	Cooldown  time.Duration `json:"cooldown,omitempty"`
}

// Defaults returns the default rules: 10 failures from one IP in 1h, every
// lock, 5 accounts failing from one IP in 10m, 5 IPs failing on one account in
// 1h, a success after 5 failures in 1h.
func Defaults() []Rule {
	return []Rule{
		{Name: IPFailures, Threshold: 10, Window: time.Hour},
		{Name: AccountLocked},
		{Name: CredentialStuffing, Threshold: 5, Window: 10 * time.Minute},
		{Name: DistributedAttack, Threshold: 5, Window: time.Hour},
		{Name: GuessedPassword, Threshold: 5, Window: time.Hour},
		{Name: UnattributedSuccess},
	}
}

// Validate checks a rule.
func (r Rule) Validate() error {
	switch r.Name {
	case AccountLocked, UnattributedSuccess:
		return nil
	case IPFailures, CredentialStuffing, DistributedAttack, GuessedPassword:
	default:
		return fmt.Errorf("alert rule %q: want one of %s", r.Name, strings.Join([]string{IPFailures, AccountLocked, CredentialStuffing, DistributedAttack, GuessedPassword, UnattributedSuccess}, ", "))
	}
	if r.Threshold < 1 {
		return fmt.Errorf("alert rule %s: threshold: want a positive integer, got %d", r.Name, r.Threshold)
	}
	if r.Window <= 0 {
		return fmt.Errorf("alert rule %s: window: want a positive duration", r.Name)
	}
	if r.Cooldown < 0 {
		return fmt.Errorf("alert rule %s: cooldown: want a positive duration", r.Name)
	}
	return nil
}

// Alert is one firing of a rule.
type Alert struct {
	Rule    string
	Subject string // the IP or the account
	Count   int    // failures, accounts or IPs seen within Window
	Window  time.Duration
	Cause   event.Event // the event that made the rule fire
}

// Message describes the alert in one line, the rule, subject and counts first
// as key=value pairs (so that a log search can read them).
func (a Alert) Message() string {
	what := map[string]string{
		IPFailures:         "%d failed logins from IP %s within %s",
		CredentialStuffing: "%d accounts failed to log in from IP %s within %s (credential stuffing)",
		DistributedAttack:  "%d IPs failed to log in to account %s within %s (distributed attack)",
		GuessedPassword:    "a successful login after %d failures on account %s within %s (a guessed password?)",
	}[a.Rule]
	head := fmt.Sprintf("alert rule=%s subject=%s count=%d", a.Rule, a.Subject, a.Count)
	if a.Rule == AccountLocked {
		return head + ": account " + a.Subject + " locked"
	}
	if a.Rule == UnattributedSuccess {
		return head + ": a successful login from IP " + a.Subject + " whose principal the gateway could not read (no lockout counted it)"
	}
	return head + fmt.Sprintf(" window=%s: ", a.Window) + fmt.Sprintf(what, a.Count, a.Subject, a.Window)
}

// Event returns the ALERT event of the alert: the cause's source, portal,
// identity and IP, with the alert's message.
func (a Alert) Event() event.Event {
	ev := event.Event{
		ID:            event.NewID(),
		Source:        a.Cause.Source,
		Principal:     a.Cause.Principal,
		Email:         a.Cause.Email,
		DisplayName:   a.Cause.DisplayName,
		EventDate:     time.Now().UTC(),
		EventType:     event.Alert,
		RemoteAddress: a.Cause.RemoteAddress,
		Message:       event.Str(a.Message()),
		PortalID:      a.Cause.PortalID,
		AccountID:     a.Cause.AccountID,
		FailureCount:  a.Cause.FailureCount,
		TraceID:       a.Cause.TraceID,
	}
	if a.Rule == CredentialStuffing || a.Rule == IPFailures {
		// The subject is the IP: the cause's account is one of many.
		ev.Principal, ev.Email, ev.DisplayName, ev.AccountID = nil, nil, nil, nil
	}
	return ev
}

// Engine evaluates rules over events. It is safe for concurrent use; its
// memory is bounded by maxKeys subjects per rule.
type Engine struct {
	rules   []Rule
	maxKeys int

	mu      sync.Mutex
	seen    []map[string]*track // per rule: subject → what was seen
	lastHit map[string]time.Time
}

// track is what a rule remembers of one subject: the times of the latest
// events (at most the threshold), or the latest time of each distinct member.
type track struct {
	times   []time.Time
	members map[string]time.Time
}

// New returns an Engine for rules (validated), remembering at most maxKeys
// subjects per rule (default 10,000 when ≤ 0).
func New(rules []Rule, maxKeys int) (*Engine, error) {
	if maxKeys <= 0 {
		maxKeys = 10000
	}
	e := &Engine{maxKeys: maxKeys, lastHit: map[string]time.Time{}}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if r.Cooldown == 0 {
			r.Cooldown = r.Window
			if r.Name == AccountLocked {
				r.Cooldown = time.Hour
			}
		}
		e.rules = append(e.rules, r)
		e.seen = append(e.seen, map[string]*track{})
	}
	return e, nil
}

// Observe takes one event at now and returns the alerts it fires. ALERT
// events are ignored.
func (e *Engine) Observe(ev event.Event, now time.Time) []Alert {
	if e == nil || ev.EventType == event.Alert {
		return nil
	}
	account := identity(ev)
	ip := ev.RemoteAddress
	failure := ev.EventType == event.LoginFailure
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for i, r := range e.rules {
		var subject string
		var count int
		switch r.Name {
		case IPFailures:
			if !failure || ip == "" {
				continue
			}
			subject, count = ip, e.times(i, ip, r, now).count(now, r.Window)
		case AccountLocked:
			if ev.EventType != event.AccountLocked || account == "" {
				continue
			}
			subject, count = account, max(ev.FailureCount, 1)
		case UnattributedSuccess:
			if ev.EventType != event.LoginSuccess || ev.Reason != event.MissingPrincipal {
				continue
			}
			subject, count = ev.RemoteAddress, 1
		case CredentialStuffing:
			if !failure || ip == "" || account == "" {
				continue
			}
			subject, count = ip, e.members(i, ip, account, r, now)
		case DistributedAttack:
			if !failure || ip == "" || account == "" {
				continue
			}
			subject, count = account, e.members(i, account, ip, r, now)
		case GuessedPassword:
			if account == "" {
				continue
			}
			if failure {
				e.times(i, account, r, now)
				continue
			}
			if ev.EventType != event.LoginSuccess {
				continue
			}
			t := e.seen[i][account]
			if t == nil {
				continue
			}
			count = t.count(now, r.Window)
			delete(e.seen[i], account) // a success ends the run of failures
			subject = account
		}
		if count < r.Threshold && r.Name != AccountLocked && r.Name != UnattributedSuccess {
			continue
		}
		key := r.Name + "\x00" + subject
		if last, ok := e.lastHit[key]; ok && now.Sub(last) < r.Cooldown {
			continue
		}
		e.lastHit[key] = now
		if len(e.lastHit) > e.maxKeys*len(e.rules) {
			e.pruneHits(now)
		}
		out = append(out, Alert{Rule: r.Name, Subject: subject, Count: count, Window: r.Window, Cause: ev})
	}
	return out
}

// times records an event of subject for rule i and returns its track.
func (e *Engine) times(i int, subject string, r Rule, now time.Time) *track {
	t := e.track(i, subject, now, r.Window)
	if len(t.times) >= r.Threshold {
		copy(t.times, t.times[1:])
		t.times = t.times[:len(t.times)-1]
	}
	t.times = append(t.times, now)
	return t
}

// count is how many of t's times are within window of now.
func (t *track) count(now time.Time, window time.Duration) int {
	n := 0
	for _, at := range t.times {
		if now.Sub(at) < window {
			n++
		}
	}
	return n
}

// members records member for subject under rule i and returns how many
// distinct members subject had within the window.
func (e *Engine) members(i int, subject, member string, r Rule, now time.Time) int {
	t := e.track(i, subject, now, r.Window)
	if t.members == nil {
		t.members = map[string]time.Time{}
	}
	t.members[member] = now
	for m, at := range t.members {
		if now.Sub(at) >= r.Window {
			delete(t.members, m)
		}
	}
	if len(t.members) > r.Threshold {
		// Only reaching the threshold matters: forget the oldest.
		var oldest string
		for m, at := range t.members {
			if oldest == "" || at.Before(t.members[oldest]) {
				oldest = m
			}
		}
		delete(t.members, oldest)
	}
	return len(t.members)
}

// track returns rule i's track of subject, making room when the rule holds
// maxKeys subjects: the stale ones go first, then arbitrary ones.
func (e *Engine) track(i int, subject string, now time.Time, window time.Duration) *track {
	m := e.seen[i]
	if t, ok := m[subject]; ok {
		return t
	}
	if len(m) >= e.maxKeys {
		for k, t := range m {
			if t.stale(now, window) {
				delete(m, k)
			}
		}
		for k := range m {
			if len(m) < e.maxKeys {
				break
			}
			delete(m, k)
		}
	}
	t := &track{}
	m[subject] = t
	return t
}

// stale reports whether nothing of t is within window of now.
func (t *track) stale(now time.Time, window time.Duration) bool {
	for _, at := range t.times {
		if now.Sub(at) < window {
			return false
		}
	}
	for _, at := range t.members {
		if now.Sub(at) < window {
			return false
		}
	}
	return true
}

// pruneHits forgets the cooldowns that are over.
func (e *Engine) pruneHits(now time.Time) {
	cool := map[string]time.Duration{}
	for _, r := range e.rules {
		cool[r.Name] = r.Cooldown
	}
	for k, at := range e.lastHit {
		name, _, _ := strings.Cut(k, "\x00")
		if now.Sub(at) >= cool[name] {
			delete(e.lastHit, k)
		}
	}
}

// Rules returns the engine's rules with their defaults filled in, by name.
func (e *Engine) Rules() []Rule {
	out := append([]Rule(nil), e.rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// identity is the account an event is about: its email or principal, lower-cased.
func identity(ev event.Event) string {
	if ev.Email != nil && *ev.Email != "" {
		return strings.ToLower(*ev.Email)
	}
	if ev.Principal != nil && *ev.Principal != "" {
		return strings.ToLower(*ev.Principal)
	}
	return ""
}
