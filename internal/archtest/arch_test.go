// Package archtest keeps DESIGN.md's dependency rule true: arrows point down only.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/latchid/latch/"

// forbidden maps a package prefix (within the module) to the module packages it must not
// depend on, directly or transitively.
var forbidden = map[string][]string{
	"oidcflow/oauth": {"oidcflow", "actors", "http", "cluster", "persistence", "directory", "outbox", "bench", "cmd"},
	"oidcflow":       {"actors", "http", "cluster", "persistence", "directory", "outbox", "bench", "cmd"},
	"persistence":    {"oidcflow", "actors", "http", "cluster", "directory", "outbox", "bench", "cmd"},
	"cluster":        {"oidcflow", "actors", "http", "persistence", "directory", "outbox", "bench", "cmd"},
	// actors implements op's interfaces, so it depends on op and, through op, on the
	// directory and the outbox; grains themselves never import the directory
	// (forbiddenImports).
	"actors": {"http", "bench", "cmd"},
	// op: the flows, between http and the grains; it knows neither. It queues
	// back-channel logouts on the outbox, which is below it.
	"op":        {"actors", "http", "cluster", "bench", "cmd"},
	"directory": {"oidcflow", "actors", "http", "cluster", "outbox", "bench", "cmd"},
	// outbox: the durable back-channel logout queue, over persistence and oidcflow.
	"outbox": {"actors", "http", "cluster", "directory", "bench", "cmd"},
	// http: decode, call one op flow, encode; it never sees a grain or its messages.
	"http":  {"actors", "bench", "cmd"},
	"bench": {"cmd"},
	// metrics: Prometheus adapters of the observers the others declare; a leaf.
	"metrics": {"oidcflow", "actors", "http", "cluster", "persistence", "directory", "outbox", "op", "bench", "cmd"},
}

func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		rule := longestRule(pkg)
		if rule == "" {
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			if !strings.HasPrefix(dep, module) {
				continue
			}
			d := strings.TrimPrefix(dep, module)
			for _, bad := range forbidden[rule] {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					if rule == "oidcflow" && strings.HasPrefix(d, "oidcflow/") {
						continue
					}
					t.Errorf("%s depends on %s: DESIGN.md's arrows point down only", pkg, d)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package checked")
	}
}

// forbiddenImports maps a package (within the module) to the module packages it must not
// import directly. Where a transitive rule cannot hold (op reads the directory, which
// stores in persistence; actors implements op), the direct rule still keeps the layer
// honest.
var forbiddenImports = map[string][]string{
	"op":     {"persistence", "actors", "actors/msg", "cluster"},
	"actors": {"directory"},
	"http":   {"actors", "actors/msg"},
}

func TestDirectImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		bad := forbiddenImports[pkg]
		if pkg == "http" {
			continue // per file: TestHTTPFilesImports
		}
		for _, imp := range fields[1:] {
			for _, b := range bad {
				if imp == module+b {
					t.Errorf("%s imports %s", pkg, b)
				}
			}
		}
	}
}

func longestRule(pkg string) string {
	best := ""
	for p := range forbidden {
		if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// TestMetricsStayAtTheEdge: only metrics (the adapters) and cmd/latch (the wiring, the
// tests' scrapes) import Prometheus; the packages measured declare observers instead,
// so none of them depends on a metrics library.
func TestMetricsStayAtTheEdge(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if pkg == "metrics" || pkg == "cmd/latch" {
			continue
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, "github.com/prometheus/") {
				t.Errorf("%s imports %s: declare an observer and adapt it in metrics", pkg, imp)
			}
		}
	}
}
