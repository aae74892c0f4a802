// Package admin will hold loginguard's admin API handler, web console and CLI
// subcommands. It talks to the stores through small interfaces and never imports
// the Caddy module package.
package admin
