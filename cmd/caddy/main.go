// Command caddy is Caddy with its standard modules and the loginguard plugin.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/loginguard/loginguard"
)

func main() {
	caddycmd.Main()
}
