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
	"encoding/json"
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
			var arr []json.RawMessage
			if err := json.Unmarshal(body, &arr); err != nil {
				rejected.Add(1)
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			n = int64(len(arr))
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
