package op

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// AuthorizeRequest is a request to the authorization endpoint (OIDC Core 3.1.2) as the
// edge decoded it: the parameters (query for GET, form for POST) and the _session
// cookie.
type AuthorizeRequest struct {
	Params        url.Values
	SessionCookie string
}

// AuthorizeResult is what the edge does next. Exactly one of Response and SignIn is
// set.
type AuthorizeResult struct {
	// Response is delivered to the client: a code (SSO through a live session) or an
	// error the client may see.
	Response *ClientResponse
	// SignIn: the request waits in an Interaction; the browser goes to the sign-in UI
	// with the interaction cookie.
	SignIn *SignIn
}

// SignIn is a pending sign-in the browser is sent to.
type SignIn struct {
	// Interaction is the _interaction cookie to set (the interaction uid).
	Interaction CookieUpdate
	// Register: the request asks for the sign-up screen first.
	Register bool
	// Consent: the user is signed in already; the browser goes to the consent page
	// (a third-party application, consent.go).
	Consent bool
}

// Authorize runs the authorization endpoint.
//
// An error is shown to the user, never redirected (OIDC Core 3.1.2.6: the redirect URI
// or client could not be trusted). A valid request with a live browser session (and no
// prompt=login, no exceeded max_age) is answered at once with a code (SSO). Otherwise
// the request is stored in an Interaction and the browser goes to the sign-in UI;
// Resume continues once the Experience API has submitted it. Errors after validation
// go to the client's redirect URI.
func (b *Browser) Authorize(ctx context.Context, in AuthorizeRequest) (*AuthorizeResult, error) {
	req, err := oidcflow.ValidateAuthorize(in.Params, b.authorizeEnv())
	if err != nil {
		var ae *oidcflow.AuthorizeError
		if errors.As(err, &ae) && ae.Redirectable() {
			return &AuthorizeResult{Response: b.errorResponse(ae.RedirectURI, ae.ResponseMode, ae.State, ae.Err)}, nil
		}
		return nil, err
	}
	app, ok := b.Directory.Application(req.ClientID)
	if !ok { // deleted between validation and here
		return nil, oauth.InvalidClient("unknown client_id")
	}
	sess, err := b.liveSession(ctx, in.SessionCookie)
	if err != nil {
		return b.redirectError(req, err), nil
	}
	if sess != nil && !req.HasPrompt(oidcflow.PromptLogin) && freshFor(sess.Session, req.MaxAge, b.Now()) {
		if err := checkAppAccess(b.Directory, app.ID, sess.AccountID); err != nil {
			return b.redirectError(req, err), nil // app_access.go
		}
		if user, ok := b.Directory.User(sess.AccountID); ok && b.needsConsent(app, user, req, b.Now()) {
			// A third-party app the user has not consented to (consent.go): the consent
			// page, for an interaction already signed in with the session.
			if req.HasPrompt(oidcflow.PromptNone) {
				return b.redirectError(req, consentRequired("the user has not consented to this application")), nil
			}
			return b.consentInteraction(ctx, req, sess)
		}
		code, err := b.issueCode(ctx, req, app, sess, sess.LoginAt, sess.AMR)
		if err != nil {
			return b.redirectError(req, err), nil
		}
		return &AuthorizeResult{Response: b.codeResponse(req, code)}, nil
	}
	if req.HasPrompt(oidcflow.PromptNone) {
		// OIDC Core 3.1.2.6: prompt=none and the user would have to sign in.
		return b.redirectError(req, loginRequired("no live session")), nil
	}

	uid, err := RandomID(b.Rand)
	if err != nil {
		return b.redirectError(req, err), nil
	}
	it := &Interaction{UID: uid, Request: req}
	if sess != nil {
		it.SessionID = sess.ID
	}
	if err := b.Interactions.Create(ctx, it); err != nil {
		return b.redirectError(req, err), nil
	}
	return &AuthorizeResult{SignIn: &SignIn{
		Interaction: CookieUpdate{Value: uid, MaxAge: b.Lifetimes.Interaction},
		Register:    req.FirstScreen == oidcflow.ScreenRegister,
	}}, nil
}

// consentInteraction stores req in an interaction already submitted for the session's
// account, and sends the browser to the consent page.
func (b *Browser) consentInteraction(ctx context.Context, req *oidcflow.AuthRequest, sess *cookieSession) (*AuthorizeResult, error) {
	uid, err := RandomID(b.Rand)
	if err != nil {
		return b.redirectError(req, err), nil
	}
	it := &Interaction{UID: uid, Request: req, SessionID: sess.ID, AccountID: sess.AccountID,
		Submitted: true, LoginAt: sess.LoginAt, AMR: sess.AMR}
	if err := b.Interactions.Create(ctx, it); err != nil {
		return b.redirectError(req, err), nil
	}
	return &AuthorizeResult{SignIn: &SignIn{
		Interaction: CookieUpdate{Value: uid, MaxAge: b.Lifetimes.Interaction},
		Consent:     true,
	}}, nil
}

// liveSession is the session of the _session cookie with its secret, or nil when there
// is none, it ended or expired, or its account can no longer sign in. Only a failure to
// reach the Session grain is an error.
func (b *Browser) liveSession(ctx context.Context, cookie string) (*cookieSession, error) {
	if cookie == "" {
		return nil, nil
	}
	id, secret, ok := SplitToken(cookie)
	if !ok {
		return nil, nil
	}
	s, err := b.Sessions.Session(ctx, id, secret)
	if err != nil {
		if !unavailable(err) {
			return nil, nil // login_required: absent, expired or wrong secret
		}
		return nil, err
	}
	if u, ok := b.Directory.User(s.AccountID); !ok || u.IsSuspended {
		return nil, nil
	}
	return &cookieSession{Session: s, secret: secret}, nil
}

// cookieSession is a live session found through its cookie: it can be changed (its
// secret is known).
type cookieSession struct {
	*Session
	secret string
}

// freshFor applies max_age (OIDC Core 3.1.2.1): the session may be used without a new
// sign-in only if the user authenticated at most maxAge seconds ago.
func freshFor(s *Session, maxAge int64, now time.Time) bool {
	if maxAge < 0 {
		return true
	}
	return now.Sub(s.LoginAt) <= time.Duration(maxAge)*time.Second
}

// authorizeEnv gives the validator its directory lookups.
func (b *Browser) authorizeEnv() oidcflow.AuthorizeEnv {
	return oidcflow.AuthorizeEnv{
		Client: func(id string) (oidcflow.AuthClient, bool) {
			app, ok := b.Directory.Application(id)
			if !ok {
				return oidcflow.AuthClient{}, false
			}
			return oidcflow.AuthClient{
				ID:           app.ID,
				RedirectURIs: safeRedirectURIs(app.OIDCClientMetadata.RedirectURIs, app.Type),
				PKCERequired: app.Type.Public(),
				// Logto's MachineToMachine apps use client_credentials only.
				CodeFlow: app.Type != directory.AppMachineToMachine,
			}, true
		},
		Resource: func(indicator string) bool {
			// Logto's reserved organizations resource, which the SDKs ask for with
			// urn:logto:scope:organizations; the grant remembers it like any other.
			if indicator == oidcflow.ResourceOrganizations {
				return true
			}
			_, ok := b.Directory.ResourceByIndicator(indicator)
			return ok
		},
	}
}

// redirectError sends err to the validated request's redirect URI (RFC 6749 4.1.2.1).
// Errors that are not *oauth.Error are logged and sent as server_error.
func (b *Browser) redirectError(req *oidcflow.AuthRequest, err error) *AuthorizeResult {
	return &AuthorizeResult{Response: b.errorResponse(req.RedirectURI, req.ResponseMode, req.State, b.protocolError(req.ClientID, err))}
}

// protocolError is err as the client may see it: unknown errors are logged and become
// server_error.
func (b *Browser) protocolError(clientID string, err error) *oauth.Error {
	e, ok := oauth.From(err)
	if !ok {
		b.log().Error("authorization failed", "client_id", clientID, "err", err)
	}
	return e
}

func (b *Browser) errorResponse(redirectURI, mode, state string, e *oauth.Error) *ClientResponse {
	return &ClientResponse{RedirectURI: redirectURI, ResponseMode: mode, Params: oidcflow.ErrorParams(e, state, b.Issuer)}
}

func (b *Browser) codeResponse(req *oidcflow.AuthRequest, code string) *ClientResponse {
	return &ClientResponse{RedirectURI: req.RedirectURI, ResponseMode: req.ResponseMode, Params: oidcflow.CodeParams(code, req.State, b.Issuer)}
}

// safeRedirectURIs are the registered redirect URIs the flows may send a browser to
// (directory.SafeRedirectURI): the Management API refuses the others when an app is
// written, and a value stored before that rule, or around the API, counts as not
// registered, so neither a 303 nor the form_post page ever carries it.
func safeRedirectURIs(uris []string, t directory.AppType) []string {
	safe := uris[:0:0]
	for _, u := range uris {
		if directory.SafeRedirectURI(u, t) {
			safe = append(safe, u)
		}
	}
	return safe
}
