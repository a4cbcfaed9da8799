package op

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// ResumeRequest is the browser's return to /oidc/auth/<uid> once the Experience API
// submitted the interaction: the uid of the path and the browser's _interaction and
// _session cookies.
type ResumeRequest struct {
	UID               string
	InteractionCookie string
	SessionCookie     string
}

// ResumeResult is what the edge does, in this order: cookie changes, then the response
// (or, when Resume also returned an error, the error page).
type ResumeResult struct {
	// ClearInteraction: the interaction is spent; its cookie goes whatever happens next.
	ClearInteraction bool
	// Session, when set, is the _session cookie of a session just created.
	Session *CookieUpdate
	// Response is the authorization response for the client (a code or an error).
	Response *ClientResponse
	// Consent: nothing else is set; the browser goes to the consent page, which
	// resumes here once the user accepted (consent.go).
	Consent bool
}

// Resume signs the user in after a submitted interaction: it consumes the interaction
// (one-time), creates or keeps the browser session (one account per browser: another
// account's session is ended), ensures the grant (first-party apps are consented
// automatically), issues a code and answers the client in the request's response mode.
//
// An error is shown to the user (the client could not be trusted, or nothing proves
// this browser started the sign-in); res may still carry cookie changes. Failures after
// the request is known again go to the client as a Response.
func (b *Browser) Resume(ctx context.Context, in ResumeRequest) (*ResumeResult, error) {
	res := &ResumeResult{}
	if in.InteractionCookie == "" || subtle.ConstantTimeCompare([]byte(in.InteractionCookie), []byte(in.UID)) != 1 {
		return res, oauth.InvalidRequest("this sign-in was not started in this browser, or its cookie expired; start again from the application")
	}
	if pending, err := b.consentPending(ctx, in.UID); err != nil || pending {
		// A third-party application waits for the user's consent (consent.go): the
		// interaction stays, the browser goes to the consent page.
		res.Consent = pending
		return res, err
	}
	it, err := b.Interactions.Consume(ctx, in.UID)
	if err != nil {
		if !unavailable(err) {
			err = oauth.InvalidRequest("this sign-in has expired or is not complete; start again from the application")
		}
		return res, err
	}
	res.ClearInteraction = true

	req := it.Request
	app, ok := b.Directory.Application(req.ClientID)
	if !ok || !slices.Contains(safeRedirectURIs(app.OIDCClientMetadata.RedirectURIs, app.Type), req.RedirectURI) {
		return res, oauth.InvalidRequest("the application or its redirect_uri changed during sign-in")
	}
	deliver := func(err error) (*ResumeResult, error) {
		res.Response = b.redirectError(req, err).Response
		return res, nil
	}
	user, ok := b.Directory.User(it.AccountID)
	if !ok || user.IsSuspended {
		return deliver(oauth.AccessDenied("the account is not allowed to sign in"))
	}

	sess, err := b.liveSession(ctx, in.SessionCookie)
	if err != nil {
		return deliver(err)
	}
	if sess != nil && sess.AccountID != user.ID {
		// Another account was signed in in this browser: it is signed out (Logto keeps
		// one account per browser session); its grants stay, as its tokens may.
		if _, err := b.Sessions.End(ctx, sess.ID, sess.secret, RevokeNone, nil); err != nil {
			b.log().Warn("end replaced session", "err", err)
		}
		sess = nil
	}
	loginAt := it.LoginAt
	if loginAt.IsZero() {
		loginAt = b.Now()
	}
	if sess == nil {
		if sess, err = b.createSession(ctx, user.ID, loginAt, it.AMR); err != nil {
			return deliver(err)
		}
		res.Session = &CookieUpdate{Value: sess.ID + "." + sess.secret, MaxAge: b.Lifetimes.Session}
	}
	if err := checkAppAccess(b.Directory, app.ID, user.ID); err != nil {
		// Signed in, but not to this application (app_access.go): shown to the user,
		// who keeps the session.
		return res, err
	}
	amr := it.AMR
	if len(amr) == 0 {
		amr = sess.AMR
	}
	code, err := b.issueCode(ctx, req, app, sess, loginAt, amr)
	if err != nil {
		return deliver(err)
	}
	res.Response = b.codeResponse(req, code)
	return res, nil
}

// createSession starts a Session grain for accountID; its cookie is "<id>.<secret>".
func (b *Browser) createSession(ctx context.Context, accountID string, loginAt time.Time, amr []string) (*cookieSession, error) {
	id, err := RandomID(b.Rand)
	if err != nil {
		return nil, err
	}
	secret, err := newSecret(b.Rand)
	if err != nil {
		return nil, err
	}
	s, err := b.Sessions.Create(ctx, NewSession{ID: id, Secret: secret, AccountID: accountID, LoginAt: loginAt, AMR: amr})
	if err != nil {
		return nil, err
	}
	return &cookieSession{Session: s, secret: secret}, nil
}

// issueCode grants req to app within sess and returns a one-time authorization code
// "<grant id>.<secret>".
//
// One grant per (session, client): its id and the client's sid are kept in the
// session's client entry, so a second authorization in the same session merges into
// the same grant. A grant that was revoked (e.g. by a replayed code) is replaced.
func (b *Browser) issueCode(ctx context.Context, req *oidcflow.AuthRequest, app *directory.Application, sess *cookieSession, loginAt time.Time, amr []string) (string, error) {
	scopes := req.Scopes
	if app.IsThirdParty {
		// Only what the consent page showed (the caller checked it was accepted).
		user, ok := b.Directory.User(sess.AccountID)
		if !ok {
			return "", oauth.AccessDenied("the account is not allowed to sign in")
		}
		scopes = b.consentRequest(app, user, req).consentedScopes(req)
	}
	var grantID, sid string
	for _, c := range sess.Clients {
		if c.ClientID == app.ID {
			grantID, sid = c.GrantID, c.SID
		}
	}
	ensure := func() error {
		return b.Grants.Ensure(ctx, grantID, GrantEnsure{
			AccountID: sess.AccountID, ClientID: app.ID,
			Scopes: scopes, Resources: req.Resources,
			SessionID: sess.ID, SID: sid,
		})
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
		if grantID, err = RandomID(b.Rand); err != nil {
			return "", err
		}
		if sid, err = RandomID(b.Rand); err != nil {
			return "", err
		}
		if err := ensure(); err != nil {
			return "", err
		}
		s, err := b.Sessions.AddClient(ctx, sess.ID, sess.secret, SessionClient{ClientID: app.ID, GrantID: grantID, SID: sid})
		if err != nil {
			return "", err
		}
		sess.Session = s
	}
	secret, err := newSecret(b.Rand)
	if err != nil {
		return "", err
	}
	if err := b.Grants.IssueCode(ctx, grantID, AuthCode{
		Secret:              secret,
		RedirectURI:         req.RedirectURI,
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: req.CodeChallengeMethod,
		Nonce:               req.Nonce,
		Scopes:              scopes,
		Resources:           req.Resources,
		AuthTime:            loginAt,
		SID:                 sid,
		AMR:                 amr,
	}); err != nil {
		return "", err
	}
	return grantID + "." + secret, nil
}
