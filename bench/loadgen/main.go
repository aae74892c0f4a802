// Command loadgen sends login POSTs to a URL at a fixed rate (open loop: a slow
// answer does not slow the sending) and prints the latency percentiles, measured
// from when each request was due, so that queueing is not hidden.
//
//	go run ./bench/loadgen -url http://127.0.0.1:8080/api/login -rate 1000 -duration 5s
//
// The bodies follow bench/gateway.sh's mix: one in -success-every logs in
// active@example.com with its password, the others are unknown accounts. With
// -account, every request is a wrong password for that one account (a flood).
//
// It is meant to cost the machine little, so that on a small benchmark machine
// the latencies are the server's and not the load generator's: requests are
// written as raw HTTP/1.1 on -conns kept-alive connections, each request due
// goes to the first idle connection, and a request due while every connection
// is busy waits for one (its wait is part of its latency).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	rawURL := flag.String("url", "", "login URL (http://host:port/path)")
	rate := flag.Float64("rate", 1000, "requests per second")
	duration := flag.Duration("duration", 5*time.Second, "how long to send")
	accounts := flag.Int("accounts", 5000, "distinct unknown accounts")
	every := flag.Int("success-every", 32, "one successful login in this many")
	conns := flag.Int("conns", 128, "connections")
	target := flag.String("account", "", "send only wrong passwords for this account (a flood)")
	flag.Parse()
	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || *rate <= 0 || *conns <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: an http:// -url, a positive -rate and -conns are required")
		os.Exit(2)
	}
	path := u.RequestURI()
	request := func(i int) []byte {
		body := fmt.Sprintf(`{"email":"user%d@example.org","password":"guess-%d"}`, i%*accounts, i)
		if *target != "" {
			body = fmt.Sprintf(`{"email":%q,"password":"guess-%d"}`, *target, i)
		} else if i%*every == 0 {
			body = `{"email":"active@example.com","password":"correct-horse"}`
		}
		return fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			path, u.Host, len(body), body)
	}

	interval := time.Duration(float64(time.Second) / *rate)
	n := int(duration.Seconds() * *rate)
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, n)
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	failed := 0
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			for j := range jobs {
				ok := false
				// A kept-alive connection the server has closed fails at once:
				// dial again, once.
				for try := 0; try < 2; try++ {
					fresh := c == nil
					if fresh {
						if c, err = net.Dial("tcp", u.Host); err != nil {
							c = nil
							break
						}
						br = bufio.NewReader(c)
					}
					status, keep, err := exchange(c, br, request(j.i))
					if !keep {
						c.Close()
						c = nil
					}
					if err == nil {
						ok = status < 500 && status != http.StatusTooManyRequests
						break
					}
					if fresh {
						break
					}
				}
				d := time.Since(j.due)
				mu.Lock()
				lat[j.i] = d
				if !ok {
					failed++
				}
				mu.Unlock()
			}
			if c != nil {
				c.Close()
			}
		}()
	}

	start := time.Now()
	// Sleeping between requests would oversleep at these rates (timers are not
	// finer than about a millisecond): hand out every request that is due, then
	// sleep a millisecond. Latency is measured from each request's due time.
	for i := 0; i < n; {
		for ; i < n && !start.Add(time.Duration(i)*interval).After(time.Now()); i++ {
			jobs <- job{i, start.Add(time.Duration(i) * interval)}
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))]) / 1e6 }
	fmt.Printf("sent=%d rate=%.0f/s failed=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		n, float64(n)/elapsed.Seconds(), failed, pct(0.50), pct(0.99), pct(1))
}

// exchange writes one request and reads its response: its status, and whether
// the connection can carry the next request.
func exchange(c net.Conn, br *bufio.Reader, req []byte) (status int, keep bool, err error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err == nil && !resp.Close, err
}
