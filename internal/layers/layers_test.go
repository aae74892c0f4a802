package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/loginguard/loginguard"

// core lists the packages (go list patterns under the module) that must not
// import Caddy, directly or through another package.
var core = []string{
	"/policy", "/state/...", "/logstore/...", "/connectors/...", "/event", "/alerts/...",
	"/enrich/...", "/pwned", "/telemetry", "/selfservice", "/ratelimit", "/gateway",
}

// forbidden reports whether a package of that import path may not be
// imported by the core.
func forbidden(path string) bool {
	return strings.HasPrefix(path, "github.com/caddyserver/") || path == module+"/caddymodule"
}

// TestCoreIsCaddyFree: no core package imports Caddy or caddymodule; a
// failure names the chain of imports that reaches it.
func TestCoreIsCaddyFree(t *testing.T) {
	args := []string{"list", "-deps", "-json=ImportPath,Imports,DepOnly"}
	for _, p := range core {
		args = append(args, module+p)
	}
	cmd := exec.Command("go", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		DepOnly    bool
	}
	imports := map[string][]string{}
	var roots []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		imports[p.ImportPath] = p.Imports
		if !p.DepOnly {
			roots = append(roots, p.ImportPath)
		}
	}
	if len(roots) < len(core) {
		t.Fatalf("go list matched %d packages for %d patterns: %v", len(roots), len(core), roots)
	}
	for _, root := range roots {
		if chain := reach(root, imports); chain != nil {
			t.Errorf("%s imports %s: %s", strings.TrimPrefix(root, module+"/"), chain[len(chain)-1], strings.Join(chain, " → "))
		}
	}
}

// reach returns the shortest chain of imports from root to a forbidden
// package, or nil.
func reach(root string, imports map[string][]string) []string {
	from := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if forbidden(p) {
			var chain []string
			for q := p; q != ""; q = from[q] {
				chain = append(chain, q)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range imports[p] {
			if _, seen := from[q]; !seen {
				from[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}
