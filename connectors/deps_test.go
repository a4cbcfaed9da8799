package connectors_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRule: connectors sit beside op, on the directory and persistence;
// they never reach up into http, actors, cluster or cmd.
func TestDependencyRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"/http", "/actors", "/cluster", "/cmd/", "/op", "/bench"} {
			if strings.HasPrefix(dep, "github.com/latchid/latch"+bad) {
				t.Errorf("connectors depend on %s", dep)
			}
		}
	}
}
