package actors

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps DESIGN.md's arrows: actors may use cluster, persistence and
// oidcflow, and op (whose interfaces it implements), never http, directory, bench or cmd
// directly.
func TestDependencies(t *testing.T) {
	t.Parallel()
	allowed := []string{"actors", "cluster", "persistence", "oidcflow", "op"}
	for _, dir := range []string{".", "msg", "actorstest"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			rest, ok := strings.CutPrefix(imp, "github.com/latchid/latch/")
			if !ok {
				continue
			}
			top, _, _ := strings.Cut(rest, "/")
			found := false
			for _, a := range allowed {
				found = found || top == a
			}
			if !found {
				t.Errorf("%s imports %s; actors may depend only on %v", pkg.ImportPath, imp, allowed)
			}
		}
	}
}
