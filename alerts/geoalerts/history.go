package geoalerts

import (
	"container/list"
	"strings"
	"time"

	"github.com/loginguard/loginguard/event"
)

// maxKeys bounds each set of a summary (countries, device classes, ASNs): the
// oldest goes first. An account with more is unusual, and what it forgets
// only makes an alert possible, never one missed for the newest.
const maxKeys = 64

// summary is what the stage knows of one account: the last time each key
// (country, device class, ASN) was seen, the latest located success, and
// when each rule last fired for it. Times are the events' dates, truncated to
// milliseconds as the store keeps them.
type summary struct {
	key string // account key (accountKey), for the cache

	// loaded and failsLoaded are when the successes (failures) of the
	// account were last read from the store; zero: never.
	loaded, failsLoaded time.Time

	countries map[string]time.Time
	devices   map[string]time.Time
	last      place // the latest success with coordinates; last.at zero: none
	asns      map[int64]time.Time

	fired map[string]time.Time // rule → the date of the login it fired on
}

// place is a located login.
type place struct {
	at       time.Time
	lat, lon float64
	radius   int // accuracy radius, km
	name     string
}

func newSummary(key string) *summary {
	return &summary{key: key, countries: map[string]time.Time{}, devices: map[string]time.Time{},
		asns: map[int64]time.Time{}, fired: map[string]time.Time{}}
}

// addSuccess records a successful login dated at.
func (h *summary) addSuccess(ev *event.Event, at time.Time) {
	if c := strings.ToUpper(ev.Country); c != "" {
		see(h.countries, c, at)
	}
	if d := deviceClass(ev); d != "" {
		see(h.devices, d, at)
	}
	if ev.HasCoordinates() && at.After(h.last.at) {
		h.last = place{at: at, lat: ev.Latitude, lon: ev.Longitude, radius: ev.AccuracyRadius, name: placeName(ev)}
	}
}

// addFailure records a failed login dated at from asn.
func (h *summary) addFailure(asn int64, at time.Time) { see(h.asns, asn, at) }

// see records k at t in m (keeping the latest time), forgetting the oldest
// key when m is full.
func see[K comparable](m map[K]time.Time, k K, t time.Time) {
	if old, ok := m[k]; ok {
		if t.After(old) {
			m[k] = t
		}
		return
	}
	if len(m) >= maxKeys {
		var oldest K
		var first time.Time
		for k2, t2 := range m {
			if first.IsZero() || t2.Before(first) {
				oldest, first = k2, t2
			}
		}
		delete(m, oldest)
	}
	m[k] = t
}

// within returns the keys of m seen at or after since. A time at or after
// the event being judged (an event handled out of order) counts too: it
// stops an alert rather than making one.
func within[K comparable](m map[K]time.Time, since time.Time) []K {
	var out []K
	for k, t := range m {
		if !t.Before(since) {
			out = append(out, k)
		}
	}
	return out
}

// deviceClass returns "deviceType/OS/browser", or "" when the user agent
// said nothing.
func deviceClass(ev *event.Event) string {
	if ev.DeviceType == "" && ev.OS == "" && ev.Browser == "" {
		return ""
	}
	return ev.DeviceType + "/" + ev.OS + "/" + ev.Browser
}

// placeName names a location for a message: the place, or the coordinates.
func placeName(ev *event.Event) string {
	if p := ev.Place(); p != "" {
		return p
	}
	return "an unnamed place"
}

// accountKey is the cache key of the account of ev: its source and its
// principal, or its email lower-cased; "" when it has neither.
func accountKey(ev *event.Event) string {
	if ev.Principal != nil {
		if *ev.Principal == "" {
			return ""
		}
		return string(ev.Source) + "\x00p\x00" + *ev.Principal
	}
	if ev.Email == nil || *ev.Email == "" {
		return ""
	}
	return string(ev.Source) + "\x00e\x00" + strings.ToLower(*ev.Email)
}

// cache is an LRU cache of summaries. Only the stage's goroutine uses it.
type cache struct {
	size  int
	order *list.List // of *summary, most recently used first
	byKey map[string]*list.Element
}

func newCache(size int) *cache {
	return &cache{size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the summary of key, a new one when there is none, evicting the
// least recently used summary when the cache is full.
func (c *cache) get(key string) *summary {
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*summary)
	}
	if c.order.Len() >= c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*summary).key)
	}
	h := newSummary(key)
	c.byKey[key] = c.order.PushFront(h)
	return h
}
