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
}

type ocsfUser struct {
	Name      string `json:"name,omitempty"`
	EmailAddr string `json:"email_addr,omitempty"`
	UID       string `json:"uid,omitempty"`
	FullName  string `json:"full_name,omitempty"`
}

type ocsfEndpoint struct {
	IP string `json:"ip"`
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
		d.SrcEndpoint = &ocsfEndpoint{IP: e.RemoteAddress}
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
