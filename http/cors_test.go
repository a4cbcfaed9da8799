package httpapi

import (
	"testing"

	"github.com/latchid/latch/directory"
)

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://localhost:3000", "http://localhost:3000"},
		{"http://localhost:3000/callback?x=1", "http://localhost:3000"},
		{"HTTPS://App.Example.COM:443/cb", "https://app.example.com"},
		{"http://example.com:80", "http://example.com"},
		{"https://example.com:8443", "https://example.com:8443"},
		{"http://[::1]:8080/cb", "http://[::1]:8080"},
		{"io.logto.app://callback", ""},
		{"null", ""},
		{"", ""},
		{"/relative", ""},
	}
	for _, tt := range tests {
		if got := normalizeOrigin(tt.in); got != tt.want {
			t.Errorf("normalizeOrigin(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestAppAllowsOrigin(t *testing.T) {
	app := &directory.Application{
		OIDCClientMetadata:   directory.OIDCClientMetadata{RedirectURIs: []string{"https://app.example/callback", "io.example://cb"}},
		CustomClientMetadata: directory.CustomClientMetadata{CorsAllowedOrigins: []string{"https://admin.example/"}},
	}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://app.example", true},
		{"https://admin.example", true},
		{"https://app.example:443", true},
		{"http://app.example", false},
		{"https://app.example.evil", false},
		{"https://evil.example", false},
		{"null", false},
		{"io.example://cb", false},
	}
	for _, tt := range tests {
		if got := appAllowsOrigin(app, tt.origin); got != tt.want {
			t.Errorf("appAllowsOrigin(%q) = %v, want %v", tt.origin, got, tt.want)
		}
	}
}
