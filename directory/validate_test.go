package directory

import (
	"errors"
	"testing"
)

func TestSafeRedirectURI(t *testing.T) {
	tests := []struct {
		uri     string
		appType AppType
		want    bool
	}{
		{"https://app.example/cb", AppTraditional, true},
		{"http://localhost:3000/cb?x=1", AppSPA, true},
		{"HTTPS://app.example/cb", AppSPA, true},
		{"https://app.example/cb", AppNative, true},
		{"http://127.0.0.1:8080/cb", AppNative, true},
		{"io.logto://callback", AppNative, true},
		{"com.example.app:/cb", AppNative, true},
		{"io.logto.SwiftUI-Demo://callback", AppNative, true},
		// Custom schemes are for Native apps only.
		{"io.logto://callback", AppSPA, false},
		{"io.logto://callback", AppTraditional, false},
		{"io.logto://callback", AppMachineToMachine, false},
		// Never a script, an inline document or a local file, for any type.
		{"javascript:alert(1)", AppTraditional, false},
		{"javascript:alert(1)", AppNative, false},
		{"JavaScript:alert(document.cookie)//", AppNative, false},
		{"javascript://app.example/%0aalert(1)", AppNative, false},
		{"vbscript:msgbox(1)", AppNative, false},
		{"data:text/html,<script>alert(1)</script>", AppNative, false},
		{"data:text/html;base64,PHNjcmlwdD4=", AppSPA, false},
		{"file:///etc/passwd", AppNative, false},
		{"blob:https://app.example/1234", AppNative, false},
		{"filesystem:https://app.example/temporary/x", AppNative, false},
		{" javascript:alert(1)", AppNative, false},
		{"java\tscript:alert(1)", AppNative, false},
		{"java\x00script:alert(1)", AppNative, false},
		// Not absolute, fragments, hostless web URIs.
		{"", AppSPA, false},
		{"/cb", AppSPA, false},
		{"app.example/cb", AppNative, false},
		{"https:///cb", AppSPA, false},
		{"https://app.example/cb#frag", AppSPA, false},
		{"1app://cb", AppNative, false},
	}
	for _, tt := range tests {
		if got := SafeRedirectURI(tt.uri, tt.appType); got != tt.want {
			t.Errorf("SafeRedirectURI(%q, %s) = %v, want %v", tt.uri, tt.appType, got, tt.want)
		}
	}
}

// TestApplicationRefusesDangerousRedirects is the regression test of issue 12: a
// javascript: (data:, vbscript:, file:) redirect, post-logout redirect or back-channel
// logout URI was stored and later used in a 303 and in the form_post page.
func TestApplicationRefusesDangerousRedirects(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	meta := func(field, uri string) OIDCClientMetadata {
		switch field {
		case "oidcClientMetadata.redirectUris":
			return OIDCClientMetadata{RedirectURIs: []string{"https://ok.example/cb", uri}}
		case "oidcClientMetadata.postLogoutRedirectUris":
			return OIDCClientMetadata{PostLogoutRedirectURIs: []string{uri}}
		}
		return OIDCClientMetadata{BackchannelLogoutURI: uri}
	}
	fields := []string{"oidcClientMetadata.redirectUris", "oidcClientMetadata.postLogoutRedirectUris", "oidcClientMetadata.backchannelLogoutUri"}
	uris := []string{"javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd"}
	for _, typ := range []AppType{AppNative, AppSPA, AppTraditional} {
		for _, field := range fields {
			for _, uri := range uris {
				_, _, err := d.CreateApplication(t.Context(), NewApplication{Name: "a", Type: typ, OIDCClientMetadata: meta(field, uri)})
				var ie *InvalidError
				if !errors.As(err, &ie) || ie.Field != field {
					t.Errorf("create %s with %s %q: err = %v, want InvalidError on %s", typ, field, uri, err, field)
				}
			}
		}
	}
	// Custom schemes: Native only; back-channel logout is http(s) for every type.
	if _, _, err := d.CreateApplication(t.Context(), NewApplication{Name: "a", Type: AppSPA, OIDCClientMetadata: meta(fields[0], "io.logto://callback")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("SPA with a custom scheme: err = %v, want ErrInvalid", err)
	}
	if _, _, err := d.CreateApplication(t.Context(), NewApplication{Name: "a", Type: AppNative, OIDCClientMetadata: meta(fields[2], "io.logto://logout")}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Native with a custom-scheme back-channel URI: err = %v, want ErrInvalid", err)
	}
	if len(d.Applications()) != 0 {
		t.Fatalf("refused applications were stored: %d", len(d.Applications()))
	}

	// An update cannot add one either.
	a, _ := mustApp(t, d, NewApplication{Name: "n", Type: AppNative, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"io.logto://callback"}}})
	for _, field := range fields {
		_, err := d.UpdateApplication(t.Context(), a.ID, func(a *Application) error {
			m := meta(field, "javascript:alert(1)")
			a.OIDCClientMetadata = m
			return nil
		})
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != field {
			t.Errorf("update %s: err = %v, want InvalidError on %s", field, err, field)
		}
	}
	if got, _ := d.Application(a.ID); got.OIDCClientMetadata.RedirectURIs[0] != "io.logto://callback" {
		t.Fatalf("refused update was stored: %+v", got.OIDCClientMetadata)
	}
}

func FuzzSafeRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "io.logto://cb", "javascript:alert(1)", "data:,x", "JaVaScRiPt:x", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		for _, typ := range []AppType{AppNative, AppSPA, AppTraditional} {
			if !SafeRedirectURI(uri, typ) {
				continue
			}
			scheme := ""
			for i := 0; i < len(uri) && uri[i] != ':'; i++ {
				c := uri[i]
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				scheme += string(c)
			}
			if dangerousSchemes[scheme] {
				t.Fatalf("SafeRedirectURI(%q, %s) = true for a dangerous scheme", uri, typ)
			}
			if typ != AppNative && scheme != "http" && scheme != "https" {
				t.Fatalf("SafeRedirectURI(%q, %s) = true for a non-web scheme", uri, typ)
			}
		}
	})
}
