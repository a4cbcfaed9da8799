package op

import (
	"slices"
	"testing"

	"github.com/latchid/latch/directory"
)

// TestSafeRedirectURIs is the use-time half of issue 12's redirect-URI fix: a
// registered URI with a dangerous scheme (stored before the Management API refused
// it) is never one the flows redirect to.
func TestSafeRedirectURIs(t *testing.T) {
	registered := []string{
		"https://app.example.com/callback",
		"javascript:alert(document.cookie)",
		"data:text/html,<script>alert(1)</script>",
		"VBScript:msgbox(1)",
		"io.logto://callback",
	}
	tests := []struct {
		name string
		typ  directory.AppType
		want []string
	}{
		{"traditional keeps http(s) only", directory.AppTraditional, []string{"https://app.example.com/callback"}},
		{"spa keeps http(s) only", directory.AppSPA, []string{"https://app.example.com/callback"}},
		{"native also keeps a custom scheme", directory.AppNative, []string{"https://app.example.com/callback", "io.logto://callback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := safeRedirectURIs(registered, tt.typ)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("safeRedirectURIs = %q, want %q", got, tt.want)
			}
		})
	}
	if len(registered) != 5 || registered[1] != "javascript:alert(document.cookie)" {
		t.Fatal("safeRedirectURIs changed its argument")
	}
}
