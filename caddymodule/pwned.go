package caddymodule

import (
	"cmp"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/pwned"
)

// Pwned says where the routes' breached-password checks look a password up
// (package pwned, docs/breached-passwords.md): a file made by `caddy
// loginguard pwned build` (offline, the default way), or Have I Been Pwned's
// range API. Default: neither, no check.
type Pwned struct {
	// File is the pwned passwords file, memory-mapped; placeholders are
	// replaced, and an empty path turns the check off. A file renamed over
	// it is used without a restart.
	File string `json:"file,omitempty"`
	// Poll is how often the file is looked at for a replacement. Default: 1m.
	Poll caddy.Duration `json:"poll,omitempty"`
	// Online asks the range API instead of a file.
	Online *PwnedOnline `json:"online,omitempty"`
}

// PwnedOnline is the range API's settings: only the first five hex digits of
// a password's SHA-1 sum leave the machine. An answer that does not come in
// time lets the password through unmarked, and is counted.
type PwnedOnline struct {
	// URL is the API's root (GET <url>/range/<prefix>): a self-hosted mirror
	// that answers the same way works too. Default: https://api.pwnedpasswords.com.
	URL string `json:"url,omitempty"`
	// Timeout bounds one range request. Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Cache is how many ranges are kept (about 24 KB each). Default: 1024.
	Cache int `json:"cache,omitempty"`
	// CacheTTL is how long a range is kept. Default: 1h.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`
}

// pwnedPool keeps files and API clients across config reloads.
var pwnedPool = caddy.NewUsagePool()

type pooledChecker struct {
	pwned.Checker
	close func() error
}

func (p pooledChecker) Destruct() error { return p.close() }

// open returns the checker of c (nil when c turns no check on) and its pool
// key, to release in Cleanup.
func (c *Pwned) open(a *App) (pwned.Checker, string, error) {
	if c == nil {
		return nil, "", nil
	}
	file := caddy.NewReplacer().ReplaceKnown(c.File, "")
	switch {
	case file != "" && c.Online != nil:
		return nil, "", fmt.Errorf("pwned: file and online are two ways of asking; choose one")
	case c.Poll < 0:
		return nil, "", fmt.Errorf("pwned poll: must be positive")
	case file == "" && c.Online == nil:
		a.logger.Info("pwned: no file and no online API set: breached-password checks are off")
		return nil, "", nil
	}
	var key string
	var newChecker func() (caddy.Destructor, error)
	if o := c.Online; o != nil {
		opt := pwned.RangeOptions{BaseURL: o.URL, Timeout: time.Duration(o.Timeout), CacheEntries: o.Cache, CacheTTL: time.Duration(o.CacheTTL)}
		key = fmt.Sprintf("online:%q %v %d %v", opt.BaseURL, opt.Timeout, opt.CacheEntries, opt.CacheTTL)
		newChecker = func() (caddy.Destructor, error) {
			rc, err := pwned.NewRangeClient(opt)
			if err != nil {
				return nil, fmt.Errorf("pwned online: %w", err)
			}
			return pooledChecker{rc, func() error { return nil }}, nil
		}
	} else {
		poll := cmp.Or(time.Duration(c.Poll), time.Minute)
		key = fmt.Sprintf("file:%q %v", file, poll)
		newChecker = func() (caddy.Destructor, error) {
			f, err := pwned.Open(file, pwned.Options{PollInterval: poll, Logger: a.logger})
			if err != nil {
				return nil, fmt.Errorf("pwned: %w (make the file with: caddy loginguard pwned build <pwnedpasswords.txt> -o %s)", err, file)
			}
			return pooledChecker{f, f.Close}, nil
		}
	}
	v, _, err := pwnedPool.LoadOrNew(key, newChecker)
	if err != nil {
		return nil, "", err
	}
	return v.(pooledChecker).Checker, key, nil
}

// parsePwned reads
//
//	pwned {
//	    file   [<path>]
//	    poll   <interval>
//	    online [<url>] {
//	        timeout   <duration>
//	        cache     <ranges>
//	        cache_ttl <duration>
//	    }
//	}
//
// A file option without a path (an unset environment variable leaves no
// token) turns the check off.
func parsePwned(d *caddyfile.Dispenser) (*Pwned, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(Pwned)
	err := parseOptions(d, "pwned", map[string]option{
		"file": func(d *caddyfile.Dispenser) error {
			args := d.RemainingArgs()
			if len(args) > 1 {
				return d.Errf("file: want one path")
			}
			if len(args) == 1 {
				c.File = args[0]
			}
			return nil
		},
		"poll": duration(&c.Poll),
		"online": func(d *caddyfile.Dispenser) error {
			o := new(PwnedOnline)
			args := d.RemainingArgs()
			if len(args) > 1 {
				return d.Errf("online: want at most a URL")
			}
			if len(args) == 1 {
				o.URL = args[0]
			}
			c.Online = o
			return parseOptions(d, "online", map[string]option{
				"timeout": duration(&o.Timeout), "cache": integer(&o.Cache), "cache_ttl": duration(&o.CacheTTL),
			})
		},
	})
	return c, err
}
