package connectors

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// permanentError marks an error that no retry will fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying will not fix (the sink rejected the
// payload itself, e.g. an HTTP 400): the pipeline dead-letters the events it
// concerns instead of retrying them. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// disabledError marks an error after which the sink takes no more events.
type disabledError struct{ err error }

func (p disabledError) Error() string { return p.err.Error() }
func (p disabledError) Unwrap() error { return permanentError(p) }

// Disabled marks err as the sink's answer that it takes no events any more
// (e.g. a webhook target answering 410 Gone). It is also Permanent; the
// connector's Stats report Disabled. Disabled(nil) is nil.
func Disabled(err error) error {
	if err == nil {
		return nil
	}
	return disabledError{err}
}

// IsDisabled reports whether err, or an error it wraps, was marked Disabled.
func IsDisabled(err error) bool {
	var p disabledError
	return errors.As(err, &p)
}

// retryAfterError carries the sink's own word on when to try again.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (r retryAfterError) Error() string { return r.err.Error() }
func (r retryAfterError) Unwrap() error { return r.err }

// RetryAfter marks err as one to retry no sooner than after (e.g. an HTTP
// Retry-After): the pipeline waits at least that long, at most maxRetryAfter,
// before the next attempt. RetryAfter(nil, d) is nil.
func RetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return retryAfterError{err, after}
}

// maxRetryAfter caps the wait a sink may ask for.
const maxRetryAfter = 10 * time.Minute

// retryAfterOf returns the longest wait err asks for, looking into ItemErrors
// too; 0 when none.
func retryAfterOf(err error) time.Duration {
	var d time.Duration
	var r retryAfterError
	if errors.As(err, &r) {
		d = r.after
	}
	var items ItemErrors
	if errors.As(err, &items) {
		for _, e := range items {
			if errors.As(e, &r) {
				d = max(d, r.after)
			}
		}
	}
	return min(d, maxRetryAfter)
}

// ItemErrors is the error a Connector returns when only some events of a batch
// failed: the index of each failed event in the batch and why. Events it does not
// name were delivered. An entry marked Permanent dead-letters its event; the
// others are retried.
type ItemErrors map[int]error

// Error names the number of failed events and the first few reasons.
func (e ItemErrors) Error() string {
	idx := make([]int, 0, len(e))
	for i := range e {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "%d events failed", len(idx))
	for n, i := range idx {
		if n == 3 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; [%d]: %v", i, e[i])
	}
	return b.String()
}
