// Package redisalerts keeps the alert engine's windows and cooldowns
// (alerts.Windows) in Redis, so that every instance of a fleet counts into
// the same windows: with three instances behind a round-robin balancer, an
// IP's tenth failure fires ip_failures once for the fleet, with the fleet's
// count, however the failures were spread, and the cooldown is the fleet's.
// Use it with alerts.NewFleet, which batches the events so that the event
// path never waits for Redis.
//
// # Cost
//
// Apply sends every op of a batch (one per rule that an event concerns: one
// to four per login event) as one EVALSHA of windows.lua, all in one
// pipeline: one round trip per batch (per Cluster node the batch touches),
// and one more, with EVAL, when Redis did not know the script (a restart,
// SCRIPT FLUSH, a new node). An alert costs nothing more: the op that
// reaches the threshold also claims the cooldown, in the same script.
//
// # Keys
//
// For a prefix P (default "loginguard:alerts:"), a rule R and a subject S:
//
//	P{R|S}:w   the window: a sorted set scored by time (Unix ms) of the
//	           subject's latest events (at most the threshold, each a unique
//	           member) or of its distinct members (accounts, IPs) with their
//	           latest time; it expires a window plus a minute after its last
//	           change
//	P{R|S}:h   the time of the rule's last alert for the subject (a string,
//	           Unix ms); it expires a cooldown plus a minute after the alert
//
// The hash tag is the rule and subject, so a script's two keys share a Redis
// Cluster slot and the subjects spread over the cluster. A subject longer than
// 128 bytes or with control characters is replaced by "sha256:" and its hex
// SHA-256, so that keys stay small. The times in the keys are the callers'
// clocks (alerts.Op.At); expiry is only garbage collection, with a minute of
// slack for clocks that differ, so Redis holds at most the threshold entries
// per rule and active subject, for about a window.
package redisalerts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/loginguard/loginguard/alerts"
)

// DefaultPrefix starts every key when Options.Prefix is empty.
const DefaultPrefix = "loginguard:alerts:"

// slack is added to every key's time to live, for clocks that differ between
// instances (SLACK in the script).
const slack = time.Minute

//go:embed windows.lua
var windowsLua string

var script = redis.NewScript(fmt.Sprintf("local SLACK = %d\n", slack.Milliseconds()) + windowsLua)

// Options configure Windows.
type Options struct {
	// Prefix starts every key. Default: "loginguard:alerts:". It may not
	// contain "{" or "}", which would take over the keys' hash tags.
	Prefix string
}

// Windows is alerts.Windows in Redis. New makes one; the zero value is not
// usable. It is safe for concurrent use, and its windows are shared by every
// Windows with the same Redis and prefix.
type Windows struct {
	client redis.UniversalClient
	prefix string
	id     string        // this Windows', in the members of time windows
	seq    atomic.Uint64 // the events' number, in the members of time windows
}

// New returns Windows in the Redis of client: a single server, Sentinel or
// Cluster client, typically the state store's (redisstate.Store.Client), so
// that one connection pool serves both. The client's timeouts apply; it
// should not retry (a retried script would count an event twice). New does
// not talk to Redis; closing the client is its owner's business.
func New(client redis.UniversalClient, o Options) (*Windows, error) {
	if client == nil {
		return nil, errors.New("redis alerts: no client")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redis alerts: prefix %q: may not contain { or }", o.Prefix)
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("redis alerts: %w", err)
	}
	return &Windows{client: client, prefix: o.Prefix, id: hex.EncodeToString(id[:])}, nil
}

// kinds are the script's names of the ops' kinds.
var kinds = map[alerts.OpKind]string{
	alerts.CountTime: "t", alerts.NoteTime: "n", alerts.CountMember: "m", alerts.TakeTimes: "k", alerts.Claim: "c",
}

// Apply implements alerts.Windows: one pipeline of one script call per op.
// Ops whose reply is an error keep the zero Result, and Apply returns the
// first such error, wrapped.
func (w *Windows) Apply(ctx context.Context, ops []alerts.Op, res []alerts.Result) error {
	if len(ops) == 0 {
		return nil
	}
	pipe := w.client.Pipeline()
	cmds := make([]*redis.Cmd, len(ops))
	args := make([][]any, len(ops))
	keys := make([][]string, len(ops))
	for i := range ops {
		keys[i], args[i] = w.call(&ops[i])
		cmds[i] = script.EvalSha(ctx, pipe, keys[i], args[i]...)
	}
	_, _ = pipe.Exec(ctx)
	var retry []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		// Redis does not know the script: send it with the ops it missed.
		pipe := w.client.Pipeline()
		for _, i := range retry {
			cmds[i] = script.Eval(ctx, pipe, keys[i], args[i]...)
		}
		_, _ = pipe.Exec(ctx)
	}
	var first error
	for i, cmd := range cmds {
		v, err := cmd.Int64Slice()
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("unexpected reply %v", v)
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("redis alerts: %s %s: %w", ops[i].Rule, kinds[ops[i].Kind], err)
			}
			res[i] = alerts.Result{}
			continue
		}
		res[i] = alerts.Result{Count: int(v[0]), Fired: v[1] == 1}
	}
	return first
}

// call returns the keys and arguments of op's script call.
func (w *Windows) call(op *alerts.Op) ([]string, []any) {
	base := w.key(op.Rule, op.Subject)
	at := op.At.UnixMilli()
	member := op.Member
	switch op.Kind {
	case alerts.CountTime, alerts.NoteTime:
		// Each event a member of its own: events of one millisecond, from
		// any instance, all count.
		member = strconv.FormatInt(at, 36) + "." + w.id + "." + strconv.FormatUint(w.seq.Add(1), 36)
	}
	return []string{base + ":w", base + ":h"}, []any{kinds[op.Kind], at, ms(op.Window), op.Threshold, ms(op.Cooldown), member, op.Count}
}

// key is the keys' common part for rule and subject.
func (w *Windows) key(rule, subject string) string {
	return w.prefix + "{" + safe(rule) + "|" + safe(subject) + "}"
}

// safe returns s, or its SHA-256 when s is long or holds control characters.
func safe(s string) string {
	if len(s) <= 128 && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ms returns d in whole milliseconds, rounded up, or 0 when d is not positive.
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	m := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		m++
	}
	return m
}

// Interface guard.
var _ alerts.Windows = (*Windows)(nil)
