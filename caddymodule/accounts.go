package caddymodule

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
)

// LockAccount locks an account by an admin's decision for d (d <= 0: until
// unlocked) and emits ACCOUNT_LOCKED. by names who locked it, for the message.
func (a *App) LockAccount(ctx context.Context, account string, d time.Duration, by string) error {
	account = strings.ToLower(strings.TrimSpace(account))
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
	a.Emit(accountEvent(account, event.AccountLocked, "Account "+account+" locked by "+by+" "+until))
	return nil
}

// UnlockAccount lifts an account's lock, clears its failures and, when it was
// locked, emits ACCOUNT_UNLOCKED. It reports whether the account was locked.
func (a *App) UnlockAccount(ctx context.Context, account, by string) (bool, error) {
	account = strings.ToLower(strings.TrimSpace(account))
	if account == "" {
		return false, fmt.Errorf("account: required")
	}
	was, err := a.store.Unlock(ctx, account)
	if err != nil {
		return false, fmt.Errorf("unlocking %s: %w", account, err)
	}
	if was {
		a.Emit(accountEvent(account, event.AccountUnlocked, "Account "+account+" unlocked by "+by))
	}
	return was, nil
}

// accountEvent is the event of an admin's action on an account. The state knows
// accounts by their key only: one with an @ is taken for a portal user's email,
// any other for a manager's username.
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
