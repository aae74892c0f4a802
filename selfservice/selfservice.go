// Package selfservice is the "your recent sign-ins" page that a portal's own
// users see: the last successful and failed logins of the account they are
// logged in as, read from the login log store, as JSON or as a small HTML
// table the portal can embed.
//
// Who the user is comes from elsewhere (the Caddy handler loginguard_me finds
// the session that the user's login left behind, by the hash of the portal's
// session cookie); this package only reads and shows that owner's events.
// Every event shown passes Owner.Owns, whatever the store answered, so a
// filter the store ignores or widens cannot show another account's events.
//
// What a row shows: when (UTC), success or failure and why (a short text for
// the event's reason, never the event's message, which may name other
// accounts), where (the event's Geo.Place(), "City, Region, CC"), the device
// (browser, OS and device type read from the user agent, else the user agent
// itself) and the client IP address. A failure is shown to the account's
// owner whoever made it: that is the point (someone guessing at your
// password).
package selfservice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// Owner is the account whose sign-ins are shown: the identity as login events
// carry it (the canonical email for portal routes, the principal for manager
// routes), the source of the login route and, for portal routes, its portal id.
type Owner struct {
	Source event.Source
	// Identity is the event's email (compared ignoring case) or principal
	// (compared exactly). It must not be empty.
	Identity string
	// PortalID is the portalId of the login route ("" for none); portal
	// events must carry the same one. Manager events carry none.
	PortalID string
}

// errNoOwner is returned for an Owner that would select nobody, or everybody.
var errNoOwner = errors.New("selfservice: no owner (empty identity or unknown source)")

func (o Owner) valid() bool {
	return o.Identity != "" && (o.Source == event.SourcePortal || o.Source == event.SourceManager)
}

// Owns reports whether ev is one of o's logins or login failures.
func (o Owner) Owns(ev event.Event) bool {
	if !o.valid() || ev.Source != o.Source {
		return false
	}
	if ev.EventType != event.LoginSuccess && ev.EventType != event.LoginFailure {
		return false
	}
	if o.Source == event.SourceManager {
		return ev.Principal != nil && *ev.Principal == o.Identity
	}
	portal := ""
	if ev.PortalID != nil {
		portal = *ev.PortalID
	}
	return ev.Email != nil && strings.EqualFold(*ev.Email, o.Identity) && portal == o.PortalID
}

// filter is the store filter of o's logins since since.
func (o Owner) filter(since time.Time) logstore.Filter {
	f := logstore.Filter{
		From:       since,
		Source:     o.Source,
		PortalID:   o.PortalID,
		EventTypes: []event.Type{event.LoginSuccess, event.LoginFailure},
	}
	if o.Source == event.SourceManager {
		f.Principal = o.Identity
	} else {
		f.Email = o.Identity
	}
	return f
}

// Querier is the part of a login log store that Recent reads
// (logstore.Store has it).
type Querier interface {
	Query(ctx context.Context, f logstore.Filter, p logstore.Page) (logstore.PageResult, error)
}

// Query bounds what Recent reads.
type Query struct {
	// Limit is the most logins returned. Default (0): DefaultLimit.
	Limit int
	// Since is the oldest event date returned; zero is unbounded.
	Since time.Time
}

// Defaults and bounds of Query.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
	// maxPages bounds the store pages read to fill Limit when the store
	// returned events that Owns refused (only a store that ignores a filter
	// would).
	maxPages = 5
)

// View is what the page shows.
type View struct {
	// Identity is the owner's email or principal.
	Identity string `json:"identity"`
	// DisplayName is the newest display name the owner's logins carry.
	DisplayName string `json:"displayName,omitempty"`
	// Since is the oldest date the page looked at (zero: unbounded).
	Since time.Time `json:"since,omitzero"`
	// Logins are the owner's logins and login failures, newest first.
	Logins []Login `json:"logins"`
}

// Login is one row of the page.
type Login struct {
	Time    time.Time `json:"time"`
	Success bool      `json:"success"`
	// Reason is the failure's reason (empty for a success) and ReasonText
	// says it in a few words.
	Reason     event.Reason `json:"reason,omitempty"`
	ReasonText string       `json:"reasonText,omitempty"`
	IP         string       `json:"ip,omitempty"`
	// Location is "City, Region, CC", the parts that are known (event.Geo.Place).
	Location   string `json:"location,omitempty"`
	Browser    string `json:"browser,omitempty"`
	OS         string `json:"os,omitempty"`
	DeviceType string `json:"deviceType,omitempty"`
	// UserAgent is the client's User-Agent header, cut to maxUserAgent bytes.
	UserAgent string `json:"userAgent,omitempty"`
}

// maxUserAgent bounds the user agent shown in a row.
const maxUserAgent = 200

// Recent returns the newest logins of o since q.Since, at most q.Limit of
// them, read from s newest first.
func Recent(ctx context.Context, s Querier, o Owner, q Query) (View, error) {
	if !o.valid() {
		return View{}, errNoOwner
	}
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	v := View{Identity: o.Identity, Since: q.Since, Logins: []Login{}}
	f := o.filter(q.Since)
	for page := 0; page < maxPages && len(v.Logins) < q.Limit; page++ {
		res, err := s.Query(ctx, f, logstore.Page{Number: page, Size: q.Limit})
		if err != nil {
			return View{}, fmt.Errorf("reading the login log: %w", err)
		}
		for _, ev := range res.Content {
			if !o.Owns(ev) || len(v.Logins) == q.Limit {
				continue
			}
			if v.DisplayName == "" && ev.DisplayName != nil {
				v.DisplayName = *ev.DisplayName
			}
			v.Logins = append(v.Logins, row(ev))
		}
		if len(res.Content) < q.Limit || int64((page+1)*q.Limit) >= res.TotalElements {
			break
		}
	}
	return v, nil
}

// row is the page's row of ev.
func row(ev event.Event) Login {
	l := Login{
		Time:       ev.EventDate.UTC(),
		Success:    ev.EventType == event.LoginSuccess,
		IP:         ev.RemoteAddress,
		Location:   ev.Geo.Place(),
		Browser:    ev.Browser,
		OS:         ev.OS,
		DeviceType: ev.DeviceType,
		UserAgent:  cut(ev.UserAgent, maxUserAgent),
	}
	if !l.Success {
		l.Reason = ev.Reason
		if l.Reason == "" {
			l.Reason = event.Unknown
		}
		l.ReasonText = ReasonText(l.Reason)
	}
	return l
}

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// reasonTexts say each failure reason to the account's owner.
var reasonTexts = map[event.Reason]string{
	event.BadCredentials:        "Wrong password",
	event.AccountNotFound:       "Unknown account",
	event.Disabled:              "Account disabled",
	event.WaitingForApprovement: "Account waiting for approval",
	event.ConfirmationNeeded:    "Email address not confirmed",
	event.Rejected:              "Account application rejected",
	event.NotApproved:           "Account not approved",
	event.MFARequired:           "Second factor required",
	event.MFAFailed:             "Wrong second factor",
	event.Locked:                "Refused: account locked after too many failures",
	event.RateLimited:           "Refused: too many attempts",
	event.UpstreamError:         "The portal could not answer",
	event.AmbiguousPrincipal:    "Refused: malformed login request",
	event.MissingPrincipal:      "Refused: malformed login request",
	event.BreachedPassword:      "Refused: the password appeared in a data breach",
}

// ReasonText says reason in a few words for the account's owner ("Failed"
// for a reason it does not know).
func ReasonText(reason event.Reason) string {
	if t, ok := reasonTexts[reason]; ok {
		return t
	}
	return "Failed"
}

// Device says what the client was in a few words: "Chrome on Windows
// (desktop)", the parts that are known; else the user agent; else
// "Unknown device".
func (l Login) Device() string {
	var b strings.Builder
	b.WriteString(l.Browser)
	if l.OS != "" {
		if b.Len() > 0 {
			b.WriteString(" on ")
		}
		b.WriteString(l.OS)
	}
	if l.DeviceType != "" {
		if b.Len() > 0 {
			b.WriteString(" (" + l.DeviceType + ")")
		} else {
			b.WriteString(l.DeviceType)
		}
	}
	switch {
	case b.Len() > 0:
		return b.String()
	case l.UserAgent != "":
		return l.UserAgent
	}
	return "Unknown device"
}
