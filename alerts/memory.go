package alerts

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of subjects per rule that Memory remembers when
// it is given no bound.
const DefaultMaxKeys = 10000

// Memory is Windows in this process: what one instance saw, and nothing of
// the others. Its memory is bounded: at most maxKeys subjects per rule (a new
// subject beyond the bound evicts the stale ones first, then arbitrary ones),
// at most Threshold times or members per subject, and cooldowns are pruned
// once they hold more than maxKeys per rule. It is safe for concurrent use.
type Memory struct {
	maxKeys int

	mu      sync.Mutex
	seen    map[string]map[string]*track // rule → subject → what was seen
	lastHit map[string]hit               // rule + "\x00" + subject → its last alert
}

// hit is a rule's last alert for a subject.
type hit struct {
	at       time.Time
	cooldown time.Duration
}

// track is what a rule remembers of one subject: the times of the latest
// events (at most the threshold), or the latest time of each distinct member.
type track struct {
	times   []time.Time
	members map[string]time.Time
}

// NewMemory returns an empty Memory that remembers at most maxKeys subjects per
// rule (DefaultMaxKeys when maxKeys ≤ 0).
func NewMemory(maxKeys int) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{maxKeys: maxKeys, seen: map[string]map[string]*track{}, lastHit: map[string]hit{}}
}

// rule returns the subjects of the rule named name, made on first use.
func (m *Memory) rule(name string) map[string]*track {
	s, ok := m.seen[name]
	if !ok {
		s = map[string]*track{}
		m.seen[name] = s
	}
	return s
}

// Apply implements Windows; it never fails.
func (m *Memory) Apply(_ context.Context, ops []Op, res []Result) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ops {
		res[i] = m.apply(&ops[i])
	}
	return nil
}

func (m *Memory) apply(op *Op) Result {
	var count int
	switch op.Kind {
	case CountTime:
		count = m.times(op).count(op.At, op.Window)
	case NoteTime:
		m.times(op)
		return Result{}
	case CountMember:
		count = m.members(op)
	case TakeTimes:
		subjects := m.rule(op.Rule)
		t := subjects[op.Subject]
		if t == nil {
			return Result{}
		}
		count = t.count(op.At, op.Window)
		delete(subjects, op.Subject) // a success ends the run of failures
	case Claim:
		count = op.Count
	default:
		return Result{}
	}
	if count < op.Threshold && op.Kind != Claim {
		return Result{Count: count}
	}
	key := op.Rule + "\x00" + op.Subject
	if last, ok := m.lastHit[key]; ok && op.At.Sub(last.at) < op.Cooldown {
		return Result{Count: count}
	}
	m.lastHit[key] = hit{at: op.At, cooldown: op.Cooldown}
	if len(m.lastHit) > m.maxKeys*len(m.seen) {
		m.pruneHits(op.At)
	}
	return Result{Count: count, Fired: true}
}

// times records op.At for op's subject and returns its track.
func (m *Memory) times(op *Op) *track {
	t := m.track(op)
	if len(t.times) >= op.Threshold && len(t.times) > 0 {
		copy(t.times, t.times[1:])
		t.times = t.times[:len(t.times)-1]
	}
	t.times = append(t.times, op.At)
	return t
}

// count is how many of t's times are within window of now.
func (t *track) count(now time.Time, window time.Duration) int {
	n := 0
	for _, at := range t.times {
		if now.Sub(at) < window {
			n++
		}
	}
	return n
}

// members records op.Member for op's subject and returns how many distinct
// members the subject had within the window.
func (m *Memory) members(op *Op) int {
	t := m.track(op)
	if t.members == nil {
		t.members = map[string]time.Time{}
	}
	t.members[op.Member] = op.At
	for k, at := range t.members {
		if op.At.Sub(at) >= op.Window {
			delete(t.members, k)
		}
	}
	if len(t.members) > op.Threshold {
		// Only reaching the threshold matters: forget the oldest.
		var oldest string
		for k, at := range t.members {
			if oldest == "" || at.Before(t.members[oldest]) {
				oldest = k
			}
		}
		delete(t.members, oldest)
	}
	return len(t.members)
}

// track returns op's rule's track of op's subject, making room when the rule
// holds maxKeys subjects: the stale ones go first, then arbitrary ones.
func (m *Memory) track(op *Op) *track {
	subjects := m.rule(op.Rule)
	if t, ok := subjects[op.Subject]; ok {
		return t
	}
	if len(subjects) >= m.maxKeys {
		for k, t := range subjects {
			if t.stale(op.At, op.Window) {
				delete(subjects, k)
			}
		}
		for k := range subjects {
			if len(subjects) < m.maxKeys {
				break
			}
			delete(subjects, k)
		}
	}
	t := &track{}
	subjects[op.Subject] = t
	return t
}

// stale reports whether nothing of t is within window of now.
func (t *track) stale(now time.Time, window time.Duration) bool {
	for _, at := range t.times {
		if now.Sub(at) < window {
			return false
		}
	}
	for _, at := range t.members {
		if now.Sub(at) < window {
			return false
		}
	}
	return true
}

// pruneHits forgets the cooldowns that are over.
func (m *Memory) pruneHits(now time.Time) {
	for k, h := range m.lastHit {
		if now.Sub(h.at) >= h.cooldown {
			delete(m.lastHit, k)
		}
	}
}

// Subjects returns how many subjects m remembers under rule, and how many
// cooldowns it holds in all.
func (m *Memory) Subjects(rule string) (subjects, cooldowns int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen[rule]), len(m.lastHit)
}

// Held returns how many times or members m remembers of subject under rule.
func (m *Memory) Held(rule, subject string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.seen[rule][subject]
	if t == nil {
		return 0
	}
	return len(t.times) + len(t.members)
}

// Interface guard.
var _ Windows = (*Memory)(nil)
