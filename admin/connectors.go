package admin

import (
	"net/http"
	"time"
)

// connectorView is one connector of GET /api/v1/connectors.
type connectorView struct {
	Name string `json:"name"`
	// Active: the dispatcher delivers to the connector (every listed one is).
	Active    bool   `json:"active"`
	Queued    int    `json:"queued"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	Dropped   uint64 `json:"dropped"`
	// Spooled events wait in the connector's spool on disk (of Queued);
	// SpoolBytes is its disk use; DeadLettered events went to its dead-letter
	// file (of Failed); Disabled: the sink refused all further events (a
	// webhook's 410) until the next config load.
	Spooled      int64  `json:"spooled"`
	SpoolBytes   int64  `json:"spoolBytes"`
	DeadLettered uint64 `json:"deadLettered"`
	// DeadLetterDiscarded dead letters were removed with an old
	// dead-letter file (dead_letter_max_bytes).
	DeadLetterDiscarded uint64     `json:"deadLetterDiscarded"`
	Disabled            bool       `json:"disabled"`
	LastError           string     `json:"lastError,omitempty"`
	LastErrorAt         *time.Time `json:"lastErrorAt,omitempty"`
}

// connectorsAnswer is the answer of GET /api/v1/connectors.
type connectorsAnswer struct {
	Connectors []connectorView `json:"connectors"`
}

// connectorList serves GET /api/v1/connectors.
func (h *handler) connectorList(w http.ResponseWriter, _ *http.Request, _ *call) error {
	a := connectorsAnswer{Connectors: []connectorView{}}
	if h.connectors != nil {
		for _, s := range h.connectors() {
			a.Connectors = append(a.Connectors, connectorView{Name: s.Name, Active: true, Queued: s.Queued,
				Delivered: s.Delivered, Failed: s.Failed, Dropped: s.Dropped, Spooled: s.Spooled, SpoolBytes: s.SpoolBytes,
				DeadLettered: s.DeadLettered, DeadLetterDiscarded: s.DeadLetterDiscarded, Disabled: s.Disabled, LastError: s.LastError,
				LastErrorAt: timePtr(s.LastErrorAt)})
		}
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
