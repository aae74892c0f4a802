package admin

import (
	"net/http"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/logstore"
)

// Limits of stats and suspicious.
const (
	// DefaultTop is how many top users, IPs, countries, ASNs and device
	// types stats lists by default.
	DefaultTop = 10
	maxTop     = 100
	// maxBuckets is the most time-series buckets one stats request may ask for.
	maxBuckets = 10000
	// maxWindow is the longest suspicious-activity window.
	maxWindow = 90 * 24 * time.Hour
)

// stats serves GET /api/v1/stats: from, to (default the last 30 days up to
// now), interval=hour|day (default hour up to 48 hours, else day), top (10).
func (h *handler) stats(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	from, to, err := parseRange(q, h.now(), true)
	if err != nil {
		return err
	}
	iv, name := logstore.Day, "day"
	switch v := strings.ToLower(strings.TrimSpace(q.Get("interval"))); v {
	case "":
		if to.Sub(from) <= 48*time.Hour {
			iv, name = logstore.Hour, "hour"
		}
	case "hour":
		iv, name = logstore.Hour, "hour"
	case "day":
	default:
		return badParam("interval", "unknown value %q (want hour or day)", q.Get("interval"))
	}
	width := 24 * time.Hour
	if iv == logstore.Hour {
		width = time.Hour
	}
	if n := to.Sub(from)/width + 2; n > maxBuckets {
		return badParam("interval", "%s buckets from %s to %s would be more than %d (use a shorter range or interval=day)",
			name, from.Format(time.RFC3339), to.Format(time.RFC3339), maxBuckets)
	}
	top, err := intParam(q, "top", DefaultTop, 1, maxTop)
	if err != nil {
		return err
	}
	st, err := h.store.Stats(r.Context(), from, to, iv, top)
	if err != nil {
		return err
	}
	a := api.Stats{Interval: name, Stats: st}
	if st.Total > 0 {
		a.FailureRate = float64(st.Failures) / float64(st.Total)
	}
	if a.ByReason == nil {
		a.ByReason = []logstore.ReasonCount{}
	}
	if a.RefusedByReason == nil {
		a.RefusedByReason = []logstore.ReasonCount{}
	}
	if a.WouldRefuseByReason == nil {
		a.WouldRefuseByReason = []logstore.ReasonCount{}
	}
	if a.TopUsers == nil {
		a.TopUsers = []logstore.Count{}
	}
	if a.TopIPs == nil {
		a.TopIPs = []logstore.Count{}
	}
	if a.Series == nil {
		a.Series = []logstore.Bucket{}
	}
	if a.ByCountry == nil {
		a.ByCountry = []logstore.CountryCount{}
	}
	if a.TopASNs == nil {
		a.TopASNs = []logstore.ASNCount{}
	}
	if a.ByDeviceType == nil {
		a.ByDeviceType = []logstore.DeviceCount{}
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}

// suspicious serves GET /api/v1/suspicious: window (a duration, default 1h)
// or since (a date), minIpFailures (10), minAccountIps (3), minIpAccounts (3),
// limit (100).
func (h *handler) suspicious(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	now := h.now()
	var sq logstore.SuspiciousQuery
	wv, sv := strings.TrimSpace(q.Get("window")), strings.TrimSpace(q.Get("since"))
	switch {
	case wv != "" && sv != "":
		return badParam("since", "give either since or window, not both")
	case sv != "":
		t, err := parseTime("since", sv, false)
		if err != nil {
			return err
		}
		if t.After(now) {
			return badParam("since", "%s is in the future", t.Format(time.RFC3339))
		}
		sq.Since = t
	case wv != "":
		d, err := parseDuration("window", wv, time.Hour)
		if err != nil {
			return err
		}
		if d == 0 || d > maxWindow {
			return badParam("window", "%q is not between 1s and 90 days", wv)
		}
		sq.Since = now.Add(-d)
	}
	var err error
	if sq.MinIPFailures, err = intParam(q, "minIpFailures", logstore.DefaultMinIPFailures, 1, 1_000_000); err != nil {
		return err
	}
	if sq.MinAccountIPs, err = intParam(q, "minAccountIps", logstore.DefaultMinAccountIPs, 1, 1_000_000); err != nil {
		return err
	}
	if sq.MinIPAccounts, err = intParam(q, "minIpAccounts", logstore.DefaultMinIPAccounts, 1, 1_000_000); err != nil {
		return err
	}
	if sq.Limit, err = intParam(q, "limit", logstore.DefaultSuspectLimit, 1, MaxPageSize); err != nil {
		return err
	}
	sq = sq.WithDefaults(now)
	s, err := h.store.Suspicious(r.Context(), sq)
	if err != nil {
		return err
	}
	if s.FailingIPs == nil {
		s.FailingIPs = []logstore.SuspectIP{}
	}
	if s.AttackedAccounts == nil {
		s.AttackedAccounts = []logstore.SuspectAccount{}
	}
	if s.SprayingIPs == nil {
		s.SprayingIPs = []logstore.SuspectIP{}
	}
	if s.Since.IsZero() {
		s.Since = sq.Since
	}
	writeJSON(w, http.StatusOK, api.Suspicious{Suspicious: s, MinIPFailures: sq.MinIPFailures,
		MinAccountIPs: sq.MinAccountIPs, MinIPAccounts: sq.MinIPAccounts})
	return nil
}
