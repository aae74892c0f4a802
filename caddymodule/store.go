package caddymodule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/logstore"
	"github.com/loginguard/loginguard/logstore/postgres"
	"github.com/loginguard/loginguard/logstore/sqlite"
)

func init() {
	caddy.RegisterModule(new(SQLiteStore))
	caddy.RegisterModule(new(PostgresStore))
}

// LogStoreBackend is a module of the loginguard.stores namespace: it opens the
// login log store that the admin API searches.
type LogStoreBackend interface {
	// PoolKey identifies the store: configs with the same key share it, so a
	// reload keeps one writer.
	PoolKey() string
	// Open opens the store.
	Open(ctx context.Context) (logstore.Store, error)
}

// SQLiteStore keeps the login log in an embedded SQLite file (pure Go): the
// default. One Caddy process writes a file; several instances share a log in
// PostgreSQL.
type SQLiteStore struct {
	// Path of the database file. Default: loginguard/logins.db under Caddy's
	// data directory.
	Path string `json:"path,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (*SQLiteStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.stores.sqlite", New: func() caddy.Module { return new(SQLiteStore) }}
}

// Provision fills the default path.
func (s *SQLiteStore) Provision(caddy.Context) error {
	s.Path = caddy.NewReplacer().ReplaceKnown(s.Path, "")
	if s.Path == "" {
		s.Path = filepath.Join(caddy.AppDataDir(), "loginguard", "logins.db")
	}
	return nil
}

// PoolKey implements LogStoreBackend.
func (s *SQLiteStore) PoolKey() string {
	if p, err := filepath.Abs(s.Path); err == nil {
		return "sqlite:" + p
	}
	return "sqlite:" + s.Path
}

// Open implements LogStoreBackend.
func (s *SQLiteStore) Open(ctx context.Context) (logstore.Store, error) {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return nil, fmt.Errorf("store sqlite: path: %w", err)
	}
	st, err := sqlite.Open(ctx, s.Path, sqlite.Options{})
	if err != nil {
		return nil, fmt.Errorf("store sqlite: path %s: %w", s.Path, err)
	}
	return st, nil
}

// UnmarshalCaddyfile: store sqlite [<path>]
func (s *SQLiteStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "sqlite"
	if d.NextArg() {
		s.Path = d.Val()
	}
	if d.NextArg() || d.NextBlock(0) {
		return d.ArgErr()
	}
	return nil
}

// PostgresStore keeps the login log in PostgreSQL, shared by any number of
// Caddy instances.
type PostgresStore struct {
	// DSN of the database, e.g. postgres://user:pw@host:5432/db. Placeholders
	// such as {env.PG_DSN} are replaced. Required.
	DSN string `json:"dsn"`
	// Schema holds loginguard's tables. Default: loginguard.
	Schema string `json:"schema,omitempty"`

	dsn string
}

// CaddyModule returns the Caddy module information.
func (*PostgresStore) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: "loginguard.stores.postgres", New: func() caddy.Module { return new(PostgresStore) }}
}

// Provision replaces placeholders.
func (p *PostgresStore) Provision(caddy.Context) error {
	p.dsn = caddy.NewReplacer().ReplaceKnown(p.DSN, "")
	if p.dsn == "" {
		return fmt.Errorf("store postgres: dsn: required")
	}
	return nil
}

// PoolKey implements LogStoreBackend.
func (p *PostgresStore) PoolKey() string { return "postgres:" + p.dsn + "/" + p.Schema }

// Open implements LogStoreBackend.
func (p *PostgresStore) Open(ctx context.Context) (logstore.Store, error) {
	st, err := postgres.Open(ctx, p.dsn, postgres.Options{Schema: p.Schema})
	if err != nil {
		return nil, fmt.Errorf("store postgres: %w", err)
	}
	return st, nil
}

// UnmarshalCaddyfile: store postgres <dsn> [{ schema <name> }]
func (p *PostgresStore) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "postgres"
	if !d.NextArg() {
		return d.Errf("store postgres: dsn: required")
	}
	p.DSN = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "schema":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			p.Schema = v
		default:
			return d.Errf("store postgres: unknown option %q", d.Val())
		}
	}
	return nil
}

// Interface guards.
var (
	_ LogStoreBackend       = (*SQLiteStore)(nil)
	_ LogStoreBackend       = (*PostgresStore)(nil)
	_ caddy.Provisioner     = (*SQLiteStore)(nil)
	_ caddy.Provisioner     = (*PostgresStore)(nil)
	_ caddyfile.Unmarshaler = (*SQLiteStore)(nil)
	_ caddyfile.Unmarshaler = (*PostgresStore)(nil)
)
