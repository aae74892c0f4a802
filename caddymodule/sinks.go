package caddymodule

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/loginguard/loginguard/connectors"
	"github.com/loginguard/loginguard/connectors/file"
	"github.com/loginguard/loginguard/connectors/logsink"
	"github.com/loginguard/loginguard/event"
)

func init() {
	caddy.RegisterModule(new(FileSink))
	caddy.RegisterModule(new(LogSink))
}

// Sink is a module of the loginguard.sinks namespace: a connector that receives
// every event of the app.
type Sink interface {
	connectors.Connector
	// SinkName names the sink in logs, metrics and statistics.
	SinkName() string
}

// FileSink appends every event as one JSON line to a file.
type FileSink struct {
	// Path of the file; parent directories are created. Required.
	Path string `json:"path"`
	// Fsync syncs the file after every batch. Default: off.
	Fsync bool `json:"fsync,omitempty"`

	sink *file.Sink
}

// CaddyModule returns the Caddy module information.
func (*FileSink) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard.sinks.file",
		New: func() caddy.Module { return new(FileSink) },
	}
}

// Provision opens the file.
func (f *FileSink) Provision(caddy.Context) error {
	if strings.TrimSpace(f.Path) == "" {
		return fmt.Errorf("sinks file: path: required")
	}
	s, err := file.New(file.Options{Path: f.Path, Mode: 0o600, Fsync: f.Fsync})
	if err != nil {
		return fmt.Errorf("sinks file: path: %w", err)
	}
	f.sink = s
	return nil
}

// SinkName implements Sink.
func (f *FileSink) SinkName() string { return "file" }

// Deliver implements connectors.Connector.
func (f *FileSink) Deliver(ctx context.Context, batch []event.Event) error {
	return f.sink.Deliver(ctx, batch)
}

// Close implements connectors.Connector.
func (f *FileSink) Close() error { return f.sink.Close() }

// UnmarshalCaddyfile sets up the sink from Caddyfile tokens:
//
//	sink file <path> {
//	    fsync
//	}
func (f *FileSink) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "file"
	if !d.NextArg() {
		return d.Errf("sink file: path: required")
	}
	f.Path = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "fsync":
			if d.NextArg() {
				return d.ArgErr()
			}
			f.Fsync = true
		default:
			return d.Errf("sink file: unknown option %q", d.Val())
		}
	}
	return nil
}

// LogSink writes every event to Caddy's log, as one structured entry.
type LogSink struct {
	// Level of the entries: debug, info, warn or error. Default: info.
	Level string `json:"level,omitempty"`

	sink *logsink.Sink
}

// CaddyModule returns the Caddy module information.
func (*LogSink) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "loginguard.sinks.log",
		New: func() caddy.Module { return new(LogSink) },
	}
}

// Provision sets up the sink.
func (l *LogSink) Provision(ctx caddy.Context) error {
	var level slog.Level
	if l.Level == "" {
		l.Level = "info"
	}
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		return fmt.Errorf("sinks log: level: want debug, info, warn or error, got %q", l.Level)
	}
	l.sink = logsink.New(ctx.Slogger(), level)
	return nil
}

// SinkName implements Sink.
func (l *LogSink) SinkName() string { return "log" }

// Deliver implements connectors.Connector.
func (l *LogSink) Deliver(ctx context.Context, batch []event.Event) error {
	return l.sink.Deliver(ctx, batch)
}

// Close implements connectors.Connector.
func (l *LogSink) Close() error { return l.sink.Close() }

// UnmarshalCaddyfile sets up the sink from Caddyfile tokens:
//
//	sink log [<level>]
func (l *LogSink) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // "log"
	if d.NextArg() {
		l.Level = d.Val()
	}
	if d.NextArg() || d.NextBlock(0) {
		return d.ArgErr()
	}
	return nil
}

// Interface guards.
var (
	_ Sink                  = (*FileSink)(nil)
	_ Sink                  = (*LogSink)(nil)
	_ caddy.Provisioner     = (*FileSink)(nil)
	_ caddy.Provisioner     = (*LogSink)(nil)
	_ caddyfile.Unmarshaler = (*FileSink)(nil)
	_ caddyfile.Unmarshaler = (*LogSink)(nil)
)
