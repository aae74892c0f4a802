// Package logstore defines the login log store: where every login event is kept
// so that the admin API can search it, export it, compute statistics and find
// suspicious activity. A Store is also a connectors.Connector, so the dispatcher
// feeds it like any other sink. Implementations live in the sqlite and postgres
// sub-packages and share one conformance suite in storetest.
package logstore

import (
	"context"
	"strconv"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// Store keeps login events. All methods are safe for concurrent use. Event dates
// are kept with millisecond precision. Every filter value is bound as a query
// parameter, never spliced into SQL.
type Store interface {
	// Deliver stores a batch in one transaction. Redelivery of an event id already
	// stored is a no-op, so the dispatcher may retry a batch freely.
	connectors.Connector

	// Query returns one page of the events matching f, newest first unless p.Asc,
	// with the number of all matching events.
	Query(ctx context.Context, f Filter, p Page) (PageResult, error)
	// Get returns the event with the given id, or with the given sequence
	// number (decimal, see ParseSeq), and whether it exists.
	Get(ctx context.Context, id string) (event.Event, bool, error)
	// Each calls fn for every event matching f, in date order (ascending when asc),
	// in constant memory. An error from fn stops the walk and is returned.
	Each(ctx context.Context, f Filter, asc bool, fn func(event.Event) error) error
	// Stats summarises the login attempts in [from, to); top bounds each
	// of its lists (users, IPs, countries, ASNs, device types).
	Stats(ctx context.Context, from, to time.Time, interval Interval, top int) (Stats, error)
	// Users lists per-identity login activity, most recently active first.
	Users(ctx context.Context, f UsersFilter) ([]UserSummary, int64, error)
	// Suspicious finds brute-force and credential-stuffing patterns since q.Since.
	Suspicious(ctx context.Context, q SuspiciousQuery) (Suspicious, error)
	// Principal calls fn for every event of one identity (a principal, or an
	// email compared case-insensitively), oldest first: a data-access request.
	Principal(ctx context.Context, identity string, fn func(event.Event) error) error
	// Erase removes one identity from the log: with pseudonym "" the principal,
	// email and display name of its events become null; otherwise they become
	// pseudonym. It returns the number of events changed.
	Erase(ctx context.Context, identity, pseudonym string) (int64, error)
	// DeleteBefore deletes the events dated before t, batch events per
	// transaction, and returns how many it deleted.
	DeleteBefore(ctx context.Context, t time.Time, batch int) (int64, error)
}

// Status filters login attempts by outcome.
type Status string

// Statuses.
const (
	StatusSuccess Status = "SUCCESS" // eventType LOGIN_SUCCESS
	StatusFailure Status = "FAILURE" // eventType LOGIN_FAILURE
)

// Filter selects events. Zero fields do not filter.
type Filter struct {
	// From and To bound eventDate to [From, To); a zero time is unbounded.
	From, To time.Time
	// Email matches the email exactly, ignoring case.
	Email string
	// IP matches remoteAddress exactly.
	IP string
	// Status keeps only LOGIN_SUCCESS or LOGIN_FAILURE events.
	Status Status
	// EventTypes keeps only events of these types.
	EventTypes []event.Type
	// Source, PortalID, Reason and Principal match exactly.
	Source    event.Source
	PortalID  string
	Reason    event.Reason
	Principal string
	// Country matches the ISO 3166-1 alpha-2 country code of the remote
	// address (event.Geo.Country), ignoring case.
	Country string
	// ASN matches the autonomous system number (event.Geo.ASN).
	ASN int64
	// DeviceType matches event.Device.DeviceType exactly ("desktop",
	// "mobile", "tablet", "tv", "bot").
	DeviceType string
	// WouldRefuse keeps only the refusals a route in monitor mode did not
	// make (event.Event.WouldRefuse): AnyReason keeps all of them, a reason
	// those enforce mode would have refused with that reason.
	WouldRefuse event.Reason
	// Breached keeps only the events whose password is breached
	// (event.Event.PasswordBreached).
	Breached bool
}

// AnyReason as Filter.WouldRefuse matches every reason.
const AnyReason event.Reason = "*"

// Page selects one page of a result.
type Page struct {
	// Number is the 0-based page number.
	Number int
	// Size is the page size. Default (0): 20.
	Size int
	// Asc sorts oldest first; the default is newest first.
	Asc bool
}

// DefaultPageSize is the page size used when Page.Size is not positive.
const DefaultPageSize = 20

// PageResult is one page of events and the number of all matching events.
type PageResult struct {
	Content       []event.Event
	TotalElements int64
}

// Interval is the width of a statistics time-series bucket.
type Interval int

// Intervals.
const (
	Hour Interval = iota
	Day
)

// Count is a key with a count: a user's attempts or an IP's failures.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// ReasonCount is the number of failures with one reason.
type ReasonCount struct {
	Reason event.Reason `json:"reason"`
	Count  int64        `json:"count"`
}

// Bucket is one time-series point: the attempts (see Stats) of one hour or
// day.
type Bucket struct {
	Start     time.Time `json:"start"`
	Successes int64     `json:"successes"`
	// Failures counts the failed attempts, refused ones included.
	Failures int64 `json:"failures"`
	// Refused counts the attempts the gateway refused (RefusalReasons), a
	// part of Failures.
	Refused int64 `json:"refused"`
	// WouldRefuse counts the refusals a route in monitor mode did not make
	// (event.Event.WouldRefuse), a part of Failures apart from Refused.
	WouldRefuse int64 `json:"wouldRefuse"`
	// Breached counts the attempts with a breached password, successful or
	// not (event.Event.PasswordBreached).
	Breached int64 `json:"breached"`
}

// RefusalReasons are the reasons of the attempts the gateway answered itself
// without letting them reach the portal: a locked account, a rate limit or
// blocked address, a request naming no account or more than one, a breached
// password on a route that refuses those. They are failures, counted apart as
// "refused" in Stats. A route in monitor mode refuses nothing: its events of
// these reasons carry WouldRefuse and are counted apart again, as
// "wouldRefuse".
var RefusalReasons = []event.Reason{event.Locked, event.RateLimited, event.AmbiguousPrincipal, event.MissingPrincipal, event.BreachedPassword}

// IsRefusal reports whether r is one of RefusalReasons.
func IsRefusal(r event.Reason) bool {
	for _, x := range RefusalReasons {
		if x == r {
			return true
		}
	}
	return false
}

// Stats summarises login attempts.
//
// An attempt is a login request that reached loginguard, refused by the
// gateway or not. Each LOGIN_SUCCESS or LOGIN_FAILURE event stands for
// event.Event.Attempts() of them: one, or for a sampled refusal the refusals
// it carries. Every count below is of attempts, the sum of those numbers,
// except Events, which counts the stored events behind them. Logouts, locks,
// unlocks and alerts are not attempts.
type Stats struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Total counts the attempts: Successes + Failures.
	Total     int64 `json:"total"`
	Successes int64 `json:"successes"`
	// Failures counts the failed attempts, refused ones included.
	Failures int64 `json:"failures"`
	// Refused counts the attempts the gateway refused (RefusalReasons): a
	// part of Failures. The refusals a route in monitor mode did not make
	// are not in it: they are WouldRefuse.
	Refused int64 `json:"refused"`
	// WouldRefuse counts the refusals a route in monitor mode did not make
	// (event.Event.WouldRefuse: the attempt went on to the portal): a part
	// of Failures beside Refused, what enforce mode would add to it.
	WouldRefuse int64 `json:"wouldRefuse"`
	// Breached counts the attempts whose password is breached
	// (event.Event.PasswordBreached), successful or not; BreachedSuccesses
	// the successful ones among them: logins that worked with a password
	// known to attackers.
	Breached          int64 `json:"breached"`
	BreachedSuccesses int64 `json:"breachedSuccesses"`
	// Events counts the LOGIN_SUCCESS and LOGIN_FAILURE events stored for
	// the Total attempts; fewer when refusals were sampled.
	Events      int64         `json:"events"`
	SuccessRate float64       `json:"successRate"` // successes/total, 0 when total is 0
	ByReason    []ReasonCount `json:"byReason"`    // failed attempts by reason, most first
	// RefusedByReason counts the refused attempts (Refused) by reason, most
	// first.
	RefusedByReason []ReasonCount `json:"refusedByReason"`
	// WouldRefuseByReason counts the refusals a route in monitor mode did not
	// make (WouldRefuse) by the reason enforce mode would have refused with,
	// most first.
	WouldRefuseByReason []ReasonCount `json:"wouldRefuseByReason"`
	TopUsers            []Count       `json:"topUsers"` // identities with most attempts
	TopIPs              []Count       `json:"topIps"`   // remote addresses with most failed attempts
	Series              []Bucket      `json:"series"`   // every bucket of [From, To), UTC
	ByHour              [24]int64     `json:"byHour"`   // attempts by UTC hour of day
	// ByCountry counts the attempts per country of the remote address
	// (event.Geo.Country), most attempts first, the top ones only. Attempts
	// without a country are not listed: they are Total minus the sum.
	ByCountry []CountryCount `json:"byCountry"`
	// TopASNs counts the failures per autonomous system of the remote
	// address (event.Geo.ASN), most first, the top ones only.
	TopASNs []ASNCount `json:"topAsns"`
	// ByDeviceType counts the attempts per device type
	// (event.Device.DeviceType), most attempts first, the top ones only;
	// attempts of an unknown device type are not listed.
	ByDeviceType []DeviceCount `json:"byDeviceType"`
}

// CountryCount is the attempts from one country.
type CountryCount struct {
	// Country is the ISO 3166-1 alpha-2 code, upper case.
	Country   string `json:"country"`
	Attempts  int64  `json:"attempts"`
	Successes int64  `json:"successes"`
	Failures  int64  `json:"failures"`
}

// ASNCount is the failures from one autonomous system.
type ASNCount struct {
	ASN int64 `json:"asn"`
	// Org is the AS organisation the failures of the range name most often
	// ("" when none names one).
	Org      string `json:"org"`
	Failures int64  `json:"failures"`
}

// DeviceCount is the attempts from one device type.
type DeviceCount struct {
	// DeviceType is one of the event.Device* types ("desktop", "bot", ...).
	DeviceType string `json:"deviceType"`
	Attempts   int64  `json:"attempts"`
	Successes  int64  `json:"successes"`
	Failures   int64  `json:"failures"`
}

// UsersFilter selects and pages identities.
type UsersFilter struct {
	// Search keeps identities containing this text, ignoring case.
	Search string
	// Number is the 0-based page number; Size the page size (default 20).
	Number, Size int
}

// UserSummary is one identity's login activity, as the user login activity
// page shows it (last login, last logout, ...). Times are zero when the
// identity has no such event. Whether the account is locked comes from the
// state store, not from here.
type UserSummary struct {
	Identity    string       `json:"identity"`
	Source      event.Source `json:"source"`
	DisplayName string       `json:"displayName,omitempty"`
	LastSeen    time.Time    `json:"lastSeen"`
	LastLogin   time.Time    `json:"lastLogin"`
	LastLogout  time.Time    `json:"lastLogout"`
	LastFailure time.Time    `json:"lastFailure"`
	LastIP      string       `json:"lastIp"`
	// FailuresSinceSuccess counts the failed attempts after the last
	// successful login: a sampled refusal counts the refusals it stands for
	// (event.Event.Attempts).
	FailuresSinceSuccess int64 `json:"failuresSinceSuccess"`
	// Active is true when the last successful login is newer than the last logout.
	Active bool `json:"active"`
	// BreachedAttempts counts the identity's attempts whose password is
	// breached (event.Event.PasswordBreached), successful or not, and
	// BreachedSuccesses the successful ones among them, over the events the
	// log has held (retention does not lower them).
	BreachedAttempts  int64 `json:"breachedAttempts"`
	BreachedSuccesses int64 `json:"breachedSuccesses"`
}

// SuspiciousQuery sets the window and thresholds of Suspicious.
type SuspiciousQuery struct {
	// Since starts the window; zero means the last hour.
	Since time.Time
	// MinIPFailures lists IPs with at least this many failures. Default 10.
	MinIPFailures int
	// MinAccountIPs lists accounts that failed from at least this many IPs. Default 3.
	MinAccountIPs int
	// MinIPAccounts lists IPs that failed on at least this many accounts. Default 3.
	MinIPAccounts int
	// Limit caps each list. Default 100.
	Limit int
}

// Defaults of SuspiciousQuery.
const (
	DefaultMinIPFailures = 10
	DefaultMinAccountIPs = 3
	DefaultMinIPAccounts = 3
	DefaultSuspectLimit  = 100
)

// WithDefaults returns q with zero fields set to their defaults, given now.
func (q SuspiciousQuery) WithDefaults(now time.Time) SuspiciousQuery {
	if q.Since.IsZero() {
		q.Since = now.Add(-time.Hour)
	}
	if q.MinIPFailures <= 0 {
		q.MinIPFailures = DefaultMinIPFailures
	}
	if q.MinAccountIPs <= 0 {
		q.MinAccountIPs = DefaultMinAccountIPs
	}
	if q.MinIPAccounts <= 0 {
		q.MinIPAccounts = DefaultMinIPAccounts
	}
	if q.Limit <= 0 {
		q.Limit = DefaultSuspectLimit
	}
	return q
}

// SuspectIP is an IP with failures in the window. Failures counts failed
// attempts (a sampled refusal counts the refusals it stands for), Accounts
// distinct identities.
type SuspectIP struct {
	IP       string    `json:"ip"`
	Failures int64     `json:"failures"`
	Accounts int64     `json:"accounts"` // distinct identities tried
	Last     time.Time `json:"last"`
}

// SuspectAccount is an identity that failed from several IPs in the window.
// Failures counts failed attempts, as SuspectIP's does.
type SuspectAccount struct {
	Identity string    `json:"identity"`
	Failures int64     `json:"failures"`
	IPs      int64     `json:"ips"` // distinct IPs
	Last     time.Time `json:"last"`
}

// GuessingReasons are the failures that guess at an account: only they count in
// Suspicious. A right password on an account that is not active (DISABLED,
// REJECTED, CONFIRMATION_NEEDED, …) is not an attack; a breached password
// refused by the gateway is one (credential stuffing tries breached
// passwords).
var GuessingReasons = []event.Reason{
	event.BadCredentials, event.AccountNotFound, event.Locked, event.MFAFailed, event.AmbiguousPrincipal, event.BreachedPassword,
}

// Suspicious is what Suspicious found, from the failures of GuessingReasons;
// each list is sorted by its count, most first.
type Suspicious struct {
	Since time.Time `json:"since"`
	// FailingIPs have at least MinIPFailures failures.
	FailingIPs []SuspectIP `json:"failingIps"`
	// AttackedAccounts failed from at least MinAccountIPs distinct IPs.
	AttackedAccounts []SuspectAccount `json:"attackedAccounts"`
	// SprayingIPs failed on at least MinIPAccounts distinct identities.
	SprayingIPs []SuspectIP `json:"sprayingIps"`
}

// ParseSeq reports whether id is a sequence number (event.Event.Seq) rather
// than an event id: decimal digits with no sign or leading zero, at least 1.
// A UUID never parses as one.
func ParseSeq(id string) (int64, bool) {
	if id == "" || id[0] == '0' || len(id) > 19 {
		return 0, false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n >= 1
}
