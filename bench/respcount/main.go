// Command respcount is a TCP proxy in front of Redis that counts what its
// clients send: commands (by name) and round trips, and of those the ones that
// carry a script call on a given key prefix (the alert engine's windows), so
// that a benchmark can tell the alert engine's Redis traffic from the state
// store's when both share one client.
//
//	go run ./bench/respcount -listen 127.0.0.1:7001 -upstream 127.0.0.1:6379 -http 127.0.0.1:7002
//	curl -s 127.0.0.1:7002/counts   # one line of key=value counts since the last reset
//	curl -s 127.0.0.1:7002/reset    # the counts since the last reset, and zero them
//
// A round trip is counted when a client sends a command on a connection whose
// every earlier command has been answered (the proxy parses the replies, RESP2
// and RESP3): a pipeline is one round trip, however many commands it carries
// and however many reads its bytes take. It is an alert round trip when at
// least one of its commands is an EVALSHA or EVAL whose first key starts with
// -prefix; such a command is an alert command. Inline commands and replies
// that are not RESP are counted as one command or reply per line.
//
// The proxy adds a hop to every call: measure throughput without it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// counts are the proxy's counters since the last reset.
type counts struct {
	mu                          sync.Mutex
	roundTrips, alertRoundTrips int64
	commands, alertCommands     int64
	clientBytes, serverBytes    int64
	byName                      map[string]int64
	connections                 int64
}

func (c *counts) line(reset bool) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	var by []string
	for _, n := range names {
		by = append(by, n+":"+strconv.FormatInt(c.byName[n], 10))
	}
	s := fmt.Sprintf("roundtrips=%d alert_roundtrips=%d commands=%d alert_commands=%d client_bytes=%d server_bytes=%d connections=%d by_command=%s\n",
		c.roundTrips, c.alertRoundTrips, c.commands, c.alertCommands, c.clientBytes, c.serverBytes, c.connections, strings.Join(by, ","))
	if reset {
		c.roundTrips, c.alertRoundTrips, c.commands, c.alertCommands = 0, 0, 0, 0
		c.clientBytes, c.serverBytes, c.connections = 0, 0, 0
		c.byName = map[string]int64{}
	}
	return s
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address the clients connect to")
	upstream := flag.String("upstream", "127.0.0.1:6379", "Redis address")
	httpAddr := flag.String("http", "127.0.0.1:0", "address of /counts and /reset")
	prefix := flag.String("prefix", "loginguard:alerts:", "first key prefix of the script calls counted apart")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	hln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Fatal(err)
	}
	c := &counts{byName: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/counts", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, c.line(false)) })
	mux.HandleFunc("/reset", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, c.line(true)) })
	go func() { log.Fatal(http.Serve(hln, mux)) }()
	log.Printf("respcount: %s -> %s, counts on http://%s/counts", ln.Addr(), *upstream, hln.Addr())
	for {
		cl, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go proxy(cl, *upstream, []byte(*prefix), c)
	}
}

// proxy copies between the client cl and a new connection to upstream,
// counting as it goes.
func proxy(cl net.Conn, upstream string, prefix []byte, c *counts) {
	defer cl.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Print(err)
		return
	}
	defer up.Close()
	c.mu.Lock()
	c.connections++
	c.mu.Unlock()
	var pending atomic.Int64 // commands sent and not yet answered
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cl.Close()
		var buf []byte
		b := make([]byte, 256<<10)
		for {
			n, err := up.Read(b)
			if n > 0 {
				buf = append(buf, b[:n]...)
				k, replies := 0, int64(0)
				for {
					m, counted, ok := skipReply(buf[k:])
					if !ok {
						break
					}
					k += m
					if counted {
						replies++
					}
				}
				buf = append(buf[:0], buf[k:]...)
				// Answered before the client can see the answers, so that its
				// next command finds them counted.
				pending.Add(-replies)
				if _, werr := cl.Write(b[:n]); werr != nil {
					return
				}
				c.mu.Lock()
				c.serverBytes += int64(n)
				c.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	var buf []byte
	b := make([]byte, 256<<10)
	alertTrip := false
	for {
		n, err := cl.Read(b)
		if n > 0 {
			// A new round trip: every command sent so far is answered, and no
			// part of one waits here for the rest of its bytes.
			newTrip := pending.Load() == 0 && len(buf) == 0
			if _, werr := up.Write(b[:n]); werr != nil {
				break
			}
			buf = append(buf, b[:n]...)
			k := 0
			var cmds, alertCmds int64
			var names []string
			for {
				m, args, ok := parseCommand(buf[k:])
				if !ok {
					break
				}
				k += m
				if len(args) == 0 {
					continue
				}
				cmds++
				name := strings.ToLower(string(args[0]))
				names = append(names, name)
				if (name == "evalsha" || name == "eval") && len(args) > 3 && string(args[2]) != "0" && bytes.HasPrefix(args[3], prefix) {
					alertCmds++
				}
			}
			buf = append(buf[:0], buf[k:]...)
			pending.Add(cmds)
			c.mu.Lock()
			c.clientBytes += int64(n)
			if newTrip && cmds > 0 {
				c.roundTrips++
				alertTrip = false
			}
			if alertCmds > 0 && !alertTrip {
				alertTrip = true
				c.alertRoundTrips++
			}
			c.commands += cmds
			c.alertCommands += alertCmds
			for _, nm := range names {
				c.byName[nm]++
			}
			c.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	up.Close()
	<-done
}

var errShort = errors.New("short")

// line returns the length of the line at the start of b up to "\r\n" (or "\n"),
// the line without it, and whether b holds the whole line.
func line(b []byte) (int, []byte, bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, nil, false
	}
	l := b[:i]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return i + 1, l, true
}

// parseCommand parses the command at the start of b: a RESP array of bulk
// strings, or an inline command (a line of words). It returns the bytes it
// took, the arguments (slices of b) and whether b held the whole command.
func parseCommand(b []byte) (int, [][]byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	n, l, ok := line(b)
	if !ok {
		return 0, nil, false
	}
	if b[0] != '*' {
		return n, bytes.Fields(l), true
	}
	count, err := strconv.Atoi(string(l[1:]))
	if err != nil {
		return n, nil, true
	}
	args := make([][]byte, 0, min(count, 8))
	for range count {
		m, h, ok := line(b[n:])
		if !ok {
			return 0, nil, false
		}
		if len(h) == 0 || h[0] != '$' {
			return n + m, args, true // not RESP: skip the line
		}
		size, err := strconv.Atoi(string(h[1:]))
		if err != nil || size < 0 {
			n += m
			continue
		}
		if len(b) < n+m+size+2 {
			return 0, nil, false
		}
		args = append(args, b[n+m:n+m+size])
		n += m + size + 2
	}
	return n, args, true
}

// skipReply skips the reply at the start of b (RESP2 or RESP3). It returns the
// bytes it took, whether it is an answer to a command (push messages are not),
// and whether b held the whole reply.
func skipReply(b []byte) (int, bool, bool) {
	n, err := skipValue(b)
	if err != nil {
		return 0, false, false
	}
	return n, b[0] != '>', true
}

func skipValue(b []byte) (int, error) {
	n, l, ok := line(b)
	if !ok || len(l) == 0 {
		if ok {
			return n, nil
		}
		return 0, errShort
	}
	switch l[0] {
	case '$', '!', '=': // bulk strings
		size, err := strconv.Atoi(string(l[1:]))
		if err != nil || size < 0 {
			return n, nil
		}
		if len(b) < n+size+2 {
			return 0, errShort
		}
		return n + size + 2, nil
	case '*', '~', '>', '%', '|': // arrays, sets, pushes, maps, attributes
		count, err := strconv.Atoi(string(l[1:]))
		if err != nil || count < 0 {
			return n, nil
		}
		if l[0] == '%' || l[0] == '|' {
			count *= 2
		}
		for range count {
			m, err := skipValue(b[n:])
			if err != nil {
				return 0, err
			}
			n += m
		}
		if l[0] == '|' { // an attribute precedes the reply it describes
			m, err := skipValue(b[n:])
			if err != nil {
				return 0, err
			}
			n += m
		}
		return n, nil
	default: // + - : _ , # ( and anything else: one line
		return n, nil
	}
}
