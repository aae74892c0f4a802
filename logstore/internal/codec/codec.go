// Package codec holds the compact encodings and the aggregation code shared by
// the log store implementations: packed type/source/reason codes, time-ordered
// row keys, event ids split against their date, message templates, varint
// blobs (keys here, counts in counts.go), and the accumulators behind Stats,
// Users and Suspicious.
package codec

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// SeqBits is the number of low key bits that order events of one millisecond.
const SeqBits = 12

// MaxSeq is the largest sequence number within one millisecond.
const MaxSeq = 1<<SeqBits - 1

// Key returns the row key of an event dated ms with sequence seq.
func Key(ms int64, seq int) int64 { return ms<<SeqBits | int64(seq) }

// KeyOf returns the first key at or after t; the zero time gives the smallest key.
func KeyOf(t time.Time) int64 {
	if t.IsZero() {
		return minKey
	}
	return Key(clampMs(t.UnixMilli()), 0)
}

// KeyEnd returns the first key at or after t, or the largest key for the zero time.
func KeyEnd(t time.Time) int64 {
	if t.IsZero() {
		return maxKey
	}
	return Key(clampMs(t.UnixMilli()), 0)
}

const (
	maxMs  = 1 << (62 - SeqBits)
	minKey = -maxMs << SeqBits
	maxKey = maxMs<<SeqBits - 1
)

func clampMs(ms int64) int64 {
	return max(min(ms, maxMs-1), -maxMs)
}

// ValidMs reports whether ms can be stored in a key.
func ValidMs(ms int64) bool { return ms > -maxMs && ms < maxMs-1 }

// Ms returns the millisecond of a key.
func Ms(k int64) int64 { return k >> SeqBits }

// Time returns the date of a key, in UTC.
func Time(k int64) time.Time { return time.UnixMilli(Ms(k)).UTC() }

// Type, source and reason codes. A code packs, from the low bits:
//
//	bits   field          values
//	0-2    type           0 none, 1-5 the types below, 7 a type this version does not know
//	3-4    source         0 none, 1-2 the sources below, 3 unknown
//	5-9    reason         0 none, 1-30 the place in event.Reasons plus one, 31 unknown
//	10-14  wouldRefuse    as reason (event.Event.WouldRefuse)
//	15     breached       event.Event.PasswordBreached
//
// A value this version does not know is kept verbatim elsewhere (see Extra).
// Stores that keep a code in one column (SQLite) and the rollups keep all
// 16 bits, so that a rollup counts monitored refusals and breached passwords
// apart; the PostgreSQL store keeps bits 0-9 in events.code and the rest in
// events.flags.
//
// Before the reason field had 5 bits (SQLite format 5 and earlier) it had 4,
// and 15 meant both MISSING_PRINCIPAL and "unknown", told apart by the extra
// string an unknown reason carries. Such rows decode right (from their extra
// string), but a filter on MISSING_PRINCIPAL finds them too.
const (
	typeOther   = 7
	sourceOther = 3
	reasonOther = 31
	TypeMask    = 7
	SourceShift = 3
	// ReasonShift and ReasonMask place the reason field; WouldShift the
	// wouldRefuse field (same mask).
	ReasonShift = 5
	ReasonMask  = 31
	WouldShift  = 10
	// BreachedBit is set in the code of an event whose password is breached.
	BreachedBit = 1 << 15
	// LowBits are the bits of the type, source and reason: the PostgreSQL
	// store's events.code.
	LowBits = 1<<WouldShift - 1
)

// SQL expressions of a code column named code.
const (
	// ReasonSQL is the reason field.
	ReasonSQL = "((code >> 5) & 31)"
	// WouldSQL is the wouldRefuse field: 0 when the event has none.
	WouldSQL = "((code >> 10) & 31)"
	// BreachedSQL is the breached bit: 0 or BreachedBit.
	BreachedSQL = "(code & 32768)"
)

var types = []event.Type{"", event.LoginSuccess, event.LoginFailure, event.Logout, event.AccountLocked, event.AccountUnlocked}

var sources = []event.Source{"", event.SourceManager, event.SourcePortal}

// Type codes of the two attempt types.
var (
	SuccessCode = TypeCode(event.LoginSuccess)
	FailureCode = TypeCode(event.LoginFailure)
)

// TypeCode returns the code of t, or -1 when t is unknown.
func TypeCode(t event.Type) int64 {
	for i, v := range types {
		if v == t {
			return int64(i)
		}
	}
	return -1
}

// SourceCode returns the code of s, or -1 when s is unknown.
func SourceCode(s event.Source) int64 {
	for i, v := range sources {
		if v == s {
			return int64(i)
		}
	}
	return -1
}

// ReasonCode returns the code of r, or -1 when r is unknown.
func ReasonCode(r event.Reason) int64 {
	if r == "" {
		return 0
	}
	for i, v := range event.Reasons {
		if v == r {
			return int64(i + 1)
		}
	}
	return -1
}

// GuessingCodes is the SQL list of the reason codes of logstore.GuessingReasons,
// e.g. "(1, 2, 10, 9, 14)".
var GuessingCodes = func() string {
	s := make([]string, len(logstore.GuessingReasons))
	for i, r := range logstore.GuessingReasons {
		s[i] = strconv.FormatInt(ReasonCode(r), 10)
	}
	return "(" + strings.Join(s, ", ") + ")"
}()

// reasonOf returns the reason of a field's value; "" for 0 and for unknown.
func reasonOf(v int64) event.Reason {
	if v >= 1 && int(v) <= len(event.Reasons) {
		return event.Reasons[v-1]
	}
	return ""
}

// ReasonOf returns the reason of a code's reason field.
func ReasonOf(c int64) event.Reason { return reasonOf(c >> ReasonShift & ReasonMask) }

// WouldRefuseOf returns the reason of a code's wouldRefuse field ("" when the
// event has none, or one this version does not know).
func WouldRefuseOf(c int64) event.Reason { return reasonOf(c >> WouldShift & ReasonMask) }

// HasWouldRefuse reports whether a code's event has a wouldRefuse.
func HasWouldRefuse(c int64) bool { return c>>WouldShift&ReasonMask != 0 }

// Breached reports whether a code's event has PasswordBreached.
func Breached(c int64) bool { return c&BreachedBit != 0 }

// Code packs an event's type, source, reason, wouldRefuse and breached
// password. extra is non-empty when one of the first four is unknown to this
// version: it holds the type, source and reason verbatim, and the
// wouldRefuse when it is not empty, as a JSON array of strings.
func Code(e *event.Event) (code int64, extra string) {
	t, s, r, w := TypeCode(e.EventType), SourceCode(e.Source), ReasonCode(e.Reason), ReasonCode(e.WouldRefuse)
	if t < 0 || s < 0 || r < 0 || w < 0 {
		v := []string{string(e.EventType), string(e.Source), string(e.Reason)}
		if e.WouldRefuse != "" {
			v = append(v, string(e.WouldRefuse))
		}
		b, _ := json.Marshal(v)
		extra = string(b)
	}
	if t < 0 {
		t = typeOther
	}
	if s < 0 {
		s = sourceOther
	}
	if r < 0 {
		r = reasonOther
	}
	if w < 0 {
		w = reasonOther
	}
	code = t | s<<SourceShift | r<<ReasonShift | w<<WouldShift
	if e.PasswordBreached {
		code |= BreachedBit
	}
	return code, extra
}

// ExtraRange returns the range [lo, hi) of the extra strings (see Code) of the
// events of a type unknown to this version, in byte order: each starts with
// the JSON string of its type, so a filter on such a type looks its extra
// strings up in the dictionary and matches them.
func ExtraRange(t event.Type) (lo, hi string) {
	b, _ := json.Marshal(string(t))
	lo = "[" + string(b) + ","
	return lo, lo[:len(lo)-1] + "-" // ',' + 1
}

// Decode sets the type, source, reason, wouldRefuse and breached password of
// e from code and extra.
func Decode(e *event.Event, code int64, extra string) {
	e.PasswordBreached = Breached(code)
	e.WouldRefuse = WouldRefuseOf(code)
	if extra != "" {
		var p []string
		if json.Unmarshal([]byte(extra), &p) == nil && len(p) >= 3 {
			e.EventType, e.Source, e.Reason = event.Type(p[0]), event.Source(p[1]), event.Reason(p[2])
			if len(p) >= 4 {
				e.WouldRefuse = event.Reason(p[3])
			}
			return
		}
	}
	if t := code & TypeMask; int(t) < len(types) {
		e.EventType = types[t]
	}
	if s := code >> SourceShift & 3; int(s) < len(sources) {
		e.Source = sources[s]
	}
	e.Reason = ReasonOf(code)
}

// maxIDDelta bounds how far a UUIDv7 id's own millisecond may be from the event
// date for the id to be stored in its short form.
const maxIDDelta = 4095

// Id forms: a short id starts with the UUID's version byte (0x7_); the others
// with a marker byte.
const (
	idUUID byte = 0
	idText byte = 1
)

// SplitID encodes id for an event dated ms. A lower-case UUIDv7 whose own
// millisecond is within maxIDDelta of ms is short: its last 10 bytes plus the
// delta as a varint when not 0, since the rest is the key's millisecond. Any
// other id is long (and needs an id index entry).
func SplitID(id string, ms int64) (b []byte, short bool) {
	if u, ok := parseUUID(id); ok {
		if u.Version() == 7 {
			d := uuidMs(u) - ms
			if d >= -maxIDDelta && d <= maxIDDelta {
				b = append(make([]byte, 0, 13), u[6:]...)
				if d != 0 {
					b = binary.AppendVarint(b, d)
				}
				return b, true
			}
		}
		return append([]byte{idUUID}, u[:]...), false
	}
	return append([]byte{idText}, id...), false
}

// LongID returns the long form of id, used to look it up in the id index.
func LongID(id string) []byte {
	if u, ok := parseUUID(id); ok {
		return append([]byte{idUUID}, u[:]...)
	}
	return append([]byte{idText}, id...)
}

// ShortCandidate returns, for an id that may be stored short, the 10 bytes
// every short form of it starts with and the millisecond of the id.
func ShortCandidate(id string) (prefix []byte, ms int64, ok bool) {
	u, ok := parseUUID(id)
	if !ok || u.Version() != 7 {
		return nil, 0, false
	}
	return u[6:], uuidMs(u), true
}

// ShortWindow returns the key range [lo, hi) where a short id of millisecond ms
// may be stored.
func ShortWindow(ms int64) (lo, hi int64) {
	return Key(ms-maxIDDelta, 0), Key(ms+maxIDDelta+1, 0)
}

// JoinID rebuilds the id stored as b in the row with key k.
func JoinID(b []byte, k int64) string {
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case idUUID:
		var u uuid.UUID
		copy(u[:], b[1:])
		return u.String()
	case idText:
		return string(b[1:])
	}
	if len(b) < 10 {
		return ""
	}
	ms := Ms(k)
	if len(b) > 10 {
		d, _ := binary.Varint(b[10:])
		ms += d
	}
	var u uuid.UUID
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	copy(u[6:], b[:10])
	return u.String()
}

func parseUUID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return uuid.UUID{}, false
	}
	return u, true
}

func uuidMs(u uuid.UUID) int64 {
	return int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5])
}

// Message templates: the identity and the failure count are cut out of a
// message so that the few message shapes are stored once each.
const (
	markIdentity = "\x01"
	markCount    = "\x02"
)

// Template returns msg with identity and the decimal fc replaced by markers,
// or msg itself when it already holds a marker byte.
func Template(msg, identity string, fc int) string {
	if strings.ContainsAny(msg, markIdentity+markCount) || strings.ContainsAny(identity, markIdentity+markCount) {
		return "\x03" + msg
	}
	if identity != "" {
		msg = strings.ReplaceAll(msg, identity, markIdentity)
	}
	if fc > 0 {
		msg = strings.ReplaceAll(msg, strconv.Itoa(fc), markCount)
	}
	return msg
}

// Expand reverses Template.
func Expand(tmpl, identity string, fc int) string {
	if strings.HasPrefix(tmpl, "\x03") {
		return tmpl[1:]
	}
	if fc > 0 {
		tmpl = strings.ReplaceAll(tmpl, markCount, strconv.Itoa(fc))
	}
	return strings.ReplaceAll(tmpl, markIdentity, identity)
}

// Erased is the prefix of a dictionary string that was erased; it reads as null.
const Erased = "\uffff\uffffERASED:"

// AppendKeys appends sorted keys as varint deltas.
func AppendKeys(b []byte, prev int64, ks []int64) []byte {
	for _, k := range ks {
		b = binary.AppendVarint(b, k-prev)
		prev = k
	}
	return b
}

// Keys decodes a blob written by AppendKeys with the same prev.
func Keys(b []byte, prev int64, fn func(k int64)) error {
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		prev += d
		fn(prev)
	}
	return nil
}

var errCorrupt = errors.New("corrupt blob")

// HourMs and DayMs are an hour and a day in milliseconds, the unit of the
// stores' times.
const (
	HourMs = int64(time.Hour / time.Millisecond)
	DayMs  = 24 * HourMs
)

// FloorDiv is a / b rounded down (towards minus infinity), for times before
// 1970 as after.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
