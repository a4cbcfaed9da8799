// Package archtest keeps DESIGN.md's dependency rule true: arrows point down only.
package archtest

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
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
	// directory; grains themselves never import the directory (forbiddenImports).
	"actors": {"http", "outbox", "bench", "cmd"},
	// op: the flows, between http and the grains; it knows neither.
	"op":        {"actors", "http", "cluster", "outbox", "bench", "cmd"},
	"directory": {"oidcflow", "actors", "http", "cluster", "outbox", "bench", "cmd"},
	// outbox: the durable back-channel logout queue, over persistence and oidcflow.
	"outbox": {"actors", "http", "cluster", "directory", "bench", "cmd"},
	"http":   {"bench", "cmd"},
	"bench":  {"cmd"},
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
	"http":   {"actors/msg"},
}

// httpFilesStillOnMsg are the files of http that still import actors/msg while issue 12
// moves their flows to op (helper B: authorize, end session, logout fan-out, the
// Experience API, the account index, the Management API's sessions). Each one that
// stops importing it must leave this list; the list must end empty.
var httpFilesStillOnMsg = map[string]bool{
	"account_index.go": true, "experience_identification.go": true, "experience_interaction.go": true,
	"experience_password.go": true, "experience_routes.go": true, "mgmt_user_sessions.go": true,
	"oidc_authorize.go": true, "oidc_logout_fanout.go": true,
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

// TestHTTPFilesImports: http decodes, calls one flow of op and encodes; it never builds
// a grain message (DESIGN.md: "http never imports actors/msg").
func TestHTTPFilesImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.Dir}}`, module+"http").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		uses := false
		for _, imp := range af.Imports {
			for _, b := range forbiddenImports["http"] {
				if strings.Trim(imp.Path.Value, `"`) == module+b {
					uses = true
				}
			}
		}
		switch {
		case uses && !httpFilesStillOnMsg[name]:
			t.Errorf("http/%s imports actors/msg: decode, call op, encode", name)
		case !uses && httpFilesStillOnMsg[name]:
			t.Errorf("http/%s no longer imports actors/msg: remove it from httpFilesStillOnMsg", name)
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
