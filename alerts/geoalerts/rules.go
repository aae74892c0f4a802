package geoalerts

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
)

// alert is one firing of a rule on an event.
type alert struct {
	rule  string
	count int           // keys known (countries, classes), or ASNs
	win   time.Duration // the window the count is within
	text  string        // what was found, for the message
	attrs []slog.Attr   // the rule's own attributes of the warning
}

// successRules runs new_country, new_device and impossible_travel on a
// successful login dated at, against h (which does not hold it yet).
func (s *Stage) successRules(h *summary, ev *event.Event, at time.Time) []alert {
	var out []alert
	since := at.Add(-s.cfg.History)
	subject := ev.Identity()
	if c := strings.ToUpper(ev.Country); c != "" && !s.cfg.NewCountry.Off {
		if seen := within(h.countries, since); len(seen) > 0 && !slices.Contains(seen, c) {
			slices.Sort(seen)
			out = append(out, alert{rule: NewCountry, count: len(seen), win: s.cfg.History,
				text: fmt.Sprintf("a successful login to account %s from %s (%s), a country it had not logged in from within %s (seen: %s)",
					subject, c, placeName(ev), s.cfg.History, strings.Join(seen, ", ")),
				attrs: []slog.Attr{slog.String("country", c), slog.String("seen", strings.Join(seen, ","))}})
		}
	}
	if d := deviceClass(ev); d != "" && !s.cfg.NewDevice.Off {
		if seen := within(h.devices, since); len(seen) > 0 && !slices.Contains(seen, d) {
			slices.Sort(seen)
			out = append(out, alert{rule: NewDevice, count: len(seen), win: s.cfg.History,
				text: fmt.Sprintf("a successful login to account %s from device class %s, which it had not logged in from within %s (seen: %s)",
					subject, d, s.cfg.History, strings.Join(seen, ", ")),
				attrs: []slog.Attr{slog.String("device", d), slog.String("seen", strings.Join(seen, ","))}})
		}
	}
	if a, ok := s.travel(h, ev, at); ok {
		out = append(out, a)
	}
	return out
}

// travel runs impossible_travel: ev against the latest earlier located
// success of h.
func (s *Stage) travel(h *summary, ev *event.Event, at time.Time) (alert, bool) {
	prev := h.last
	if s.cfg.ImpossibleTravel.Off || !ev.HasCoordinates() || prev.at.IsZero() || !prev.at.Before(at) ||
		prev.at.Before(at.Add(-s.cfg.History)) {
		return alert{}, false
	}
	d := distanceKm(prev.lat, prev.lon, ev.Latitude, ev.Longitude)
	beyond := d - float64(prev.radius) - float64(ev.AccuracyRadius)
	if beyond <= 0 {
		return alert{}, false
	}
	dt := at.Sub(prev.at)
	speed := beyond / dt.Hours()
	if speed <= s.cfg.MaxSpeed {
		return alert{}, false
	}
	return alert{rule: ImpossibleTravel, count: 1, win: dt,
		text: fmt.Sprintf("a successful login to account %s from %s %s after one from %s: %.0f km (%.0f km beyond the accuracy radii) at %.0f km/h, faster than %g km/h",
			ev.Identity(), placeName(ev), dt, prev.name, d, beyond, speed, s.cfg.MaxSpeed),
		attrs: []slog.Attr{slog.String("from", prev.name), slog.String("to", placeName(ev)),
			slog.Int("km", int(math.Round(beyond))), slog.Int("kmh", int(math.Round(speed)))}}, true
}

// manyASNs runs many_asns on a failure dated at, against h (which does not
// hold it yet).
func (s *Stage) manyASNs(h *summary, ev *event.Event, at time.Time) (alert, bool) {
	asns := within(h.asns, at.Add(-s.cfg.ASNWindow))
	if !slices.Contains(asns, ev.ASN) {
		asns = append(asns, ev.ASN)
	}
	if len(asns) < s.cfg.ASNThreshold {
		return alert{}, false
	}
	slices.Sort(asns)
	names := make([]string, len(asns))
	for i, a := range asns {
		names[i] = "AS" + strconv.FormatInt(a, 10)
	}
	list := strings.Join(names, ", ")
	return alert{rule: ManyASNs, count: len(asns), win: s.cfg.ASNWindow,
		text:  fmt.Sprintf("%d autonomous systems failed to log in to account %s within %s (%s)", len(asns), ev.Identity(), s.cfg.ASNWindow, list),
		attrs: []slog.Attr{slog.String("asns", list)}}, true
}

// message is the alert's one line, the rule, subject and counts first as
// key=value pairs, as package alerts writes them.
func (a alert) message(subject string) string {
	return fmt.Sprintf("alert rule=%s subject=%s count=%d window=%s: %s", a.rule, subject, a.count, a.win, a.text)
}

// finding returns the alert as a pipeline finding: an ALERT event with the
// login's account, address, location and device, dated as the login.
func (a alert) finding(ev *event.Event, at time.Time) connectors.Finding {
	subject := ev.Identity()
	al := event.Event{
		ID:            event.NewID(),
		Source:        ev.Source,
		Principal:     ev.Principal,
		Email:         ev.Email,
		DisplayName:   ev.DisplayName,
		EventDate:     at,
		EventType:     event.Alert,
		RemoteAddress: ev.RemoteAddress,
		Message:       event.Str(a.message(subject)),
		PortalID:      ev.PortalID,
		AccountID:     ev.AccountID,
		UserAgent:     ev.UserAgent,
		Host:          ev.Host,
		Path:          ev.Path,
		TraceID:       ev.TraceID,
		Geo:           ev.Geo,
		Device:        ev.Device,
	}
	attrs := append([]slog.Attr{slog.String("rule", a.rule), slog.String("subject", subject),
		slog.Int("count", a.count), slog.String("window", a.win.String())}, a.attrs...)
	return connectors.Finding{Event: al, Kind: a.rule, Message: "loginguard alert", Attrs: attrs}
}

// earthRadiusKm is the mean radius of the Earth (IUGG).
const earthRadiusKm = 6371.0088

// distanceKm is the great-circle distance between two points in decimal
// degrees (the haversine formula).
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}
