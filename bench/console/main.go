// Command console measures the web console over a large login log: it fills a
// SQLite login log with generated events (90 days ending now, 100k users, 20%
// failures, 10% logouts), serves the admin handler over it, and times in
// headless chromium how long a fresh load of the console takes to show the
// Login Logs first page (last 30 days, 20 rows and the total) and to render the
// 30-day dashboard (stats, suspicious activity, connectors), from the start of
// the navigation to the last node drawn.
//
//	go run ./bench/console -events 10000000
//	go run ./bench/console -db /tmp/console.db -reuse   (skip seeding)
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/event"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

const token = "bench-console-admin-token"

func main() {
	n := flag.Int("events", 10_000_000, "events to seed")
	db := flag.String("db", "", "SQLite file (default: a temporary file, removed at the end)")
	reuse := flag.Bool("reuse", false, "use the events already in -db instead of seeding")
	runs := flag.Int("runs", 7, "page loads measured per figure (after one warm-up)")
	batch := flag.Int("batch", 500, "events per Deliver call")
	flag.Parse()
	ctx := context.Background()

	path := *db
	if path == "" {
		dir, err := os.MkdirTemp("", "bench-console")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		path = dir + "/log.db"
	}
	if !*reuse {
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(f)
		}
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	if !*reuse {
		seed(ctx, st, *n, *batch)
	}

	h, err := admin.New(admin.Options{
		Store:      st,
		Connectors: func() []connectors.Stats { return []connectors.Stats{{Name: "store", Delivered: uint64(*n)}} },
		Tokens:     []admin.Token{{Hash: admin.HashToken(token), Scope: admin.ScopeAdmin, Name: "bench"}},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = http.Serve(l, h) }()
	base := "http://" + l.Addr().String()

	bctx, stop := browser()
	defer stop()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/")); err != nil {
		log.Fatalf("opening the console: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`sessionStorage.setItem('loginguard.token', `+strconv.Quote(token)+`), true`)); err != nil {
		log.Fatal(err)
	}
	measure := func(name, hash, done string, target float64) {
		var shown []float64
		for i := range *runs + 1 {
			c, cancel := context.WithTimeout(bctx, 2*time.Minute)
			err := chromedp.Do(c, chromedp.Navigate(fmt.Sprintf("%s/?run=%d%s", base, i, hash)))
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			v, err := chromedp.Run(c, chromedp.Poll[string](done, chromedp.WithPollingTimeout(2*time.Minute)))
			cancel()
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			ms, _ := strconv.ParseFloat(v, 64)
			if i > 0 { // the first load warms the browser's and SQLite's caches
				shown = append(shown, ms)
			} else {
				fmt.Printf("%-48s %8.0f ms (first, cold load)\n", name, ms)
			}
		}
		slices.Sort(shown)
		med := shown[len(shown)/2]
		verdict := "ok"
		if med > target {
			verdict = "MISSED"
		}
		fmt.Printf("%-48s %8.0f ms median, %.0f max of %d  target <= %.0f ms  %s\n", name, med, shown[len(shown)-1], len(shown), target, verdict)
	}
	var total string
	measure("Login Logs first page (30 days, 20 rows, total)", "#/logs",
		`document.querySelector('#logs-table[data-shown]') && document.querySelector('#logs-table').dataset.shown`, 300)
	total, _ = chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('logs-total').textContent`))
	fmt.Printf("%-48s %s\n", "  (the page's total)", total)
	measure("Dashboard, 30 days", "#/dashboard",
		`document.querySelector('#view[data-shown]') && document.getElementById('view').dataset.shown`, 1500)
	total, _ = chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#total-attempts .num').textContent`))
	fmt.Printf("%-48s %s\n", "  (the dashboard's attempts)", total)
}

// browser starts Debian's headless chromium with a fresh profile.
func browser() (context.Context, func()) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		log.Fatal("chromium is not installed: apt-get install -y chromium")
	}
	dir, err := os.MkdirTemp("", "bench-console-profile")
	if err != nil {
		log.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800)}
	for _, f := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"disable-background-networking", "disable-component-update", "disable-sync"} {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	return ctx, func() { cancelCtx(); cancelAlloc(); os.RemoveAll(dir) }
}

// seed delivers n generated events in time order and prints how long it took.
func seed(ctx context.Context, st *sqlite.Store, n, batch int) {
	r := rand.New(rand.NewPCG(7, 11))
	end := time.Now().UTC().Truncate(time.Millisecond)
	start := end.Add(-90 * 24 * time.Hour)
	span := end.Sub(start).Milliseconds()
	const users, homeIPs, botIPs = 100_000, 300_000, 5_000
	reasons := []event.Reason{event.BadCredentials, event.BadCredentials, event.BadCredentials, event.BadCredentials,
		event.AccountNotFound, event.MFAFailed, event.Locked, event.RateLimited, event.Disabled}
	t0 := time.Now()
	buf := make([]event.Event, 0, batch)
	for i := range n {
		at := start.Add(time.Duration(int64(i)*span/int64(n)) * time.Millisecond)
		u := int(r.Float64() * r.Float64() * users)
		email := fmt.Sprintf("user%d@example%d.com", u, u%50)
		ipn := (u*3 + r.IntN(3)) % homeIPs
		e := event.Event{ID: v7(at, r), Source: event.SourcePortal, Email: event.Str(email), EventDate: at,
			EventType: event.LoginSuccess, PortalID: event.Str(fmt.Sprintf("portal-%d", u%5)), UserAgent: "Mozilla/5.0",
			Host: "portal.example.com", Path: "/api/login"}
		switch x := r.IntN(100); {
		case x < 10: // from bots
			ipn = homeIPs + r.IntN(botIPs)
			fallthrough
		case x < 20:
			e.EventType = event.LoginFailure
			e.Reason = reasons[r.IntN(len(reasons))]
			if e.Reason == event.BadCredentials {
				e.Message = event.Str("Account " + email + " failed authentication due to 1 failed login attempts")
				e.FailureCount = 1
			} else {
				e.Message = event.Str("Authentication failed -> " + string(e.Reason))
			}
			e.ErrorType = event.Str("AuthenticationException")
		case x < 30:
			e.EventType = event.Logout
		default:
			e.DisplayName = event.Str(fmt.Sprintf("User %d", u))
		}
		e.RemoteAddress = fmt.Sprintf("%d.%d.%d.%d", 11+ipn>>24&0x7f, ipn>>16&0xff, ipn>>8&0xff, ipn&0xff)
		buf = append(buf, e)
		if len(buf) == batch || i == n-1 {
			if err := st.Deliver(ctx, buf); err != nil {
				log.Fatalf("deliver: %v", err)
			}
			buf = buf[:0]
		}
		if (i+1)%1_000_000 == 0 {
			fmt.Fprintf(os.Stderr, "seeded %d events in %s\n", i+1, time.Since(t0).Round(time.Second))
		}
	}
	d := time.Since(t0)
	fmt.Printf("%-48s %8s (%d events, %.0f events/s)\n", "seeding", d.Round(time.Second), n, float64(n)/d.Seconds())
}

// v7 is a UUIDv7 of the time at.
func v7(at time.Time, r *rand.Rand) string {
	var u uuid.UUID
	ms := at.UnixMilli()
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	for i := 6; i < 16; i++ {
		u[i] = byte(r.Uint32())
	}
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}
