package directory

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the dependency rule (DESIGN.md): the directory sits on
// persistence and the standard library (plus argon2), never on http, oidcflow,
// actors or cluster.
func TestImports(t *testing.T) {
	allowed := map[string]bool{
		"github.com/latchid/latch/persistence": true,
		"golang.org/x/crypto/argon2":           true,
		"golang.org/x/crypto/bcrypt":           true, // imported password digests
		"github.com/nyaruka/phonenumbers":      true, // Logto's phone normalization
		"github.com/pquerna/otp":               true, // TOTP (RFC 6238), mfa_totp.go
		"github.com/pquerna/otp/totp":          true,
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first := strings.Split(path, "/")[0]
			if !strings.Contains(first, ".") { // standard library
				continue
			}
			if !allowed[path] {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
