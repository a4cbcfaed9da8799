package audit_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps audit just above persistence: the http edge and cmd/latch use
// it; it uses no other Latch package.
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/latchid/latch/") && imp != "github.com/latchid/latch/persistence" {
			t.Errorf("audit imports %s; it may import only persistence", imp)
		}
	}
}
