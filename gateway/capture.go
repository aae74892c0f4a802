package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"

	"github.com/loginguard/loginguard/policy"
)

// readPrefix reads at most policy.MaxBody bytes of r's body and puts them back in
// front of the rest, so the upstream receives the body byte for byte as sent.
// complete reports whether the prefix is the whole body.
func readPrefix(r *http.Request) (prefix []byte, complete bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	size := 512
	if r.ContentLength >= 0 && r.ContentLength <= policy.MaxBody {
		size = int(r.ContentLength) + 1 // one more byte sees the end without growing
	}
	buf := make([]byte, 0, size)
	orig := r.Body
	var err error
	for len(buf) <= policy.MaxBody {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		limit := min(cap(buf), policy.MaxBody+1)
		var n int
		n, err = orig.Read(buf[len(buf):limit])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	switch {
	case err == io.EOF && len(buf) <= policy.MaxBody:
		r.Body = bodyReader{bytes.NewReader(buf), orig}
		return buf, true
	case err != nil && err != io.EOF:
		// Hand the upstream what was read, then the same error.
		r.Body = bodyReader{io.MultiReader(bytes.NewReader(buf), errReader{err}), orig}
		return buf[:min(len(buf), policy.MaxBody)], false
	default:
		r.Body = bodyReader{io.MultiReader(bytes.NewReader(buf), orig), orig}
		return buf[:policy.MaxBody], false
	}
}

type bodyReader struct {
	io.Reader
	io.Closer
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// recorder passes a response through unchanged while it notes the status and
// keeps a copy of the first policy.MaxBody bytes of the body for classification.
// Unless holding, it never holds anything back.
//
// A holding recorder (which captures) keeps the head and the body (up to
// policy.MaxBody; past that it lets go and streams) until release sends them or
// discard drops them,
// so that a verdict can still refuse the answer. The headers are set on the
// underlying writer's header map, which discard clears.
//
// Unwrap gives http.ResponseController the underlying writer (to hijack a
// connection, set deadlines, enable full duplex).
type recorder struct {
	http.ResponseWriter
	status  int
	capture bool
	body    []byte
	holding bool // needs capture: the held answer is body
	over    bool // the body was longer than policy.MaxBody: body is its first part

	// remainingHeader, when set, is written with remaining before the head.
	remainingHeader string
	remaining       int
}

func (rc *recorder) WriteHeader(code int) {
	if rc.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		rc.status = code
		if rc.remainingHeader != "" {
			rc.Header().Set(rc.remainingHeader, strconv.Itoa(rc.remaining))
		}
		if rc.holding {
			return
		}
	}
	rc.ResponseWriter.WriteHeader(code)
}

func (rc *recorder) Write(p []byte) (int, error) {
	if rc.status == 0 {
		rc.WriteHeader(http.StatusOK)
	}
	if rc.holding {
		if len(rc.body)+len(p) <= policy.MaxBody {
			rc.keep(p) // held: the kept body is the answer so far
			return len(p), nil
		}
		if err := rc.release(); err != nil {
			return 0, err
		}
	}
	rc.keep(p)
	return rc.ResponseWriter.Write(p)
}

// FlushError keeps a held answer held; otherwise it flushes.
func (rc *recorder) FlushError() error {
	if rc.holding {
		return nil
	}
	return http.NewResponseController(rc.ResponseWriter).Flush()
}

// release sends a held answer on and stops holding.
func (rc *recorder) release() error {
	if !rc.holding {
		return nil
	}
	rc.holding = false
	if rc.status == 0 {
		return nil
	}
	rc.ResponseWriter.WriteHeader(rc.status)
	_, err := rc.ResponseWriter.Write(rc.body)
	return err
}

// discard drops a held answer, its headers included.
func (rc *recorder) discard() {
	rc.holding = false
	hdr := rc.ResponseWriter.Header()
	for k := range hdr {
		delete(hdr, k)
	}
}

// ReadFrom keeps the underlying writer's fast path (reverse_proxy copies with it)
// and still sees the bytes that go by.
func (rc *recorder) ReadFrom(r io.Reader) (int64, error) {
	if rc.status == 0 {
		rc.WriteHeader(http.StatusOK)
	}
	if rc.holding {
		return io.Copy(struct{ io.Writer }{rc}, r) // through Write, which holds
	}
	if rc.capture {
		r = io.TeeReader(r, keeper{rc})
	}
	if rf, ok := rc.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(rc.ResponseWriter, r)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (rc *recorder) Unwrap() http.ResponseWriter { return rc.ResponseWriter }

// Push passes an HTTP/2 server push on when the underlying writer can make it.
func (rc *recorder) Push(target string, opts *http.PushOptions) error {
	if p, ok := rc.ResponseWriter.(http.Pusher); ok {
		return p.Push(target, opts)
	}
	return http.ErrNotSupported
}

func (rc *recorder) keep(p []byte) {
	if !rc.capture {
		return
	}
	if len(p) > policy.MaxBody-len(rc.body) {
		rc.over = true
	}
	if len(rc.body) >= policy.MaxBody {
		return
	}
	rc.body = append(rc.body, p[:min(len(p), policy.MaxBody-len(rc.body))]...)
}

type keeper struct{ rc *recorder }

func (k keeper) Write(p []byte) (int, error) {
	k.rc.keep(p)
	return len(p), nil
}
