package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Lifetimes of the browser flow (LOGTO-REFERENCE.md "TTLs").
const (
	interactionTTL = time.Hour
	sessionTTL     = 14 * 24 * time.Hour
	grantTTL       = 180 * 24 * time.Hour
	codeTTL        = 60 * time.Second
)

// Sign-in UI paths /oidc/auth sends the browser to.
const (
	pathSignIn   = "/sign-in"
	pathRegister = "/register"
)

// serveAuthorize is the authorization endpoint (OIDC Core 3.1.2), GET and POST.
//
// A valid request with a live browser session (and no prompt=login, no exceeded
// max_age) is answered at once with a code (SSO). Otherwise the request is stored in an
// Interaction grain, the _interaction cookie points at it, and the browser goes to the
// sign-in UI; /oidc/auth/<uid> resumes once the Experience API has submitted it.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	params, err := authorizeParams(r)
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	req, err := oidcflow.ValidateAuthorize(params, s.authorizeEnv())
	if err != nil {
		s.authorizeFailed(w, r, err)
		return
	}
	if s.actors == nil {
		s.redirectError(w, r, req, oauth.TemporarilyUnavailable("browser sign-in is not enabled on this node"))
		return
	}
	app, ok := s.dir.Application(req.ClientID)
	if !ok { // deleted between validation and here
		s.writeErrorPage(w, r, oauth.InvalidClient("unknown client_id"))
		return
	}
	if app.IsThirdParty {
		// Third-party apps need a consent screen, which Latch does not have yet.
		s.redirectError(w, r, req, consentRequired("third-party applications are not supported yet"))
		return
	}
	ctx := r.Context()
	sess, err := s.liveSession(ctx, r)
	if err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	if sess != nil && !req.HasPrompt(oidcflow.PromptLogin) && sess.freshFor(req.MaxAge, s.now()) {
		code, err := s.issueCode(ctx, req, app, sess, sess.rec.GetLoginAtMs())
		if err != nil {
			s.redirectError(w, r, req, err)
			return
		}
		s.respondToClient(w, r, req.RedirectURI, req.ResponseMode, oidcflow.CodeParams(code, req.State, s.issuer))
		return
	}
	if req.HasPrompt(oidcflow.PromptNone) {
		// OIDC Core 3.1.2.6: prompt=none and the user would have to sign in.
		s.redirectError(w, r, req, loginRequired("no live session"))
		return
	}

	uid, err := s.randomID()
	if err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	now := s.now()
	rec := &msg.InteractionRecord{
		Uid:         uid,
		Request:     authRequestToProto(req),
		CreatedAtMs: now.UnixMilli(),
		ExpiresAtMs: now.Add(interactionTTL).UnixMilli(),
	}
	if sess != nil {
		rec.SessionId = sess.id
	}
	if _, err := s.actors.CreateInteraction(ctx, rec); err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	s.setCookie(w, cookieInteraction, uid, interactionTTL)
	target := pathSignIn
	if req.FirstScreen == oidcflow.ScreenRegister {
		target = pathRegister
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// serveResume is /oidc/auth/:uid, where the browser lands after the Experience API
// submitted the interaction: it signs the user in (session), grants the client (grant)
// and sends the code to the client.
func (s *Server) serveResume(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	if s.actors == nil {
		s.writeErrorPage(w, r, oauth.TemporarilyUnavailable("browser sign-in is not enabled on this node"))
		return
	}
	uid := p.ByName("uid")
	c := cookie(r, cookieInteraction)
	if c == "" || subtle.ConstantTimeCompare([]byte(c), []byte(uid)) != 1 {
		s.writeErrorPage(w, r, oauth.InvalidRequest("this sign-in was not started in this browser, or its cookie expired; start again from the application"))
		return
	}
	ctx := r.Context()
	rec, err := s.actors.ConsumeInteraction(ctx, uid)
	if err != nil {
		if e, ok := oauth.From(err); ok && e.Code != oauth.CodeServerError && e.Code != oauth.CodeTemporarilyUnavailable {
			err = oauth.InvalidRequest("this sign-in has expired or is not complete; start again from the application")
		}
		s.writeErrorPage(w, r, err)
		return
	}
	// The interaction is spent: its cookie goes whatever happens next.
	s.setCookie(w, cookieInteraction, "", -1)

	req := authRequestFromProto(rec.GetRequest())
	app, ok := s.dir.Application(req.ClientID)
	if !ok || !slices.Contains(app.OIDCClientMetadata.RedirectURIs, req.RedirectURI) {
		s.writeErrorPage(w, r, oauth.InvalidRequest("the application or its redirect_uri changed during sign-in"))
		return
	}
	user, ok := s.dir.User(rec.GetAccountId())
	if !ok || user.IsSuspended {
		s.redirectError(w, r, req, oauth.AccessDenied("the account is not allowed to sign in"))
		return
	}

	sess, err := s.liveSession(ctx, r)
	if err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	if sess != nil && sess.rec.GetAccountId() != user.ID {
		// Another account was signed in in this browser: it is signed out (Logto keeps
		// one account per browser session).
		if _, err := s.actors.EndSession(ctx, sess.id, sess.secret); err != nil {
			s.log.Warn("end replaced session", "err", err)
		}
		sess = nil
	}
	now := s.now()
	loginAt := rec.GetLoginAtMs()
	if loginAt == 0 {
		loginAt = now.UnixMilli()
	}
	if sess == nil {
		if sess, err = s.createSession(ctx, w, user.ID, loginAt, rec.GetAmr()); err != nil {
			s.redirectError(w, r, req, err)
			return
		}
	}
	code, err := s.issueCode(ctx, req, app, sess, loginAt)
	if err != nil {
		s.redirectError(w, r, req, err)
		return
	}
	s.respondToClient(w, r, req.RedirectURI, req.ResponseMode, oidcflow.CodeParams(code, req.State, s.issuer))
}

// browserSession is a live OP session found through the _session cookie.
type browserSession struct {
	id, secret string
	rec        *msg.SessionRecord
}

// freshFor applies max_age (OIDC Core 3.1.2.1): the session may be used without a new
// sign-in only if the user authenticated at most maxAge seconds ago.
func (b *browserSession) freshFor(maxAge int64, now time.Time) bool {
	if maxAge < 0 {
		return true
	}
	return now.UnixMilli()-b.rec.GetLoginAtMs() <= maxAge*1000
}

// liveSession returns the session of the _session cookie, or nil when there is none,
// it ended or expired, or its account can no longer sign in. Only a failure to reach the
// Session grain is an error.
func (s *Server) liveSession(ctx context.Context, r *http.Request) (*browserSession, error) {
	v := cookie(r, cookieSession)
	if v == "" {
		return nil, nil
	}
	id, secret, ok := actors.SplitToken(v)
	if !ok {
		return nil, nil
	}
	rec, err := s.actors.Session(ctx, id, secret)
	if err != nil {
		if e, isProto := oauth.From(err); isProto && e.Code != oauth.CodeServerError && e.Code != oauth.CodeTemporarilyUnavailable {
			return nil, nil // login_required: absent, expired or wrong secret
		}
		return nil, err
	}
	if u, ok := s.dir.User(rec.GetAccountId()); !ok || u.IsSuspended {
		return nil, nil
	}
	return &browserSession{id: id, secret: secret, rec: rec}, nil
}

// createSession starts a Session grain for accountID and sets the _session cookie
// "<id>.<secret>" (HttpOnly, SameSite=Lax, Secure on https, 14 days).
func (s *Server) createSession(ctx context.Context, w http.ResponseWriter, accountID string, loginAtMs int64, amr []string) (*browserSession, error) {
	id, secret, err := actors.NewToken(s.rand)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rec, err := s.actors.CreateSession(ctx, id, &msg.SessionRecord{
		AccountId:   accountID,
		SecretHash:  actors.HashSecret(secret),
		LoginAtMs:   loginAtMs,
		Amr:         amr,
		CreatedAtMs: now.UnixMilli(),
		ExpiresAtMs: now.Add(sessionTTL).UnixMilli(),
	})
	if err != nil {
		return nil, err
	}
	s.setCookie(w, cookieSession, id+"."+secret, sessionTTL)
	return &browserSession{id: id, secret: secret, rec: rec}, nil
}

// issueCode grants req to app within sess (first-party apps are consented
// automatically) and returns a one-time authorization code "<grant id>.<secret>".
//
// One grant per (session, client): its id and the client's sid are kept in the
// session's client entry, so a second authorization in the same session merges into
// the same grant. A grant that was revoked (e.g. by a replayed code) is replaced.
func (s *Server) issueCode(ctx context.Context, req *oidcflow.AuthRequest, app *directory.Application, sess *browserSession, loginAtMs int64) (string, error) {
	if app.IsThirdParty {
		return "", consentRequired("third-party applications are not supported yet")
	}
	var grantID, sid string
	for _, c := range sess.rec.GetClients() {
		if c.GetClientId() == app.ID {
			grantID, sid = c.GetGrantId(), c.GetSid()
		}
	}
	now := s.now()
	ensure := func() error {
		_, err := s.actors.EnsureGrant(ctx, grantID, &msg.GrantEnsure{
			AccountId:   sess.rec.GetAccountId(),
			ClientId:    app.ID,
			Scopes:      req.Scopes,
			Resources:   req.Resources,
			ExpiresAtMs: now.Add(grantTTL).UnixMilli(),
			SessionId:   sess.id,
			Sid:         sid,
		})
		return err
	}
	newEntry := grantID == ""
	if !newEntry {
		if err := ensure(); err != nil {
			if !errors.Is(err, oauth.InvalidGrant("")) {
				return "", err
			}
			newEntry = true // revoked or expired: start a new grant
		}
	}
	if newEntry {
		var err error
		if grantID, err = s.randomID(); err != nil {
			return "", err
		}
		if sid, err = s.randomID(); err != nil {
			return "", err
		}
		if err := ensure(); err != nil {
			return "", err
		}
		rec, err := s.actors.AddSessionClient(ctx, sess.id, sess.secret,
			&msg.SessionClient{ClientId: app.ID, GrantId: grantID, Sid: sid}, now.Add(sessionTTL))
		if err != nil {
			return "", err
		}
		sess.rec = rec
		s.trackGrant(ctx, sess, grantID, app.ID, now)
	}

	secret, err := s.newSecret()
	if err != nil {
		return "", err
	}
	if err := s.actors.IssueCode(ctx, grantID, &msg.CodeRecord{
		Hash:                actors.HashSecret(secret),
		RedirectUri:         req.RedirectURI,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Nonce:               req.Nonce,
		Scopes:              req.Scopes,
		Resources:           req.Resources,
		AuthTime:            loginAtMs / 1000,
		Sid:                 sid,
		ExpiresAtMs:         now.Add(codeTTL).UnixMilli(),
	}); err != nil {
		return "", err
	}
	return grantID + "." + secret, nil
}

// newSecret is a fresh token secret (the secret half of actors.NewToken).
func (s *Server) newSecret() (string, error) {
	_, secret, err := actors.NewToken(s.rand)
	return secret, err
}

// authorizeEnv gives the validator its directory lookups.
func (s *Server) authorizeEnv() oidcflow.AuthorizeEnv {
	return oidcflow.AuthorizeEnv{
		Client: func(id string) (oidcflow.AuthClient, bool) {
			app, ok := s.dir.Application(id)
			if !ok {
				return oidcflow.AuthClient{}, false
			}
			return oidcflow.AuthClient{
				ID:           app.ID,
				RedirectURIs: app.OIDCClientMetadata.RedirectURIs,
				PKCERequired: app.Type.Public(),
				CodeFlow:     grantAllowed(app.Type, oauth.GrantAuthorizationCode),
			}, true
		},
		Resource: func(indicator string) bool {
			_, ok := s.dir.ResourceByIndicator(indicator)
			return ok
		},
	}
}

// authorizeParams reads the request's parameters: the query for GET, the form body for
// POST (OIDC Core 3.1.2.1). Repeats and empty values are judged by the validator.
func authorizeParams(r *http.Request) (url.Values, error) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, oauth.InvalidRequest("content type must be application/x-www-form-urlencoded")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, oidcflow.MaxFormBytes+1))
		if err != nil {
			return nil, oauth.InvalidRequest("could not read request body")
		}
		if len(body) > oidcflow.MaxFormBytes {
			return nil, oauth.InvalidRequest("request body too large")
		}
		raw = string(body)
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.InvalidRequest("malformed request parameters")
	}
	return v, nil
}

// authorizeFailed answers a failed validation: to the redirect URI when allowed, else
// with an error page.
func (s *Server) authorizeFailed(w http.ResponseWriter, r *http.Request, err error) {
	var ae *oidcflow.AuthorizeError
	if errors.As(err, &ae) && ae.Redirectable() {
		s.respondToClient(w, r, ae.RedirectURI, ae.ResponseMode, oidcflow.ErrorParams(ae.Err, ae.State, s.issuer))
		return
	}
	s.writeErrorPage(w, r, err)
}

// redirectError sends err to the validated request's redirect URI (RFC 6749 4.1.2.1).
// Errors that are not *oauth.Error are logged and sent as server_error.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req *oidcflow.AuthRequest, err error) {
	e, ok := oauth.From(err)
	if !ok {
		s.log.Error("authorization failed", "path", r.URL.Path, "client_id", req.ClientID, "err", err)
	}
	s.respondToClient(w, r, req.RedirectURI, req.ResponseMode, oidcflow.ErrorParams(e, req.State, s.issuer))
}

// respondToClient delivers an authorization response: a 303 to the redirect URI (query
// or fragment) or an auto-posting form (form_post).
func (s *Server) respondToClient(w http.ResponseWriter, r *http.Request, redirectURI, mode string, params url.Values) {
	if mode == oidcflow.ResponseModeFormPost {
		s.writeFormPost(w, redirectURI, params)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, oidcflow.AuthorizationResponse(redirectURI, mode, params), http.StatusSeeOther)
}

func loginRequired(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeLoginRequired, Description: desc, Status: http.StatusBadRequest}
}

func consentRequired(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeConsentRequired, Description: desc, Status: http.StatusBadRequest}
}

func authRequestToProto(r *oidcflow.AuthRequest) *msg.AuthRequest {
	return &msg.AuthRequest{
		ClientId:            r.ClientID,
		RedirectUri:         r.RedirectURI,
		Scopes:              r.Scopes,
		State:               r.State,
		Nonce:               r.Nonce,
		CodeChallenge:       r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod,
		Resources:           r.Resources,
		Prompts:             r.Prompts,
		LoginHint:           r.LoginHint,
		ResponseMode:        r.ResponseMode,
		MaxAge:              r.MaxAge,
		UiLocales:           r.UILocales,
	}
}

func authRequestFromProto(p *msg.AuthRequest) *oidcflow.AuthRequest {
	return &oidcflow.AuthRequest{
		ClientID:            p.GetClientId(),
		RedirectURI:         p.GetRedirectUri(),
		Scopes:              p.GetScopes(),
		State:               p.GetState(),
		Nonce:               p.GetNonce(),
		CodeChallenge:       p.GetCodeChallenge(),
		CodeChallengeMethod: p.GetCodeChallengeMethod(),
		Resources:           p.GetResources(),
		Prompts:             p.GetPrompts(),
		LoginHint:           p.GetLoginHint(),
		ResponseMode:        p.GetResponseMode(),
		MaxAge:              p.GetMaxAge(),
		UILocales:           p.GetUiLocales(),
	}
}
