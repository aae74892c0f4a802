package alerts

import (
	"context"
	"time"
)

// Windows is the memory of an Engine: per rule and subject, the times of the
// latest events (at most the rule's threshold) or the distinct members seen
// with the latest time of each, and per rule and subject the time of the last
// alert (its cooldown). Memory keeps them in this process (one instance
// counts alone); package alerts/redisalerts keeps them in Redis, so that every
// instance of a fleet counts into the same windows and claims the same
// cooldowns, and one attack fires one alert per rule and subject for the
// whole fleet.
//
// Times are the ones the ops carry (the callers' clocks), never the store's:
// a store may expire what no op can see any more, but a window or cooldown
// ends when an op's At says so. The conformance suite alerts/alertstest pins
// the semantics down; every implementation runs it.
type Windows interface {
	// Apply applies ops in order, each seeing the effects of those before it
	// (other callers' ops may come in between), and sets res[i] to the
	// result of ops[i]; res is at least as long as ops. On an error, the ops
	// whose results are not known have the zero Result (nothing fired), and
	// some of them may have been applied.
	Apply(ctx context.Context, ops []Op, res []Result) error
}

// OpKind says what an Op does.
type OpKind uint8

// The kinds of Op. "Within the window" means: at a time t with
// At - t < Window. Only CountTime, CountMember, TakeTimes and Claim can fire;
// see Op for the cooldown.
const (
	// CountTime records At for the subject, keeps the subject's latest
	// Threshold times, and counts those within the window.
	CountTime OpKind = iota + 1
	// NoteTime records At as CountTime does, and never fires (Count is 0).
	NoteTime
	// CountMember records Member for the subject with the time At (a member
	// seen again takes the new time; a store shared by instances whose clocks
	// differ keeps the later one), forgets the members not seen within the
	// window, keeps the Threshold latest, and counts them.
	CountMember
	// TakeTimes counts the subject's times within the window and forgets all
	// of the subject's times.
	TakeTimes
	// Claim counts nothing: its Count is the op's Count, and it fires unless
	// the cooldown holds it back, whatever Threshold is.
	Claim
)

// Op is one step of a rule for one subject. An op that counts fires when its
// Count reaches Threshold (a Claim, always) and the rule has not fired for
// the subject at a time t with At - t < Cooldown; firing records At as the
// rule's last alert for the subject. Windows are per (Rule, Subject); the
// cooldown too, so rules must have distinct names.
type Op struct {
	Kind      OpKind
	Rule      string // the rule's name
	Subject   string // an IP or an account
	Member    string // for CountMember
	At        time.Time
	Window    time.Duration
	Threshold int
	Cooldown  time.Duration
	Count     int // for Claim
}

// Result is what an Op found.
type Result struct {
	// Count is the number of times or members within the window after the
	// op (for TakeTimes, before it forgot them; for Claim, Op.Count).
	Count int
	// Fired reports whether the op fired, and so claimed the cooldown.
	Fired bool
}
