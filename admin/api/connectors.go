package api

import "time"

// Connectors is the answer of GET /api/v1/connectors.
type Connectors struct {
	// Connectors ("connectors") lists every connector; [] when none.
	Connectors []Connector `json:"connectors"`
}

// Connector is the delivery counters of one connector (a sink of the
// connector event: the login log, a webhook, Kafka...) since the config was
// loaded.
type Connector struct {
	// Name ("name") names the connector as the config does.
	Name string `json:"name"`
	// Active ("active"): the pipeline delivers to the connector (every listed
	// one is).
	Active bool `json:"active"`
	// Queued ("queued") events wait for delivery, in memory or in the spool.
	Queued int `json:"queued"`
	// Delivered ("delivered") events reached the sink.
	Delivered uint64 `json:"delivered"`
	// Failed ("failed") events could not be delivered after their retries.
	Failed uint64 `json:"failed"`
	// Dropped ("dropped") events were dropped because the queue was full.
	Dropped uint64 `json:"dropped"`
	// Spooled ("spooled") events of Queued wait in the spool on disk.
	Spooled int64 `json:"spooled"`
	// SpoolBytes ("spoolBytes") is the spool's disk use.
	SpoolBytes int64 `json:"spoolBytes"`
	// DeadLettered ("deadLettered") events of Failed went to the dead-letter
	// file.
	DeadLettered uint64 `json:"deadLettered"`
	// DeadLetterDiscarded ("deadLetterDiscarded") dead letters were removed
	// with an old dead-letter file (dead_letter_max_bytes).
	DeadLetterDiscarded uint64 `json:"deadLetterDiscarded"`
	// Disabled ("disabled"): the sink refused all further events (a webhook's
	// 410) until the next config load.
	Disabled bool `json:"disabled"`
	// LastError ("lastError") is the last delivery error; left out when none.
	LastError string `json:"lastError,omitempty"`
	// LastErrorAt ("lastErrorAt") is when LastError happened, UTC; left out
	// when none.
	LastErrorAt *time.Time `json:"lastErrorAt,omitempty"`
	// LastDeliveredAt ("lastDeliveredAt") is when the connector last
	// accepted events, UTC; left out when never.
	LastDeliveredAt *time.Time `json:"lastDeliveredAt,omitempty"`
	// DeliveredSinceError ("deliveredSinceError"): the connector accepted
	// events after its LastError, so the error is past, not current.
	DeliveredSinceError bool `json:"deliveredSinceError"`
}
