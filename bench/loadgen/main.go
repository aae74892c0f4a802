// Command loadgen sends login POSTs to a URL at a fixed rate (open loop: a slow
// answer does not slow the sending) and prints the latency percentiles, measured
// from when each request was due, so that queueing is not hidden.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080/api/login -rate 1000 -duration 5s
//
// The bodies follow bench/gateway.sh's mix: one in -success-every logs in
// active@example.com with its password, the others are unknown accounts.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "login URL")
	rate := flag.Float64("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 5*time.Second, "how long to send")
	accounts := flag.Int("accounts", 5000, "distinct unknown accounts")
	every := flag.Int("success-every", 32, "one successful login in this many")
	flag.Parse()
	if *url == "" || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -url and a positive -rate are required")
		os.Exit(2)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}, Timeout: 10 * time.Second}
	interval := time.Duration(float64(time.Second) / *rate)
	n := int(duration.Seconds() * *rate)
	lat := make([]time.Duration, n)
	failed := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	// Sleeping between requests would oversleep at these rates (timers are not
	// finer than about a millisecond): send every request that is due, then
	// sleep a millisecond. Latency is measured from each request's due time.
	for i := 0; i < n; {
		for ; i < n && !start.Add(time.Duration(i)*interval).After(time.Now()); i++ {
			due := start.Add(time.Duration(i) * interval)
			body := fmt.Sprintf(`{"email":"user%d@example.org","password":"guess-%d"}`, i%*accounts, i)
			if i%*every == 0 {
				body = `{"email":"active@example.com","password":"correct-horse"}`
			}
			wg.Add(1)
			go func(i int, due time.Time, body string) {
				defer wg.Done()
				resp, err := client.Post(*url, "application/json", strings.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				d := time.Since(due)
				mu.Lock()
				lat[i] = d
				if err != nil || resp.StatusCode >= 500 || resp.StatusCode == 429 {
					failed++
				}
				mu.Unlock()
			}(i, due, body)
		}
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))]) / 1e6 }
	fmt.Printf("sent=%d rate=%.0f/s failed=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		n, float64(n)/elapsed.Seconds(), failed, pct(0.50), pct(0.99), pct(1))
}
