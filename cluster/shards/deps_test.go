package shards

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps DESIGN.md's arrows: shards sits on cluster and raftgroup and
// imports no other Latch package (persistence wires in through Replicas, in cmd).
func TestDependencies(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/latchid/latch/") && !strings.HasPrefix(imp, "github.com/latchid/latch/cluster") {
			t.Errorf("%s imports %s; shards must not depend on Latch packages outside cluster", pkg.ImportPath, imp)
		}
	}
}
