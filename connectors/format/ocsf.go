package format

import (
	"encoding/json"

	"github.com/loginguard/loginguard/event"
)

// OCSF Authentication (class_uid 3002, category_uid 3 Identity & Access Management).
const (
	ocsfClass    = 3002
	ocsfCategory = 3
	ocsfVersion  = "1.3.0"
)

type ocsfDoc struct {
	ClassUID     int           `json:"class_uid"`
	ClassName    string        `json:"class_name"`
	CategoryUID  int           `json:"category_uid"`
	CategoryName string        `json:"category_name"`
	ActivityID   int           `json:"activity_id"`
	ActivityName string        `json:"activity_name"`
	TypeUID      int           `json:"type_uid"`
	Time         int64         `json:"time"`
	SeverityID   int           `json:"severity_id"`
	Severity     string        `json:"severity"`
	StatusID     int           `json:"status_id"`
	Status       string        `json:"status"`
	StatusDetail string        `json:"status_detail,omitempty"`
	StatusCode   string        `json:"status_code,omitempty"`
	Message      string        `json:"message,omitempty"`
	User         ocsfUser      `json:"user"`
	SrcEndpoint  *ocsfEndpoint `json:"src_endpoint,omitempty"`
	HTTPRequest  *ocsfHTTP     `json:"http_request,omitempty"`
	Metadata     ocsfMeta      `json:"metadata"`
	// Unmapped holds what OCSF has no attribute for: the browser's name and
	// whether the client is a bot.
	Unmapped *ocsfUnmapped `json:"unmapped,omitempty"`
}

type ocsfUnmapped struct {
	Browser string `json:"browser,omitempty"`
	Bot     bool   `json:"bot,omitempty"`
}

type ocsfUser struct {
	Name      string `json:"name,omitempty"`
	EmailAddr string `json:"email_addr,omitempty"`
	UID       string `json:"uid,omitempty"`
	FullName  string `json:"full_name,omitempty"`
}

// ocsfEndpoint is a Network Endpoint object.
type ocsfEndpoint struct {
	IP       string        `json:"ip"`
	Type     string        `json:"type,omitempty"`
	TypeID   int           `json:"type_id,omitempty"`
	Location *ocsfLocation `json:"location,omitempty"`
	AS       *ocsfAS       `json:"autonomous_system,omitempty"`
	OS       *ocsfOS       `json:"os,omitempty"`
}

// ocsfLocation is a Geo Location object: region is the ISO 3166-2
// subdivision code (its name when the database has no code), coordinates
// are [longitude, latitude].
type ocsfLocation struct {
	City        string    `json:"city,omitempty"`
	Country     string    `json:"country,omitempty"`
	Region      string    `json:"region,omitempty"`
	Coordinates []float64 `json:"coordinates,omitempty"`
	Desc        string    `json:"desc,omitempty"`
}

// ocsfAS is an Autonomous System object.
type ocsfAS struct {
	Name   string `json:"name,omitempty"`
	Number int64  `json:"number,omitempty"`
}

// ocsfOS is an Operating System object.
type ocsfOS struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	TypeID int    `json:"type_id"`
}

// ocsfOSTypes are OCSF's OS type_id values of the OS names the device
// parser gives; others are Other (99).
var ocsfOSTypes = map[string]struct {
	id   int
	name string
}{
	"Windows": {100, "Windows"}, "Linux": {200, "Linux"}, "Android": {201, "Android"},
	"macOS": {300, "macOS"}, "iOS": {301, "iOS"},
}

// ocsfEndpointTypes are OCSF's Network Endpoint type_id values of the
// device types.
var ocsfEndpointTypes = map[string]struct {
	id   int
	name string
}{
	event.DeviceDesktop: {2, "Desktop"}, event.DeviceTablet: {4, "Tablet"}, event.DeviceMobile: {5, "Mobile"},
}

type ocsfHTTP struct {
	UserAgent string   `json:"user_agent,omitempty"`
	URL       *ocsfURL `json:"url,omitempty"`
}

type ocsfURL struct {
	Hostname string `json:"hostname,omitempty"`
	Path     string `json:"path,omitempty"`
}

type ocsfMeta struct {
	UID           string      `json:"uid,omitempty"`
	Version       string      `json:"version"`
	Product       ocsfProduct `json:"product"`
	CorrelationID string      `json:"correlation_uid,omitempty"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

// encodeOCSF writes the event as an OCSF Authentication event: Logon (1) for login
// attempts, Logoff (2) for logouts, Other (99) for lock and unlock.
func encodeOCSF(b []byte, e *event.Event) ([]byte, error) {
	d := ocsfDoc{
		ClassUID: ocsfClass, ClassName: "Authentication",
		CategoryUID: ocsfCategory, CategoryName: "Identity & Access Management",
		Time:       e.EventDate.UnixMilli(),
		SeverityID: 1, Severity: "Informational",
		StatusID: 1, Status: "Success",
		StatusDetail: string(e.Reason),
		StatusCode:   str(e.ErrorType),
		Message:      str(e.Message),
		User:         ocsfUser{Name: str(e.Principal), EmailAddr: str(e.Email), UID: str(e.AccountID), FullName: str(e.DisplayName)},
		Metadata: ocsfMeta{UID: e.ID, Version: ocsfVersion, CorrelationID: e.TraceID,
			Product: ocsfProduct{Name: "loginguard", VendorName: "loginguard"}},
	}
	switch e.EventType {
	case event.LoginSuccess, event.LoginFailure:
		d.ActivityID, d.ActivityName = 1, "Logon"
	case event.Logout:
		d.ActivityID, d.ActivityName = 2, "Logoff"
	default:
		d.ActivityID, d.ActivityName = 99, "Other"
	}
	if e.EventType == event.LoginFailure || e.EventType == event.AccountLocked {
		d.StatusID, d.Status = 2, "Failure"
		d.SeverityID, d.Severity = 3, "Medium"
	}
	d.TypeUID = ocsfClass*100 + d.ActivityID
	if d.User.Name == "" {
		d.User.Name = d.User.EmailAddr
	}
	if e.RemoteAddress != "" {
		d.SrcEndpoint = ocsfEndpointOf(e)
	}
	if e.Browser != "" || e.Bot {
		d.Unmapped = &ocsfUnmapped{Browser: e.Browser, Bot: e.Bot}
	}
	if e.UserAgent != "" || e.Path != "" || e.Host != "" {
		h := &ocsfHTTP{UserAgent: e.UserAgent}
		if e.Path != "" || e.Host != "" {
			h.URL = &ocsfURL{Hostname: e.Host, Path: e.Path}
		}
		d.HTTPRequest = h
	}
	out, err := json.Marshal(d)
	if err != nil {
		return b, err
	}
	return append(b, out...), nil
}

func ocsfEndpointOf(e *event.Event) *ocsfEndpoint {
	ep := &ocsfEndpoint{IP: e.RemoteAddress}
	if t, ok := ocsfEndpointTypes[e.DeviceType]; ok {
		ep.TypeID, ep.Type = t.id, t.name
	}
	g := &e.Geo
	loc := ocsfLocation{City: g.City, Country: g.Country, Region: g.RegionCode, Desc: g.Place()}
	if loc.Region == "" {
		loc.Region = g.Region
	}
	if g.HasCoordinates() {
		loc.Coordinates = []float64{g.Longitude, g.Latitude}
	}
	if loc.City != "" || loc.Country != "" || loc.Region != "" || loc.Coordinates != nil {
		ep.Location = &loc
	}
	if g.ASN != 0 || g.ASOrg != "" {
		ep.AS = &ocsfAS{Name: g.ASOrg, Number: g.ASN}
	}
	if e.OS != "" {
		ep.OS = &ocsfOS{Name: e.OS, Type: "Other", TypeID: 99}
		if t, ok := ocsfOSTypes[e.OS]; ok {
			ep.OS.Type, ep.OS.TypeID = t.name, t.id
		}
	}
	return ep
}
