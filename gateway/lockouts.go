package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/state"
	"github.com/loginguard/loginguard/telemetry"
)

// Lockouts is the admin's side of the lockout state (package admin's
// Lockouts): it locks, unlocks and reports accounts by name and blocks IPs,
// each action an event. A name is keyed as the routes key it (AccountKey).
type Lockouts struct {
	// Store is the lockout state store.
	Store state.Store
	// Realms returns the realms of the configuration's routes, in a new
	// slice (none: the routes name no realm).
	Realms func() []string
	// Emit hands an event to the log store and the connectors.
	Emit func(event.Event)
	// Telemetry records the admin's actions on accounts; nil when off.
	Telemetry *telemetry.Telemetry
	// Logger logs the blocks and unblocks.
	Logger *slog.Logger
	// Actor returns the address and user agent of the admin whose call ctx
	// is, when ctx carries them.
	Actor func(ctx context.Context) (ip, userAgent string, ok bool)
	// BlocksChanged is called after a block or an unblock, so that the copy
	// of the blocks the routes check is refreshed at once.
	BlocksChanged func(ctx context.Context)
}

// LockAccount locks an account by an admin's decision for d (d <= 0: until
// unlocked) and emits ACCOUNT_LOCKED. by names who locked it, for the message.
// A bare name is locked in every realm of the config's routes.
func (l *Lockouts) LockAccount(ctx context.Context, account string, d time.Duration, by string) error {
	keys, name := l.accountKeys(account)
	if name == "" {
		return fmt.Errorf("account: required")
	}
	for _, k := range keys {
		if err := l.Store.Lock(ctx, k, d); err != nil {
			return fmt.Errorf("locking %s: %w", k, err)
		}
	}
	until := "until unlocked by an admin"
	if d > 0 {
		until = "until " + time.Now().Add(d).UTC().Format(event.DateLayout)
	}
	ev := AccountEvent(name, event.AccountLocked, "Account "+name+" locked by "+by+" "+until)
	l.withActor(ctx, &ev)
	l.Telemetry.AccountAction(ctx, "loginguard.lock", "loginguard.account_locked", &ev)
	l.Emit(ev)
	return nil
}

// UnlockAccount lifts an account's lock, clears its failures and, when it was
// locked, emits ACCOUNT_UNLOCKED. It reports whether the account was locked. A
// bare name is unlocked in every realm of the config's routes.
func (l *Lockouts) UnlockAccount(ctx context.Context, account, by string) (bool, error) {
	keys, name := l.accountKeys(account)
	if name == "" {
		return false, fmt.Errorf("account: required")
	}
	was := false
	for _, k := range keys {
		w, err := l.Store.Unlock(ctx, k)
		if err != nil {
			return was, fmt.Errorf("unlocking %s: %w", k, err)
		}
		was = was || w
	}
	if was {
		ev := AccountEvent(name, event.AccountUnlocked, "Account "+name+" unlocked by "+by)
		l.withActor(ctx, &ev)
		l.Telemetry.AccountAction(ctx, "loginguard.unlock", "loginguard.account_unlocked", &ev)
		l.Emit(ev)
	}
	return was, nil
}

// accountKeys returns the lockout keys an admin's account name stands for, and
// the name in its canonical form: "realm|name" is that realm's key; a bare name
// is its key in every realm the config's routes use (one key when no route
// names a realm). The name takes the default canonical form, as routes key it
// unless they name another (policy.DefaultCanonical).
func (l *Lockouts) accountKeys(account string) (keys []string, name string) {
	account = strings.TrimSpace(account)
	if realm, n, ok := strings.Cut(account, "|"); ok {
		name = policy.DefaultCanonical.Key(n)
		if name == "" {
			return nil, ""
		}
		return []string{AccountKey(realm, name)}, name
	}
	name = policy.DefaultCanonical.Key(account)
	if name == "" {
		return nil, ""
	}
	realms := l.Realms()
	if len(realms) == 0 {
		realms = []string{""}
	}
	slices.Sort(realms)
	for _, r := range realms {
		keys = append(keys, AccountKey(r, name))
	}
	return keys, name
}

// AccountEvent is the event of an action on an account (an admin's, or the end
// of a lock). The state knows accounts by their key only: one with an @ is
// taken for a portal user's email, any other for a manager's username.
func AccountEvent(account string, t event.Type, msg string) event.Event {
	ev := event.Event{ID: event.NewID(), EventDate: time.Now().UTC(), EventType: t, Message: &msg}
	identity := account
	if i := strings.LastIndexByte(account, '|'); i >= 0 { // realm|principal
		identity = account[i+1:]
	}
	if strings.Contains(identity, "@") {
		ev.Source, ev.Email = event.SourcePortal, &identity
	} else {
		ev.Source, ev.Principal = event.SourceManager, &identity
	}
	return ev
}

// BlockIP blocks an IP or CIDR for d (d <= 0: until unblocked): its login
// attempts get 403 on every route. by names who blocked it, for the log.
func (l *Lockouts) BlockIP(ctx context.Context, cidr string, d time.Duration, by string) error {
	if err := l.Store.Block(ctx, cidr, d); err != nil {
		return fmt.Errorf("blocking %s: %w", cidr, err)
	}
	l.BlocksChanged(ctx)
	l.Logger.Info("IP blocked", "cidr", cidr, "by", by, "duration", d)
	until := "until unblocked by an admin"
	if d > 0 {
		until = "until " + time.Now().Add(d).UTC().Format(event.DateLayout)
	}
	l.Emit(l.ipEvent(ctx, event.IPBlocked, "IP range "+cidr+" blocked by "+by+" "+until))
	return nil
}

// UnblockIP lifts a block; it reports whether there was one.
func (l *Lockouts) UnblockIP(ctx context.Context, cidr, by string) (bool, error) {
	was, err := l.Store.Unblock(ctx, cidr)
	if err != nil {
		return false, fmt.Errorf("unblocking %s: %w", cidr, err)
	}
	l.BlocksChanged(ctx)
	if was {
		l.Logger.Info("IP unblocked", "cidr", cidr, "by", by)
		l.Emit(l.ipEvent(ctx, event.IPUnblocked, "IP range "+cidr+" unblocked by "+by))
	}
	return was, nil
}

// ipEvent is the event of an admin's block or unblock: the range is in the
// message; the admin's address and user agent, when the call carries them,
// are the event's.
func (l *Lockouts) ipEvent(ctx context.Context, t event.Type, msg string) event.Event {
	ev := event.Event{ID: event.NewID(), EventDate: time.Now().UTC(), EventType: t, Source: event.SourceManager, Message: &msg}
	l.withActor(ctx, &ev)
	return ev
}

// withActor fills the admin's address and user agent into ev, when ctx
// carries the admin call's actor.
func (l *Lockouts) withActor(ctx context.Context, ev *event.Event) {
	if ip, userAgent, ok := l.Actor(ctx); ok {
		ev.RemoteAddress, ev.UserAgent = ip, policy.Clean(userAgent)
	}
}

// LockedAccounts lists the accounts locked now.
func (l *Lockouts) LockedAccounts(ctx context.Context) ([]state.AccountStatus, error) {
	return l.Store.LockedAccounts(ctx)
}

// BlockedIPs lists the IP blocks in force.
func (l *Lockouts) BlockedIPs(ctx context.Context) ([]state.IPBlock, error) {
	return l.Store.BlockedIPs(ctx)
}

// AccountStatus returns one account's lockout state: of a bare name, the state
// of its key in the realm where it is locked (else where it has the most
// failures).
func (l *Lockouts) AccountStatus(ctx context.Context, account string) (state.AccountStatus, error) {
	keys, _ := l.accountKeys(account)
	var best state.AccountStatus
	for i, k := range keys {
		st, err := l.Store.Status(ctx, k)
		if err != nil {
			return st, err
		}
		if i == 0 || (st.Locked && !best.Locked) || (st.Locked == best.Locked && st.Failures > best.Failures) {
			best = st
		}
	}
	return best, nil
}
