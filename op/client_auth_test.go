package op

import (
	"testing"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// RFC 6749 2.3 as Logto's SDKs use it: one method, Basic and body client_id agreeing,
// public clients by client_id alone.
func TestAuthenticateClient(t *testing.T) {
	e := newEnv(t, fakes{})
	web, spa := e.web, e.spa
	secret := e.secrets[web.ID]
	tests := []struct {
		name string
		c    ClientAuth
		want *directory.Application
		code string
	}{
		{"basic", ClientAuth{Basic: true, BasicID: web.ID, BasicSecret: secret}, web, ""},
		{"basic with the same client_id in the body", ClientAuth{Basic: true, BasicID: web.ID, BasicSecret: secret, FormID: web.ID}, web, ""},
		{"post", ClientAuth{FormID: web.ID, FormSecret: secret}, web, ""},
		{"public: client_id alone", ClientAuth{FormID: spa.ID}, spa, ""},
		{"two methods", ClientAuth{Basic: true, BasicID: web.ID, BasicSecret: secret, FormSecret: secret}, nil, oauth.CodeInvalidRequest},
		{"body client_id disagrees with Basic", ClientAuth{Basic: true, BasicID: web.ID, BasicSecret: secret, FormID: spa.ID}, nil, oauth.CodeInvalidClient},
		{"no client", ClientAuth{}, nil, oauth.CodeInvalidRequest},
		{"unknown client", ClientAuth{FormID: "nobody", FormSecret: "x"}, nil, oauth.CodeInvalidClient},
		{"wrong secret", ClientAuth{Basic: true, BasicID: web.ID, BasicSecret: secret + "x"}, nil, oauth.CodeInvalidClient},
		{"confidential without secret", ClientAuth{FormID: web.ID}, nil, oauth.CodeInvalidClient},
		{"public with a secret", ClientAuth{FormID: spa.ID, FormSecret: "x"}, nil, oauth.CodeInvalidClient},
		{"another app's secret", ClientAuth{Basic: true, BasicID: e.other.ID, BasicSecret: secret}, nil, oauth.CodeInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := e.p.AuthenticateClient(tt.c)
			wantCode(t, err, tt.code)
			if (app == nil) != (tt.want == nil) || (app != nil && app.ID != tt.want.ID) {
				t.Fatalf("client %v, want %v", app, tt.want)
			}
		})
	}
}
