package telemetry

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoCaddy: the package and everything it imports stay free of Caddy (only
// the Caddy module knows Caddy).
func TestNoCaddy(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/caddyserver/") || strings.HasPrefix(p, "github.com/loginguard/loginguard/caddymodule") {
			t.Errorf("telemetry imports %s", p)
		}
	}
}
