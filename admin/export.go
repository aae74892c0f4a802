package admin

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore"
)

// flushEvery is how many rows a streamed export writes between two flushes.
const flushEvery = 500

// Neutralise makes a CSV cell safe to open in a spreadsheet: a cell that
// begins with =, +, -, @, a tab or a carriage return would be read as a
// formula (CSV injection), so it gets a leading single quote.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// lazyWriter sends the headers and the 200 status on the first write only, so
// that an error before any row can still be answered in the error shape.
type lazyWriter struct {
	w           http.ResponseWriter
	contentType string
	filename    string
	wrote       bool
	err         error // the first write error: the client went away
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	l.start()
	n, err := l.w.Write(p)
	if err != nil {
		l.err = err
	}
	return n, err
}

// start sends the headers and the 200 status, once.
func (l *lazyWriter) start() {
	if l.wrote {
		return
	}
	l.wrote = true
	h := l.w.Header()
	h.Set("Content-Type", l.contentType)
	if l.filename != "" {
		h.Set("Content-Disposition", `attachment; filename="`+l.filename+`"`)
	}
	l.w.WriteHeader(http.StatusOK)
}

// flush sends what was written so far to the client.
func (l *lazyWriter) flush() {
	if l.wrote && l.err == nil {
		_ = http.NewResponseController(l.w).Flush()
	}
}

// errClientGone stops a walk whose client no longer reads.
var errClientGone = errors.New("client stopped reading")

// finish ends a streamed answer whose walk returned err. Before anything was
// sent, the error is answered normally; a client that went away needs nothing.
// After the first bytes, the response is aborted (http.ErrAbortHandler, the
// net/http way to cut a response) so that the client sees a broken transfer,
// never a truncated export that looks complete.
func (h *handler) finish(w http.ResponseWriter, r *http.Request, lw *lazyWriter, err error) error {
	switch {
	case err == nil:
		return nil
	case lw.err != nil || errors.Is(err, errClientGone) || r.Context().Err() != nil:
		h.log.Debug("admin export stopped: client gone", "path", r.URL.Path, "error", err)
		return nil
	case !lw.wrote:
		return err
	}
	h.log.Error("admin export failed after its first rows; aborting the response", "path", r.URL.Path, "error", err)
	panic(http.ErrAbortHandler)
}

// csvRows writes records to a CSV stream, neutralising every cell and
// flushing every flushEvery rows.
type csvRows struct {
	lw  *lazyWriter
	cw  *csv.Writer
	n   int
	rec []string
}

func newCSVRows(w http.ResponseWriter, filename string, header []string) *csvRows {
	lw := &lazyWriter{w: w, contentType: "text/csv; charset=utf-8", filename: filename}
	c := &csvRows{lw: lw, cw: csv.NewWriter(lw)}
	c.rec = make([]string, len(header))
	_ = c.cw.Write(header)
	return c
}

// write writes one record; it reports errClientGone when the client left.
func (c *csvRows) write(rec []string) error {
	for i, v := range rec {
		c.rec[i] = Neutralise(v)
	}
	if err := c.cw.Write(c.rec[:len(rec)]); err != nil {
		return errClientGone
	}
	c.n++
	if c.n%flushEvery == 0 {
		c.cw.Flush()
		if c.cw.Error() != nil {
			return errClientGone
		}
		c.lw.flush()
	}
	return nil
}

// close flushes the rest; an empty export still sends its header row.
func (c *csvRows) close() {
	c.cw.Flush()
	c.lw.flush()
}

// LogCSVColumns returns the columns of the login-log CSV export.
func LogCSVColumns() []string { return append([]string(nil), logColumns...) }

// LogCSVRecord fills rec with the cells of e under LogCSVColumns (not yet
// neutralised) and returns it.
func LogCSVRecord(rec []string, e *event.Event) []string { return logRecord(rec, e) }

// logColumns are the columns of the login-log CSV export.
var logColumns = []string{"id", "eventDate", "eventType", "status", "source", "principal", "email", "displayName",
	"remoteAddress", "reason", "message", "errorType", "portalId", "accountId", "failureCount",
	"userAgent", "host", "path", "traceId", "country", "location", "asn", "asOrg", "deviceType", "browser", "os",
	"wouldRefuse", "passwordBreached"}

// statusOf is SUCCESS or FAILURE for login attempts, "" for other events.
func statusOf(t event.Type) string {
	switch t {
	case event.LoginSuccess:
		return string(logstore.StatusSuccess)
	case event.LoginFailure:
		return string(logstore.StatusFailure)
	}
	return ""
}

// logRecord fills rec (len(logColumns)) with e's cells.
func logRecord(rec []string, e *event.Event) []string {
	fc, asn, breached := "", "", ""
	if e.FailureCount != 0 {
		fc = strconv.Itoa(e.FailureCount)
	}
	if e.ASN != 0 {
		asn = strconv.FormatInt(e.ASN, 10)
	}
	if e.PasswordBreached {
		breached = "true"
	}
	return append(rec[:0], e.ID, e.EventDate.UTC().Format(event.DateLayout), string(e.EventType), statusOf(e.EventType),
		string(e.Source), event.Value(e.Principal), event.Value(e.Email), event.Value(e.DisplayName),
		e.RemoteAddress, string(e.Reason), event.Value(e.Message), event.Value(e.ErrorType),
		event.Value(e.PortalID), event.Value(e.AccountID), fc, e.UserAgent, e.Host, e.Path, e.TraceID,
		e.Country, e.Place(), asn, e.ASOrg, e.DeviceType, e.Browser, e.OS, string(e.WouldRefuse), breached)
}

// walkFunc walks events, calling fn for each.
type walkFunc func(fn func(event.Event) error) error

// streamCSV answers the events of walk as CSV with logColumns.
func (h *handler) streamCSV(w http.ResponseWriter, r *http.Request, filename string, walk walkFunc) (int, error) {
	c := newCSVRows(w, filename, logColumns)
	rec := make([]string, 0, len(logColumns))
	err := walk(func(e event.Event) error {
		rec = logRecord(rec, &e)
		return c.write(rec)
	})
	if err == nil {
		c.close()
	}
	return c.n, h.finish(w, r, c.lw, err)
}

// streamNDJSON answers the events of walk as one JSON object per line.
func (h *handler) streamNDJSON(w http.ResponseWriter, r *http.Request, filename string, walk walkFunc) (int, error) {
	lw := &lazyWriter{w: w, contentType: "application/x-ndjson", filename: filename}
	buf := make([]byte, 0, 64<<10)
	n := 0
	send := func() error {
		if _, err := lw.Write(buf); err != nil {
			return errClientGone
		}
		buf = buf[:0]
		lw.flush()
		return nil
	}
	err := walk(func(e event.Event) error {
		buf = append(e.AppendJSON(buf), '\n')
		n++
		if n%flushEvery == 0 || len(buf) > 48<<10 {
			return send()
		}
		return nil
	})
	if err == nil {
		if len(buf) > 0 {
			err = send()
		} else {
			lw.start() // an empty export: the headers and no line
		}
	}
	return n, h.finish(w, r, lw, err)
}

// stamp is a file-name-safe timestamp for export file names.
func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }
