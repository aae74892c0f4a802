package policy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
)

// MaxBody is the most of a request or response body loginguard reads or inspects.
const MaxBody = 64 << 10

// coding is a content coding loginguard can undo.
type coding uint8

const (
	codingIdentity coding = iota
	codingGzip
	codingDeflate
	codingUnknown
)

// parseCoding reads a Content-Encoding header value. "identity" and empty entries are
// ignored; one gzip (or x-gzip) or deflate is supported; anything else, including
// several codings stacked, is codingUnknown.
func parseCoding(ce string) coding {
	result := codingIdentity
	for ce != "" {
		var name string
		name, ce, _ = strings.Cut(ce, ",")
		name = strings.TrimSpace(name)
		var c coding
		switch {
		case name == "" || strings.EqualFold(name, "identity"):
			continue
		case strings.EqualFold(name, "gzip") || strings.EqualFold(name, "x-gzip"):
			c = codingGzip
		case strings.EqualFold(name, "deflate"):
			c = codingDeflate
		default:
			return codingUnknown
		}
		if result != codingIdentity {
			return codingUnknown
		}
		result = c
	}
	return result
}

// decodeBody undoes the content coding ce of body, a prefix of at most MaxBody bytes of
// the body as sent (complete says whether it is all of it). It returns at most MaxBody
// decoded bytes and whether they are the whole decoded body. A truncated or corrupt
// stream yields what could be decoded before the damage, marked incomplete. ok is false
// for a coding it cannot undo or a stream whose header cannot be read.
func decodeBody(ce string, body []byte, complete bool) (out []byte, outComplete, ok bool) {
	if len(body) > MaxBody {
		body, complete = body[:MaxBody], false
	}
	if len(body) == 0 {
		return body, complete, true
	}
	var r io.Reader
	switch parseCoding(ce) {
	case codingIdentity:
		return body, complete, true
	case codingGzip:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, false, false
		}
		r = zr
	case codingDeflate:
		// HTTP's deflate is a zlib stream, but some senders use raw deflate.
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			r = flate.NewReader(bytes.NewReader(body))
		} else {
			r = zr
		}
	default:
		return nil, false, false
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if len(out) > MaxBody {
		return out[:MaxBody], false, true
	}
	return out, complete && err == nil, true
}
