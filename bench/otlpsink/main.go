// Command otlpsink is an OTLP/HTTP collector for benchmarks: it accepts
// /v1/traces and /v1/metrics, reads each body, counts the requests and bytes,
// and answers with an empty export response. GET /count prints the counts.
//
//	go run ./bench/otlpsink -addr 127.0.0.1:4318
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4318", "listen address")
	flag.Parse()
	var requests, bytes atomic.Int64
	http.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		requests.Add(1)
		bytes.Add(n)
		// An empty ExportTraceServiceResponse / ExportMetricsServiceResponse is
		// zero bytes of protobuf.
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "requests=%d bytes=%d\n", requests.Load(), bytes.Load())
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
