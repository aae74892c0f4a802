package caddymodule

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/state"
)

func init() {
	caddy.RegisterModule(new(MemoryState))
}

// StateBackend is a module of the loginguard.state namespace: it opens the store
// that holds counters, locks and sessions.
type StateBackend interface {
	// PoolKey identifies the store: two configs with the same key share one
	// store, so a config reload keeps the counters.
	PoolKey() string
	// Open opens the store.
	Open() (state.Store, error)
}

// MemoryState keeps the state in this process's memory: the default, for a
// single Caddy instance. It is bounded: the least recently active accounts that
// are not locked are forgotten first when max_accounts is reached.
type MemoryState struct {
	// MaxAccounts is the most accounts tracked at once. Default: 100000.
	MaxAccounts int `json:"max_accounts,omitempty"`
	// MaxSessions is the most login sessions remembered for logout at once.
	// Default: 100000.
	MaxSessions int `json:"max_sessions,omitempty"`
	// Journal is the file that keeps the account locks and IP blocks across a
	// restart (each synced before it is answered; failure counts start afresh),
	// or "off". One process writes a journal. Default: loginguard/state.journal
	// under Caddy's data directory.
	Journal string `json:"journal,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*MemoryState) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard.state.memory",
		New: func() caddy.Module { return new(MemoryState) },
	}
}

// Provision fills defaults.
func (m *MemoryState) Provision(caddy.Context) error {
	if m.MaxAccounts == 0 {
		m.MaxAccounts = 100000
	}
	if m.MaxSessions == 0 {
		m.MaxSessions = 100000
	}
	if m.Journal == "" {
		m.Journal = filepath.Join(caddy.AppDataDir(), "loginguard", "state.journal")
	}
	return nil
}

// Validate rejects bad settings.
func (m *MemoryState) Validate() error {
	if m.MaxAccounts < 0 {
		return fmt.Errorf("max_accounts: must be positive, got %d", m.MaxAccounts)
	}
	if m.MaxSessions < 0 {
		return fmt.Errorf("max_sessions: must be positive, got %d", m.MaxSessions)
	}
	return nil
}

// PoolKey implements StateBackend.
func (m *MemoryState) PoolKey() string {
	return "memory/" + strconv.Itoa(m.MaxAccounts) + "/" + strconv.Itoa(m.MaxSessions) + "/" + m.Journal
}

// Open implements StateBackend.
func (m *MemoryState) Open() (state.Store, error) {
	o := state.MemoryOptions{MaxAccounts: m.MaxAccounts, MaxSessions: m.MaxSessions}
	if m.Journal == "off" {
		return state.NewMemory(o), nil
	}
	s, err := state.OpenMemory(o, m.Journal)
	if err != nil {
		return nil, fmt.Errorf("state memory: journal: %w", err)
	}
	return s, nil
}

// UnmarshalCaddyfile sets up the memory state from Caddyfile tokens:
//
//	state memory {
//	    max_accounts <n>
//	    max_sessions <n>
//	    journal      <path>|off
//	}
func (m *MemoryState) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "memory"
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "max_accounts", "max_sessions":
			field := d.Val()
			n, err := intArg(d)
			if err != nil {
				return err
			}
			if field == "max_accounts" {
				m.MaxAccounts = n
			} else {
				m.MaxSessions = n
			}
		case "journal":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			m.Journal = v
		default:
			return d.Errf("state memory: unknown option %q", d.Val())
		}
	}
	return nil
}

// intArg reads one positive integer argument of the current directive.
func intArg(d *caddyfile.Dispenser) (int, error) {
	name := d.Val()
	if !d.NextArg() {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(d.Val())
	if err != nil || n <= 0 {
		return 0, d.Errf("%s: want a positive integer, got %q", name, d.Val())
	}
	if d.NextArg() {
		return 0, d.ArgErr()
	}
	return n, nil
}

// Interface guards.
var (
	_ StateBackend          = (*MemoryState)(nil)
	_ caddy.Provisioner     = (*MemoryState)(nil)
	_ caddy.Validator       = (*MemoryState)(nil)
	_ caddyfile.Unmarshaler = (*MemoryState)(nil)
)
