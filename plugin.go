// Package loginguard is the loginguard Caddy plugin: login protection and login
// audit for web portals that cannot be changed. Build Caddy with it:
//
//	xcaddy build --with github.com/loginguard/loginguard
//
// Importing this package registers its Caddy modules.
package loginguard

import (
	// The Caddy modules: the loginguard app, handler, state backends and sinks.
	_ "github.com/loginguard/loginguard/caddymodule"
)
