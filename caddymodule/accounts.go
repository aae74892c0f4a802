package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/policy"
	"github.com/loginguard/loginguard/state"
)

// LockAccount locks an account by an admin's decision for d (d <= 0: until
// unlocked) and emits ACCOUNT_LOCKED. by names who locked it, for the message.
func (a *App) LockAccount(ctx context.Context, account string, d time.Duration, by string) error {
	account = adminAccount(account)
	if account == "" {
		return fmt.Errorf("account: required")
	}
	if err := a.store.Lock(ctx, account, d); err != nil {
		return fmt.Errorf("locking %s: %w", account, err)
	}
	until := "until unlocked by an admin"
	if d > 0 {
		until = "until " + time.Now().Add(d).UTC().Format(event.DateLayout)
	}
	ev := accountEvent(account, event.AccountLocked, "Account "+account+" locked by "+by+" "+until)
	a.tel.accountAction(ctx, "loginguard.lock", "loginguard.account_locked", &ev)
	a.Emit(ev)
	return nil
}

// UnlockAccount lifts an account's lock, clears its failures and, when it was
// locked, emits ACCOUNT_UNLOCKED. It reports whether the account was locked.
func (a *App) UnlockAccount(ctx context.Context, account, by string) (bool, error) {
	account = adminAccount(account)
	if account == "" {
		return false, fmt.Errorf("account: required")
	}
	was, err := a.store.Unlock(ctx, account)
	if err != nil {
		return false, fmt.Errorf("unlocking %s: %w", account, err)
	}
	if was {
		ev := accountEvent(account, event.AccountUnlocked, "Account "+account+" unlocked by "+by)
		a.tel.accountAction(ctx, "loginguard.unlock", "loginguard.account_unlocked", &ev)
		a.Emit(ev)
	}
	return was, nil
}

// adminAccount is the lockout key of an account an admin names ("name" or
// "realm|name"): the name in the default canonical form, as the routes key it
// unless they name another (policy.DefaultCanonical).
func adminAccount(account string) string {
	account = strings.TrimSpace(account)
	if realm, name, ok := strings.Cut(account, "|"); ok {
		return accountKey(realm, policy.DefaultCanonical.Key(name))
	}
	return policy.DefaultCanonical.Key(account)
}

// accountEvent is the event of an action on an account (an admin's, or the end
// of a lock). The state knows accounts by their key only: one with an @ is
// taken for a portal user's email, any other for a manager's username.
func accountEvent(account string, t event.Type, msg string) event.Event {
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
func (a *App) BlockIP(ctx context.Context, cidr string, d time.Duration, by string) error {
	if err := a.store.Block(ctx, cidr, d); err != nil {
		return fmt.Errorf("blocking %s: %w", cidr, err)
	}
	a.refreshBlocks()
	a.logger.Info("IP blocked", "cidr", cidr, "by", by, "duration", d)
	return nil
}

// UnblockIP lifts a block; it reports whether there was one.
func (a *App) UnblockIP(ctx context.Context, cidr, by string) (bool, error) {
	was, err := a.store.Unblock(ctx, cidr)
	if err != nil {
		return false, fmt.Errorf("unblocking %s: %w", cidr, err)
	}
	a.refreshBlocks()
	if was {
		a.logger.Info("IP unblocked", "cidr", cidr, "by", by)
	}
	return was, nil
}

// LockedAccounts lists the accounts locked now.
func (a *App) LockedAccounts(ctx context.Context) ([]state.AccountStatus, error) {
	return a.store.LockedAccounts(ctx)
}

// BlockedIPs lists the IP blocks in force.
func (a *App) BlockedIPs(ctx context.Context) ([]state.IPBlock, error) {
	return a.store.BlockedIPs(ctx)
}

// AccountStatus returns one account's lockout state.
func (a *App) AccountStatus(ctx context.Context, account string) (state.AccountStatus, error) {
	return a.store.Status(ctx, strings.ToLower(strings.TrimSpace(account)))
}
