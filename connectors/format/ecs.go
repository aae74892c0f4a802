package format

import (
	"encoding/json"
	"time"

	"github.com/loginguard/loginguard/event"
)

// ECS field set written for a login event (Elastic Common Schema 8.x). Absent values
// are left out, never written as null, as ECS documents expect.
type ecsDoc struct {
	Timestamp string    `json:"@timestamp"`
	Message   string    `json:"message,omitempty"`
	Event     ecsEvent  `json:"event"`
	User      *ecsUser  `json:"user,omitempty"`
	Source    *ecsAddr  `json:"source,omitempty"`
	UserAgent *ecsUA    `json:"user_agent,omitempty"`
	URL       *ecsURL   `json:"url,omitempty"`
	Host      *ecsHost  `json:"host,omitempty"`
	Related   *ecsRel   `json:"related,omitempty"`
	Trace     *ecsTrace `json:"trace,omitempty"`
	Labels    ecsLabels `json:"labels"`
}

type ecsEvent struct {
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Outcome  string   `json:"outcome"`
	Action   string   `json:"action"`
	Reason   string   `json:"reason,omitempty"`
	ID       string   `json:"id,omitempty"`
	Created  string   `json:"created"`
}

type ecsUser struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	ID       string `json:"id,omitempty"`
	FullName string `json:"full_name,omitempty"`
}

type ecsAddr struct {
	IP      string  `json:"ip,omitempty"`
	Address string  `json:"address,omitempty"`
	Geo     *ecsGeo `json:"geo,omitempty"`
	AS      *ecsAS  `json:"as,omitempty"`
}

// ecsGeo is ECS's geo field set; region_iso_code is "CC-RR" ("US-CA").
type ecsGeo struct {
	CountryISOCode string       `json:"country_iso_code,omitempty"`
	RegionISOCode  string       `json:"region_iso_code,omitempty"`
	RegionName     string       `json:"region_name,omitempty"`
	CityName       string       `json:"city_name,omitempty"`
	Location       *ecsGeoPoint `json:"location,omitempty"`
}

type ecsGeoPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

type ecsAS struct {
	Number       int64    `json:"number,omitempty"`
	Organization *ecsName `json:"organization,omitempty"`
}

type ecsName struct {
	Name string `json:"name"`
}

type ecsUA struct {
	Original string   `json:"original,omitempty"`
	Name     string   `json:"name,omitempty"`
	OS       *ecsName `json:"os,omitempty"`
	Device   *ecsName `json:"device,omitempty"`
}

type ecsURL struct {
	Path string `json:"path"`
}

type ecsHost struct {
	Name string `json:"name"`
}

type ecsRel struct {
	User []string `json:"user,omitempty"`
	IP   []string `json:"ip,omitempty"`
}

type ecsTrace struct {
	ID string `json:"id"`
}

type ecsLabels struct {
	Source   string `json:"source"`
	PortalID string `json:"portal_id,omitempty"`
	Error    string `json:"error_type,omitempty"`
	// Bot is "true" for a client that is not a person's browser (ECS has
	// no field for it).
	Bot string `json:"bot,omitempty"`
}

// encodeECS writes the event as an ECS document: category authentication, type start
// (login), end (logout) or info (lock, unlock), outcome success or failure.
func encodeECS(b []byte, e *event.Event) ([]byte, error) {
	d := ecsDoc{
		Timestamp: e.EventDate.UTC().Format(time.RFC3339Nano),
		Event: ecsEvent{
			Kind:     "event",
			Category: []string{"authentication"},
			Type:     []string{"info"},
			Outcome:  "success",
			Action:   string(e.EventType),
			Reason:   string(e.Reason),
			ID:       e.ID,
			Created:  e.EventDate.UTC().Format(time.RFC3339Nano),
		},
		Labels: ecsLabels{Source: string(e.Source), PortalID: str(e.PortalID), Error: str(e.ErrorType)},
	}
	switch e.EventType {
	case event.LoginSuccess:
		d.Event.Type = []string{"start"}
	case event.LoginFailure:
		d.Event.Type = []string{"start"}
		d.Event.Outcome = "failure"
	case event.Logout:
		d.Event.Type = []string{"end"}
	case event.AccountLocked:
		d.Event.Outcome = "failure"
	}
	d.Message = str(e.Message)
	u := ecsUser{Name: str(e.Principal), Email: str(e.Email), ID: str(e.AccountID), FullName: str(e.DisplayName)}
	if u.Name == "" {
		u.Name = u.Email
	}
	if u != (ecsUser{}) {
		d.User = &u
	}
	rel := ecsRel{}
	if u.Name != "" {
		rel.User = append(rel.User, u.Name)
	}
	if u.Email != "" && u.Email != u.Name {
		rel.User = append(rel.User, u.Email)
	}
	if e.RemoteAddress != "" {
		d.Source = &ecsAddr{IP: e.RemoteAddress, Address: e.RemoteAddress, Geo: ecsGeoOf(&e.Geo)}
		if e.ASN != 0 || e.ASOrg != "" {
			d.Source.AS = &ecsAS{Number: e.ASN}
			if e.ASOrg != "" {
				d.Source.AS.Organization = &ecsName{Name: e.ASOrg}
			}
		}
		rel.IP = []string{e.RemoteAddress}
	}
	if rel.User != nil || rel.IP != nil {
		d.Related = &rel
	}
	if ua := (ecsUA{Original: e.UserAgent, Name: e.Browser}); ua.Original != "" || ua.Name != "" || e.OS != "" || e.DeviceType != "" {
		if e.OS != "" {
			ua.OS = &ecsName{Name: e.OS}
		}
		if e.DeviceType != "" {
			ua.Device = &ecsName{Name: e.DeviceType}
		}
		d.UserAgent = &ua
	}
	if e.Bot {
		d.Labels.Bot = "true"
	}
	if e.Path != "" {
		d.URL = &ecsURL{Path: e.Path}
	}
	if e.Host != "" {
		d.Host = &ecsHost{Name: e.Host}
	}
	if e.TraceID != "" {
		d.Trace = &ecsTrace{ID: e.TraceID}
	}
	out, err := json.Marshal(d)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}

// ecsGeoOf returns the ECS geo fields of g, or nil when it has none.
func ecsGeoOf(g *event.Geo) *ecsGeo {
	eg := ecsGeo{CountryISOCode: g.Country, RegionName: g.Region, CityName: g.City}
	if g.RegionCode != "" && g.Country != "" {
		eg.RegionISOCode = g.Country + "-" + g.RegionCode
	}
	if g.HasCoordinates() {
		eg.Location = &ecsGeoPoint{Lat: g.Latitude, Lon: g.Longitude}
	}
	if eg == (ecsGeo{}) {
		return nil
	}
	return &eg
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
