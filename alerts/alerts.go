// Package alerts turns the stream of login events into alerts on critical
// security events (the login-log page: "e.g. 10+ failed attempts"): many failures from
// one IP, an account locked, one IP trying many accounts (credential
// stuffing), one account failing from many IPs (a distributed attack), a
// success right after many failures (a guessed password), a successful login
// with a breached password, and many breached passwords tried from one IP
// (credential stuffing with breached lists). Each rule fires once
// per subject and cooldown, so one attack gives one alert, not thousands.
//
// The package knows nothing of Caddy: feed an Engine every event with Observe
// and emit what it returns, or make it a stage of the event pipeline (Stage).
package alerts

import (
	"context"
	"fmt"
	"sort"
	"strings"
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
	// BreachedSuccess fires on a successful login whose password is breached
	// (event.Event.PasswordBreached): the account's password is known to
	// attackers and worked. Its subject is the account (the IP when the
	// gateway could not name one).
	BreachedSuccess = "breached_success"
	// BreachedIPs fires when one IP tries Threshold breached passwords
	// (attempts with event.Event.PasswordBreached, successful or not) within
	// Window: credential stuffing from a breach list.
	BreachedIPs = "breached_ips"
	// IPConflict fires when a session's cookie is used from another network
	// than its login's (a SESSION_IP_CONFLICT event: a stolen cookie?),
	// once per session (its sessionId) and cooldown (default 1h).
	IPConflict = "ip_conflict"
)

// ruleNames lists every rule, in the order of Defaults.
var ruleNames = []string{IPFailures, AccountLocked, CredentialStuffing, DistributedAttack, GuessedPassword, UnattributedSuccess,
	BreachedSuccess, BreachedIPs, IPConflict}

// Rule is one alert rule: it fires when Threshold is reached within Window
// (account_locked, unattributed_success and breached_success: on every such
// event), then not again for the same subject until Cooldown has passed
// (default: Window; 1h for account_locked and breached_success; none for
// unattributed_success).
type Rule struct {
	Name      string        `json:"name"`
	Threshold int           `json:"threshold,omitempty"`
	Window    time.Duration `json:"window,omitempty"`
	Cooldown  time.Duration `json:"cooldown,omitempty"`
}

// Defaults returns the default rules: 10 failures from one IP in 1h, every
// lock, 5 accounts failing from one IP in 10m, 5 IPs failing on one account in
// 1h, a success after 5 failures in 1h, every success the gateway could not
// attribute, every success with a breached password, 10 breached passwords
// tried from one IP in 10m.
func Defaults() []Rule {
	return []Rule{
		{Name: IPFailures, Threshold: 10, Window: time.Hour},
		{Name: AccountLocked},
		{Name: CredentialStuffing, Threshold: 5, Window: 10 * time.Minute},
		{Name: DistributedAttack, Threshold: 5, Window: time.Hour},
		{Name: GuessedPassword, Threshold: 5, Window: time.Hour},
		{Name: UnattributedSuccess},
		{Name: BreachedSuccess},
		{Name: BreachedIPs, Threshold: 10, Window: 10 * time.Minute},
		{Name: IPConflict},
	}
}

// PerEvent reports whether the rule named name fires on every event of its
// kind (subject to its cooldown) rather than at a threshold within a window:
// it takes neither.
func PerEvent(name string) bool {
	return name == AccountLocked || name == UnattributedSuccess || name == BreachedSuccess || name == IPConflict
}

// Names returns the names of every rule, in the order of Defaults.
func Names() []string { return append([]string(nil), ruleNames...) }

// Validate checks a rule.
func (r Rule) Validate() error {
	switch r.Name {
	case AccountLocked, UnattributedSuccess, BreachedSuccess, IPConflict:
		if r.Cooldown < 0 {
			return fmt.Errorf("alert rule %s: cooldown: want a positive duration", r.Name)
		}
		return nil
	case IPFailures, CredentialStuffing, DistributedAttack, GuessedPassword, BreachedIPs:
	default:
		return fmt.Errorf("alert rule %q: want one of %s", r.Name, strings.Join(ruleNames, ", "))
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
		BreachedIPs:        "%d attempts with a breached password from IP %s within %s (credential stuffing from a breach list)",
	}[a.Rule]
	head := fmt.Sprintf("alert rule=%s subject=%s count=%d", a.Rule, a.Subject, a.Count)
	if a.Rule == AccountLocked {
		return head + ": account " + a.Subject + " locked"
	}
	if a.Rule == UnattributedSuccess {
		return head + ": a successful login from IP " + a.Subject + " whose principal the gateway could not read (no lockout counted it)"
	}
	if a.Rule == IPConflict {
		return head + ": session " + a.Subject + " of " + a.Cause.Identity() + " used from IP " + a.Cause.RemoteAddress + ", another network than its login's (a stolen cookie?)"
	}
	if a.Rule == BreachedSuccess {
		return head + ": a successful login to " + a.Subject + " from IP " + a.Cause.RemoteAddress + " with a breached password (known to attackers: have it changed)"
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
	if a.Rule == CredentialStuffing || a.Rule == IPFailures || a.Rule == BreachedIPs {
		// The subject is the IP: the cause's account is one of many.
		ev.Principal, ev.Email, ev.DisplayName, ev.AccountID = nil, nil, nil, nil
	}
	return ev
}

// Engine evaluates rules over events. It is safe for concurrent use.
//
// New makes an Engine that counts in this process's memory (Memory) and
// answers Observe at once. NewFleet makes one that counts in a Windows
// shared by a fleet (Redis): its Observe only queues the event, and the
// alerts come out later, from a goroutine, through the function given to
// Start (see fleet.go).
type Engine struct {
	rules []Rule

	mem   *Memory             // New's windows; nil for NewFleet
	seen  []map[string]*track // mem's subjects per rule, in rule order (tests read them)
	fleet *fleet              // NewFleet's queue and flusher; nil for New
}

// New returns an Engine for rules (validated; one rule per name), remembering
// at most maxKeys subjects per rule (default 10,000 when ≤ 0), in memory.
func New(rules []Rule, maxKeys int) (*Engine, error) {
	rs, err := prepare(rules)
	if err != nil {
		return nil, err
	}
	e := &Engine{rules: rs, mem: NewMemory(maxKeys)}
	for _, r := range rs {
		e.seen = append(e.seen, e.mem.rule(r.Name))
	}
	return e, nil
}

// prepare validates rules and fills in their default cooldowns.
func prepare(rules []Rule) ([]Rule, error) {
	var out []Rule
	named := map[string]bool{}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if named[r.Name] {
			return nil, fmt.Errorf("alert rule %s: listed twice: want one rule per name", r.Name)
		}
		named[r.Name] = true
		if r.Cooldown == 0 {
			r.Cooldown = r.Window
			if r.Name == AccountLocked || r.Name == BreachedSuccess || r.Name == IPConflict {
				r.Cooldown = time.Hour
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// maxOps bounds the ops of one event: one per rule (ruleNames).
const maxOps = 9

// Observe takes one event at now and returns the alerts it fires. ALERT
// events are ignored. An Engine made by NewFleet returns nil: its alerts come
// through Start's function once the event's ops are applied.
func (e *Engine) Observe(ev event.Event, now time.Time) []Alert {
	if e == nil || ev.EventType == event.Alert {
		return nil
	}
	var buf [maxOps]Op
	ops := e.ops(ev, now, buf[:0])
	if len(ops) == 0 {
		return nil
	}
	if e.fleet != nil {
		e.fleet.queue(ev, ops)
		return nil
	}
	var res [maxOps]Result
	_ = e.mem.Apply(context.Background(), ops, res[:len(ops)])
	return fired(ev, ops, res[:len(ops)], nil)
}

// ops appends to out what the rules do with ev at now, in rule order.
func (e *Engine) ops(ev event.Event, now time.Time, out []Op) []Op {
	account := identity(ev)
	ip := ev.RemoteAddress
	failure := ev.EventType == event.LoginFailure
	for _, r := range e.rules {
		op := Op{Rule: r.Name, At: now, Window: r.Window, Threshold: r.Threshold, Cooldown: r.Cooldown}
		switch r.Name {
		case IPFailures:
			if !failure || ip == "" {
				continue
			}
			op.Kind, op.Subject = CountTime, ip
		case AccountLocked:
			if ev.EventType != event.AccountLocked || account == "" {
				continue
			}
			op.Kind, op.Subject, op.Count = Claim, account, max(ev.FailureCount, 1)
		case UnattributedSuccess:
			if ev.EventType != event.LoginSuccess || ev.Reason != event.MissingPrincipal {
				continue
			}
			op.Kind, op.Subject, op.Count = Claim, ev.RemoteAddress, 1
		case BreachedSuccess:
			if ev.EventType != event.LoginSuccess || !ev.PasswordBreached {
				continue
			}
			op.Kind, op.Subject, op.Count = Claim, account, 1
			if account == "" {
				op.Subject = ev.RemoteAddress
			}
			if op.Subject == "" {
				continue
			}
		case IPConflict:
			if ev.EventType != event.SessionIPConflict || ev.SessionID == "" {
				continue
			}
			op.Kind, op.Subject, op.Count = Claim, ev.SessionID, 1
		case BreachedIPs:
			if !ev.PasswordBreached || ip == "" || (!failure && ev.EventType != event.LoginSuccess) {
				continue
			}
			op.Kind, op.Subject = CountTime, ip
		case CredentialStuffing:
			if !failure || ip == "" || account == "" {
				continue
			}
			op.Kind, op.Subject, op.Member = CountMember, ip, account
		case DistributedAttack:
			if !failure || ip == "" || account == "" {
				continue
			}
			op.Kind, op.Subject, op.Member = CountMember, account, ip
		case GuessedPassword:
			if account == "" {
				continue
			}
			switch {
			case failure:
				op.Kind = NoteTime
			case ev.EventType == event.LoginSuccess:
				op.Kind = TakeTimes // a success ends the run of failures
			default:
				continue
			}
			op.Subject = account
		default:
			continue
		}
		out = append(out, op)
	}
	return out
}

// fired appends to out the alerts of the ops of ev that fired.
func fired(ev event.Event, ops []Op, res []Result, out []Alert) []Alert {
	for i, op := range ops {
		if res[i].Fired {
			out = append(out, Alert{Rule: op.Rule, Subject: op.Subject, Count: res[i].Count, Window: op.Window, Cause: ev})
		}
	}
	return out
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
