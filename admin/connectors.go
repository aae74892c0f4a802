package admin

import (
	"net/http"

	"github.com/loginguard/loginguard/admin/api"
)

// connectorList serves GET /api/v1/connectors.
func (h *handler) connectorList(w http.ResponseWriter, _ *http.Request, _ *call) error {
	a := api.Connectors{Connectors: []api.Connector{}}
	if h.connectors != nil {
		for _, s := range h.connectors() {
			a.Connectors = append(a.Connectors, api.Connector{Name: s.Name, Active: true, Queued: s.Queued,
				Delivered: s.Delivered, Failed: s.Failed, Dropped: s.Dropped, Spooled: s.Spooled, SpoolBytes: s.SpoolBytes,
				DeadLettered: s.DeadLettered, DeadLetterDiscarded: s.DeadLetterDiscarded, Disabled: s.Disabled, LastError: s.LastError,
				LastErrorAt: timePtr(s.LastErrorAt), LastDeliveredAt: timePtr(s.LastDeliveredAt),
				DeliveredSinceError: s.LastError != "" && s.LastDeliveredAt.After(s.LastErrorAt)})
		}
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
