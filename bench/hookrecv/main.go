// Command hookrecv is a webhook target for benchmarks: it reads each POST,
// verifies its Standard Webhooks signature when -secret is set (answering 400
// to a bad one), counts the requests and the events (a JSON array body holds
// several: the connector's batch option), and answers 204. GET /count prints
// "received=<requests> rejected=<requests> events=<n>".
//
//	go run ./bench/hookrecv -addr 127.0.0.1:8099 -secret whsec_...
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync/atomic"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	secret := flag.String("secret", "", "whsec_ secret to verify signatures with (default: no check)")
	flag.Parse()
	var wh *standardwebhooks.Webhook
	if *secret != "" {
		var err error
		if wh, err = standardwebhooks.NewWebhook(*secret); err != nil {
			log.Fatalf("hookrecv: -secret: %v", err)
		}
	}
	var received, rejected, events atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil && wh != nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			rejected.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := int64(1)
		if bytes.HasPrefix(body, []byte("[")) {
			if n = objects(body); n < 0 {
				rejected.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		}
		received.Add(1)
		events.Add(n)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "received=%d rejected=%d events=%d\n", received.Load(), rejected.Load(), events.Load())
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// objects counts the objects of a JSON array of objects, -1 when body is not
// one. It only follows strings and nesting: the body's signature was verified,
// so it is the connector's own JSON, whose syntax its tests check; a full
// decode here cost the receiver, which shares the benchmark's two cores with
// the gateway, several microseconds per event.
func objects(body []byte) int64 {
	depth, n := 0, int64(0)
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth == 1 && c == '{' {
				n++
			}
			depth++
		case c == ']' || c == '}':
			depth--
			if depth < 0 {
				return -1
			}
		}
	}
	if depth != 0 || inString {
		return -1
	}
	return n
}
