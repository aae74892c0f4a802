package redisstate

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// parseURL turns Options.URL into the universal client's options (see
// Options.URL for the forms). Errors never repeat the URL: it may hold a
// password.
func parseURL(raw string) (*redis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("missing scheme (want redis://, rediss://, redis+sentinel:// or redis+cluster://)")
	}
	scheme = strings.ToLower(scheme)
	base, mode, _ := strings.Cut(scheme, "+")
	if base != "redis" && base != "rediss" {
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
	if mode != "" && mode != "sentinel" && mode != "cluster" {
		return nil, fmt.Errorf("unknown scheme %q", scheme)
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, errors.New("a fragment (#) is not allowed")
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")

	o := &redis.UniversalOptions{}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		var err error
		if o.Username, o.Password, err = parseUserinfo(authority[:at]); err != nil {
			return nil, err
		}
		authority = authority[at+1:]
	}
	defPort := "6379"
	if mode == "sentinel" {
		defPort = "26379"
	}
	for h := range strings.SplitSeq(authority, ",") {
		addr, err := hostPort(h, defPort)
		if err != nil {
			return nil, err
		}
		o.Addrs = append(o.Addrs, addr)
	}
	if mode == "" && len(o.Addrs) > 1 {
		return nil, errors.New("several hosts need redis+cluster:// or redis+sentinel://")
	}

	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	segs := splitPath(path)
	switch mode {
	case "":
		if len(segs) > 1 {
			return nil, errors.New("path: want /<db>")
		}
		if len(segs) == 1 {
			if o.DB, err = parseDB(segs[0]); err != nil {
				return nil, err
			}
		}
	case "sentinel":
		if len(segs) == 0 || len(segs) > 2 {
			return nil, errors.New("path: want /<master name>[/<db>]")
		}
		if o.MasterName, err = url.PathUnescape(segs[0]); err != nil || o.MasterName == "" {
			return nil, errors.New("path: bad master name")
		}
		if len(segs) == 2 {
			if o.DB, err = parseDB(segs[1]); err != nil {
				return nil, err
			}
		}
		o.SentinelUsername = q.Get("sentinel_username")
		o.SentinelPassword = q.Get("sentinel_password")
		q.Del("sentinel_username")
		q.Del("sentinel_password")
	case "cluster":
		if len(segs) > 0 {
			return nil, errors.New("path: Redis Cluster has no databases")
		}
		o.IsClusterMode = true
	}
	for k := range q {
		return nil, fmt.Errorf("unknown query parameter %q", k)
	}
	if base == "rediss" {
		// The server name is taken from each node's address as it is dialled.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

func parseUserinfo(s string) (user, password string, err error) {
	u, p, hasPassword := strings.Cut(s, ":")
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", errors.New("bad user name")
	}
	if hasPassword {
		if password, err = url.PathUnescape(p); err != nil {
			return "", "", errors.New("bad password")
		}
	}
	return user, password, nil
}

// hostPort checks one host[:port], IPv6 literals in brackets.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", errors.New("empty host")
	}
	host, port := h, defPort
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", fmt.Errorf("host %q: missing ]", h)
		}
		host = h[1:end]
		if tail := h[end+1:]; tail != "" {
			if tail[0] != ':' {
				return "", fmt.Errorf("host %q: junk after ]", h)
			}
			port = tail[1:]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
	}
	if host == "" || strings.ContainsAny(host, " /[]") {
		return "", fmt.Errorf("host %q: bad host name", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("host %q: bad port", h)
	}
	return net.JoinHostPort(host, port), nil
}

func splitPath(p string) []string {
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	return segs
}

func parseDB(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("path: bad database number %q", s)
	}
	return n, nil
}
