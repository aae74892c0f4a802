// Package admintest builds what the admin API's tests and the CLI's tests run
// against: a real SQLite login log filled with a known data set, a real memory
// lockout state, and the admin handler on an httptest server.
package admintest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/sqlite"
	"github.com/loginguard/loginguard/state"
)

// Tokens of the fixture.
const (
	ReadToken  = "read-token-4f1c9a7e2b"
	AdminToken = "admin-token-8d3e5b0c6a"
)

// Now is the fixture's clock.
var Now = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

// Attacker is the IP of the data set's credential-stuffing run.
const Attacker = "203.0.113.9"

// Fixture is a running admin API over real stores.
type Fixture struct {
	Store    logstore.Store
	State    *state.Memory
	Lockouts *Lockouts
	Handler  http.Handler
	Server   *httptest.Server
	// Events is the data set, in time order.
	Events []event.Event

	mu      sync.Mutex
	emitted []event.Event
}

// Emitted returns the events emitted so far (audit, lock and unlock events).
func (f *Fixture) Emitted() []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event.Event(nil), f.emitted...)
}

func (f *Fixture) emit(e event.Event) {
	f.mu.Lock()
	f.emitted = append(f.emitted, e)
	f.mu.Unlock()
}

// New opens a store in a temporary directory, fills it with Dataset (unless
// events are given) and serves the admin API. edit may change the options.
func New(t testing.TB, events []event.Event, edit func(*admin.Options)) *Fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "log.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("open sqlite log store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if events == nil {
		events = Dataset()
	}
	for i := 0; i < len(events); i += 5000 {
		if err := st.Deliver(ctx, events[i:min(len(events), i+5000)]); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	f := &Fixture{Store: st, Events: events}
	clock := func() time.Time { return Now }
	f.State = state.NewMemory(state.MemoryOptions{Options: state.Options{Now: clock}})
	t.Cleanup(func() { f.State.Close() })
	f.Lockouts = &Lockouts{State: f.State, Emit: f.emit, Now: clock}
	o := admin.Options{
		Store:    st,
		Lockouts: f.Lockouts,
		Connectors: func() []connectors.Stats {
			return []connectors.Stats{
				{Name: "logstore", Delivered: 57},
				{Name: "webhook", Queued: 3, Delivered: 50, Failed: 4, Dropped: 1, Spooled: 7, SpoolBytes: 4096, DeadLettered: 2, Disabled: true, LastError: "POST https://hooks.example.com: 503", LastErrorAt: Now.Add(-time.Minute)},
			}
		},
		Emit:   f.emit,
		Tokens: []admin.Token{{Hash: admin.HashToken(ReadToken), Scope: admin.ScopeRead}, {Hash: admin.HashToken(AdminToken), Scope: admin.ScopeAdmin, Name: "ops"}},
		Now:    clock,
		Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&o)
	}
	h, err := admin.New(o)
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	f.Handler = h
	f.Server = httptest.NewServer(h)
	t.Cleanup(f.Server.Close)
	return f
}

// Lockouts implements admin.Lockouts over a real state store, emitting lock
// and unlock events like the Caddy app does.
type Lockouts struct {
	State state.Store
	Emit  func(event.Event)
	Now   func() time.Time
}

func (l *Lockouts) accountEvent(account string, t event.Type, msg string) {
	ev := event.Event{ID: event.NewID(), EventDate: l.Now(), EventType: t, Message: &msg}
	if strings.Contains(account, "@") {
		ev.Source, ev.Email = event.SourcePortal, &account
	} else {
		ev.Source, ev.Principal = event.SourceManager, &account
	}
	l.Emit(ev)
}

// LockAccount locks and emits ACCOUNT_LOCKED.
func (l *Lockouts) LockAccount(ctx context.Context, account string, d time.Duration, by string) error {
	account = strings.ToLower(account)
	if err := l.State.Lock(ctx, account, d); err != nil {
		return err
	}
	l.accountEvent(account, event.AccountLocked, "Account "+account+" locked by "+by)
	return nil
}

// UnlockAccount unlocks and, when it was locked, emits ACCOUNT_UNLOCKED.
func (l *Lockouts) UnlockAccount(ctx context.Context, account, by string) (bool, error) {
	account = strings.ToLower(account)
	was, err := l.State.Unlock(ctx, account)
	if err == nil && was {
		l.accountEvent(account, event.AccountUnlocked, "Account "+account+" unlocked by "+by)
	}
	return was, err
}

// BlockIP blocks a range.
func (l *Lockouts) BlockIP(ctx context.Context, cidr string, d time.Duration, _ string) error {
	return l.State.Block(ctx, cidr, d)
}

// UnblockIP lifts a block.
func (l *Lockouts) UnblockIP(ctx context.Context, cidr, _ string) (bool, error) {
	return l.State.Unblock(ctx, cidr)
}

// LockedAccounts lists the locked accounts.
func (l *Lockouts) LockedAccounts(ctx context.Context) ([]state.AccountStatus, error) {
	return l.State.LockedAccounts(ctx)
}

// BlockedIPs lists the blocks.
func (l *Lockouts) BlockedIPs(ctx context.Context) ([]state.IPBlock, error) {
	return l.State.BlockedIPs(ctx)
}

// AccountStatus returns one account's state.
func (l *Lockouts) AccountStatus(ctx context.Context, account string) (state.AccountStatus, error) {
	return l.State.Status(ctx, strings.ToLower(account))
}

// V7 returns a UUIDv7 of the millisecond of at, its random bits seeded by n.
func V7(at time.Time, n int) string {
	var u uuid.UUID
	ms := at.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	r := rand.New(rand.NewPCG(uint64(n), 42))
	for i := 6; i < 16; i++ {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

// Event kinds for Dataset.
func portal(n int, at time.Time, email string, t event.Type, reason event.Reason, ip, portalID string) event.Event {
	e := event.Event{ID: V7(at, n), Source: event.SourcePortal, Email: event.Str(email), EventDate: at, EventType: t,
		RemoteAddress: ip, PortalID: event.Str(portalID), Reason: reason, UserAgent: "Mozilla/5.0", Host: "portal.example.com", Path: "/login"}
	if t == event.LoginFailure {
		if reason == event.BadCredentials {
			e.Message = event.Str("Account " + email + " failed authentication due to 1 failed login attempts")
			e.FailureCount = 1
		} else {
			e.Message = event.Str("Authentication failed -> " + string(reason))
		}
		e.ErrorType = event.Str("AuthenticationException")
	}
	return e
}

func manager(n int, at time.Time, principal string, t event.Type, reason event.Reason, ip string) event.Event {
	e := event.Event{ID: V7(at, n), Source: event.SourceManager, Principal: event.Str(principal), EventDate: at, EventType: t,
		RemoteAddress: ip, Reason: reason, Host: "manager.example.com", Path: "/auth"}
	if t == event.LoginFailure {
		e.Message = event.Str("Authentication failed -> " + string(reason))
	}
	return e
}

// Dataset returns the fixture's events in time order, relative to Now:
//
//   - alice@example.com (portal p1, "Alice Example", 10.0.0.1): on each of the
//     10 days before Now a failure (BAD_CREDENTIALS) at 08:59 and a success at
//     09:00; a logout the day before at 17:00; a success 2 hours ago (ACTIVE).
//     One more success 40 days ago, outside the default range.
//   - carol@example.com (portal p2, 10.0.0.5): success and logout 3 days ago
//     (LOGGED_OUT).
//   - bob (manager, 10.0.0.2): successes 1, 2, 3 days ago at 10:00; a DISABLED
//     failure 1 day ago at 11:00.
//   - Attacker: 12 failures in the last hour over v1..v4@example.net
//     (3 per account); v1@example.net also fails from 198.51.100.1 and .2.
//   - An injection attempt (manager, 10.0.0.3, 5 hours ago): principal,
//     display name, message, portal and user agent that begin with =, @, +, -.
//
// Location and device fields, as the enricher sets them: the attacker's
// address is in Amsterdam, NL, AS 64496 ("Example Hosting B.V."), its client
// a bot; 198.51.100.x is in San Francisco, CA, US, AS 64497 ("Example
// Transit"); the private 10.x addresses have no location; portal browsers
// (Mozilla/5.0) are desktops. Alice's successes carry her account id
// (AliceAccountID), as a portal reveals it on success only.
func Dataset() []event.Event {
	var evs []event.Event
	n := 0
	add := func(e event.Event) { evs = append(evs, e); n++ }
	day := func(d, h, m int) time.Time {
		y, mo, dd := Now.AddDate(0, 0, -d).Date()
		return time.Date(y, mo, dd, h, m, 0, 0, time.UTC)
	}
	add(portal(n, Now.AddDate(0, 0, -40), "alice@example.com", event.LoginSuccess, "", "10.0.0.1", "p1"))
	for d := 10; d >= 1; d-- {
		add(portal(n, day(d, 8, 59), "alice@example.com", event.LoginFailure, event.BadCredentials, "10.0.0.1", "p1"))
		s := portal(n, day(d, 9, 0), "alice@example.com", event.LoginSuccess, "", "10.0.0.1", "p1")
		s.DisplayName = event.Str("Alice Example")
		add(s)
		if d <= 3 {
			add(manager(n, day(d, 10, 0), "bob", event.LoginSuccess, "", "10.0.0.2"))
		}
		if d == 3 {
			add(portal(n, day(d, 10, 30), "carol@example.com", event.LoginSuccess, "", "10.0.0.5", "p2"))
			add(portal(n, day(d, 11, 30), "carol@example.com", event.Logout, "", "10.0.0.5", "p2"))
		}
		if d == 1 {
			add(manager(n, day(d, 11, 0), "bob", event.LoginFailure, event.Disabled, "10.0.0.2"))
			add(portal(n, day(d, 17, 0), "alice@example.com", event.Logout, "", "10.0.0.1", "p1"))
		}
	}
	inj := manager(n, Now.Add(-5*time.Hour), `=HYPERLINK("http://evil.example")`, event.LoginFailure, event.BadCredentials, "10.0.0.3")
	inj.DisplayName, inj.Message, inj.UserAgent = event.Str("@SUM(A1:A9)"), event.Str("+1-2"), "-cmd"
	add(inj)
	add(portal(n, Now.Add(-2*time.Hour), "alice@example.com", event.LoginSuccess, "", "10.0.0.1", "p1"))
	add(portal(n, Now.Add(-90*time.Minute), "v1@example.net", event.LoginFailure, event.BadCredentials, "198.51.100.1", "p1"))
	add(portal(n, Now.Add(-80*time.Minute), "v1@example.net", event.LoginFailure, event.BadCredentials, "198.51.100.2", "p1"))
	for i := range 12 {
		at := Now.Add(-50*time.Minute + time.Duration(i)*3*time.Minute)
		reason := event.BadCredentials
		if i%4 == 3 {
			reason = event.AccountNotFound
		}
		add(portal(n, at, fmt.Sprintf("v%d@example.net", i%4+1), event.LoginFailure, reason, Attacker, "p1"))
	}
	for i := range evs {
		enrich(&evs[i])
	}
	return evs
}

// AliceAccountID is the account id the portal reveals on Alice's successes.
const AliceAccountID = "123e4567-e89b-12d3-a456-426614174000"

// enrich sets e's location and device fields and Alice's account id, as
// Dataset documents.
func enrich(e *event.Event) {
	switch {
	case e.RemoteAddress == Attacker:
		e.Geo = event.Geo{Country: "NL", RegionCode: "NH", Region: "North Holland", City: "Amsterdam", Latitude: 52.3759, Longitude: 4.8975,
			ASN: 64496, ASOrg: "Example Hosting B.V."}
		e.Device = event.Device{Browser: "python-requests", DeviceType: event.DeviceBot, Bot: true}
		return
	case strings.HasPrefix(e.RemoteAddress, "198.51.100."):
		e.Geo = event.Geo{Country: "US", RegionCode: "CA", Region: "California", City: "San Francisco", ASN: 64497, ASOrg: "Example Transit"}
	}
	if e.UserAgent == "Mozilla/5.0" {
		e.Device = event.Device{Browser: "Firefox", OS: "Linux", DeviceType: event.DeviceDesktop}
	}
	if event.Value(e.Email) == "alice@example.com" && e.EventType == event.LoginSuccess {
		e.AccountID = event.Str(AliceAccountID)
	}
}

// Bulk returns n portal events, one a second from start: 4 in 5 successes,
// users user0..user999@example.com.
func Bulk(n int, start time.Time) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		at := start.Add(time.Duration(i) * time.Second)
		t := event.LoginSuccess
		if i%5 == 0 {
			t = event.LoginFailure
		}
		evs[i] = portal(i, at, fmt.Sprintf("user%d@example.com", i%1000), t, "", fmt.Sprintf("10.1.%d.%d", i/250%250, i%250), "p1")
		if t == event.LoginFailure {
			evs[i].Reason = event.BadCredentials
			evs[i].Message = event.Str("Account " + event.Value(evs[i].Email) + " failed authentication due to 1 failed login attempts")
		}
	}
	return evs
}

// Breached is the identity of Flagged's logins with a breached password.
const Breached = "dave@example.com"

// Flagged returns Dataset with, in time order, the attempts of a route in
// monitor mode and of breached passwords:
//
//   - carol@example.com (portal p2, 10.0.0.5), a route in monitor mode:
//     refusals it did not make 6 hours before Now: two LOCKED (the second a
//     sampled one standing for 3 attempts) and one RATE_LIMITED 5 hours
//     before Now: 5 attempts with wouldRefuse, 3 events. Each went on to
//     the portal.
//   - dave@example.com (portal p1, 10.0.0.6) logs in with a breached password
//     2 days and 4 hours before Now (two successes), after a failure with it
//     4 hours before Now at :59: 3 attempts with passwordBreached, 2 of them
//     successful.
//   - The attacker's BREACHED_PASSWORD refusal of v1@example.net 30 minutes
//     before Now (a route refusing breached passwords, enforcing): a
//     refusal made, with passwordBreached.
func Flagged() []event.Event {
	evs := Dataset()
	n := 5000
	add := func(e event.Event) { evs = append(evs, e); n++ }
	for i, r := range []event.Reason{event.Locked, event.Locked, event.RateLimited} {
		at := Now.Add(-6*time.Hour + time.Duration(i)*30*time.Minute)
		e := portal(n, at, "carol@example.com", event.LoginFailure, r, "10.0.0.5", "p2")
		e.WouldRefuse = r
		if i == 1 {
			e.Count = 3
		}
		add(e)
	}
	for _, at := range []time.Time{Now.Add(-52 * time.Hour), Now.Add(-4*time.Hour - time.Minute), Now.Add(-4 * time.Hour)} {
		t := event.LoginSuccess
		if at.Minute() == 59 {
			t = event.LoginFailure
		}
		reason := event.Reason("")
		if t == event.LoginFailure {
			reason = event.BadCredentials
		}
		e := portal(n, at, Breached, t, reason, "10.0.0.6", "p1")
		e.PasswordBreached = true
		add(e)
	}
	e := portal(n, Now.Add(-30*time.Minute), "v1@example.net", event.LoginFailure, event.BreachedPassword, Attacker, "p1")
	e.PasswordBreached = true
	add(e)
	for i := range evs {
		enrich(&evs[i])
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.EventDate.Compare(b.EventDate) })
	return evs
}
