package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/state"
)

// named is one account a request names: its lockout key, its canonical name
// (the event's email or principal) and the spelling the request sent.
type named struct {
	account  string
	identity string
	sent     string
	spelling string // the lockout key of the spelling itself, before aliases
}

// AccountKey is the lockout key of a canonical name on a route of realm: the one
// place the key's format is made.
func AccountKey(realm, identity string) string {
	if realm == "" {
		return identity
	}
	return realm + "|" + identity
}

// accounts turns the principals a request named into the accounts they count
// against: each spelling put through the route's canonical steps, then through
// the aliases learned from the portal, duplicates dropped. On a state error the
// spellings' own accounts are returned with the error.
func (h *Route) accounts(ctx context.Context, candidates []string) ([]named, error) {
	var out []named
	var firstErr error
	for _, c := range candidates {
		id := h.canonical.Key(c)
		if id == "" {
			continue
		}
		n := named{account: AccountKey(h.Realm, id), identity: id, sent: c}
		n.spelling = n.account
		if h.app.LearnsAliases(h.Realm) {
			target, ok, err := h.app.Store().Alias(ctx, n.account)
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if ok && target != "" {
				n.account = target
				if name := h.nameOf(target); !strings.HasPrefix(name, accountIDPrefix) {
					n.identity = name
				}
			}
		}
		dup := false
		for _, o := range out {
			dup = dup || o.account == n.account
		}
		if !dup {
			out = append(out, n)
		}
	}
	return out, firstErr
}

// accountIDPrefix marks an alias target that is a portal's account id, not a name.
const accountIDPrefix = "\x00id:"

// nameOf is the name part of a lockout key (the realm cut off).
func (h *Route) nameOf(key string) string {
	if h.Realm == "" {
		return key
	}
	return strings.TrimPrefix(key, h.Realm+"|")
}

// setIdentity fills the attempt's principal or email and its lockout key.
func (h *Route) setIdentity(a *attempt, n named) {
	a.identity, a.account = n.identity, n.account
	h.setEventIdentity(&a.ev, n.identity, n.sent)
}

// setEventIdentity puts the canonical name in ev's email (portal) or principal
// (manager) and the spelling sent in sentAs when it differs.
func (h *Route) setEventIdentity(ev *event.Event, identity, sent string) {
	if h.source == event.SourcePortal {
		ev.Email, ev.Principal = &identity, nil
	} else {
		ev.Principal, ev.Email = &identity, nil
	}
	ev.SentAs = ""
	if sent != "" && sent != identity {
		ev.SentAs = sent
	}
}

func identities(ns []named) []string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.identity
	}
	return s
}

// ambiguity words why a request is ambiguous, for the event's message.
func ambiguity(id policy.Identity) string {
	switch {
	case id.Unreadable != "" && id.Shape != "":
		return id.Shape + ", and " + id.Unreadable
	case id.Unreadable != "":
		return "one place holds " + id.Unreadable
	case id.Shape != "":
		return id.Shape
	}
	return "more than one principal"
}

// refuseUnread answers an attempt whose principal could not be read (or, with
// reason AMBIGUOUS_PRINCIPAL, a multicall refused by the route): 400 or 413,
// recorded with why.
func (h *Route) refuseUnread(w http.ResponseWriter, a *attempt, r event.Reason, why string, status int) error {
	h.app.CountRefusal(h.source, r, a.monitor)
	msg, errType := policy.Describe(r, h.source, a.identity, 0)
	msg += " (" + why + ")"
	a.ev.EventType, a.ev.Reason, a.ev.Message, a.ev.ErrorType = h.failureType(), r, &msg, &errType
	h.emitRefusal(a)
	return writeRefusal(w, status, "invalid_request", "The login request cannot be read as naming exactly one account: "+why+".")
}

// refuseAmbiguous answers a request that names more than one account: a failure
// is counted against each (that is not locked already), then 400.
func (h *Route) refuseAmbiguous(ctx context.Context, w http.ResponseWriter, a *attempt, ns []named, why string) error {
	ctx = context.WithoutCancel(ctx)
	var locks []event.Event
	failures := 0
	if !h.Lockout.Off {
		if h.statePol.PerPrefixMaxFailures > 0 || h.statePol.KnownPrefixTTL > 0 {
			a.prefix = ipPrefix(a.ip, h.Lockout.IPv4Prefix, h.Lockout.IPv6Prefix)
		}
		for i, n := range ns {
			res, ok := h.countAgainst(ctx, a, claim{account: n.account, identity: n.identity})
			if i == 0 {
				failures = res.Failures
			}
			if ok && res.NewlyLocked {
				locks = append(locks, h.lockEvent(a, n.identity, res))
			}
		}
	}
	h.app.CountRefusal(h.source, event.AmbiguousPrincipal, a.monitor)
	msg, errType := policy.Describe(event.AmbiguousPrincipal, h.source, a.identity, failures)
	msg += " (" + why + ": " + strings.Join(a.ev.Candidates, ", ") + ")"
	a.ev.EventType, a.ev.Reason, a.ev.Message, a.ev.ErrorType, a.ev.FailureCount = event.LoginFailure, event.AmbiguousPrincipal, &msg, &errType, failures
	h.emitRefusal(a)
	for _, l := range locks {
		h.emit(l)
	}
	return writeRefusal(w, http.StatusBadRequest, "invalid_request", "The login request names more than one account ("+why+"). Send each field once.")
}

// lockEvent is the ACCOUNT_LOCKED event of an attempt that locked the account
// named identity, counted in the metrics.
func (h *Route) lockEvent(a *attempt, identity string, res state.Result) event.Event {
	lock := a.ev
	lock.ID = event.NewID()
	lock.EventType, lock.Reason, lock.ErrorType, lock.Candidates = event.AccountLocked, "", nil, nil
	lock.FailureCount = res.Failures
	h.setEventIdentity(&lock, identity, "")
	lock.Message = event.Str(lockMessage(identity, res.Failures, res))
	h.app.CountLock()
	return lock
}

// countAgainst counts one failure against c's account outside of an admitted
// attempt (an ambiguous request's candidates, the account an alias revealed).
// A locked or busy account is left as it is.
func (h *Route) countAgainst(ctx context.Context, a *attempt, c claim) (state.Result, bool) {
	store := h.app.Store()
	at := state.Attempt{Account: c.account, Prefix: a.prefix}
	adm, err := store.Admit(ctx, at, h.statePol)
	if err != nil {
		h.app.StateError("admit", err)
		return state.Result{}, false
	}
	if !adm.Allowed {
		return state.Result{Failures: adm.Failures, Locked: adm.Locked}, false
	}
	res, err := store.Finish(ctx, at, adm.Slot, state.CountedFailure, h.statePol)
	if err != nil {
		h.app.StateError("finish", err)
		return state.Result{}, false
	}
	return res, true
}

// writeRefusal writes the gateway's own JSON error answer.
func writeRefusal(w http.ResponseWriter, status int, code, message string) error {
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// learnedName reads the lockout key of the account the portal's answer
// reveals: the success cookie's value, the body's capture, the success's
// account id.
func (h *Route) learnedName(v policy.Verdict, rec *recorder) (target string, ok bool) {
	al := h.Aliases
	if al == nil {
		return "", false
	}
	if v.Success && al.Cookie != "" {
		if val, found := policy.SetCookieValue(rec.Header().Values("Set-Cookie"), al.Cookie, time.Now); found {
			if dec, err := url.QueryUnescape(val); err == nil {
				val = dec
			}
			if h.aliasValue != nil {
				m := h.aliasValue.FindStringSubmatch(val)
				switch {
				case len(m) > 1:
					val = m[1]
				case len(m) == 1:
					val = m[0]
				default:
					val = ""
				}
			}
			if id := h.canonical.Key(policy.Clean(val)); id != "" {
				return AccountKey(h.Realm, id), true
			}
		}
	}
	if h.aliasBody != nil && len(rec.body) > 0 {
		if m := h.aliasBody.FindSubmatch(rec.body); len(m) > 1 {
			if id := h.canonical.Key(policy.Clean(string(m[1]))); id != "" {
				return AccountKey(h.Realm, id), true
			}
		}
	}
	if v.Success && al.AccountID && h.AccountID != "" && len(rec.body) > 0 {
		if s, found := policy.LookupJSON(rec.body, h.AccountID); found && policy.Clean(s) != "" {
			return AccountKey(h.Realm, accountIDPrefix+policy.Clean(s)), true
		}
	}
	return "", false
}

// learnAlias records target, the account the portal's answer revealed (see
// learnedName), as the account of the attempt's spelling when it is another
// account; it returns that account's claim.
func (h *Route) learnAlias(ctx context.Context, a *attempt, target string) *claim {
	c := a.claims[0]
	if target == c.account || target == c.spelling {
		return nil
	}
	if err := h.app.Store().PutAlias(ctx, c.spelling, target, h.Aliases.TTL); err != nil {
		h.app.StateError("put_alias", err)
		return nil
	}
	identity := h.nameOf(target)
	if strings.HasPrefix(identity, accountIDPrefix) {
		identity = c.identity
	}
	h.logger.Info("learned an alias from the portal's answer", "spelling", c.identity, "account", identity)
	return &claim{account: target, identity: identity, spelling: c.spelling}
}

// learnedLocked reports whether target, the account a successful answer
// revealed, is another account than the attempt's and locked now.
func (h *Route) learnedLocked(ctx context.Context, a *attempt, target string) (bool, string) {
	if target == a.claims[0].account {
		return false, ""
	}
	st, err := h.app.Store().Status(ctx, target)
	if err != nil {
		h.app.StateError("status", err)
		return false, ""
	}
	return st.Locked, h.nameOf(target)
}
