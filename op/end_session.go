package op

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/outbox"
)

// EndSessionRequest is a request to the end-session endpoint (OpenID Connect
// RP-Initiated Logout 1.0), as the edge decoded it: its parameters and the _session
// cookie.
type EndSessionRequest struct {
	Params        url.Values
	SessionCookie string
}

// EndSessionResult: the _session cookie is deleted, then the browser goes to
// RedirectTo (post_logout_redirect_uri with state), or, when it is empty, sees a
// signed-out page.
type EndSessionResult struct {
	RedirectTo string
}

// fanoutTimeout bounds what follows the end of a session (grant revocation in the
// grain, queueing back-channel logouts) once the session has ended.
const fanoutTimeout = 10 * time.Second

// EndSession is OpenID Connect RP-Initiated Logout 1.0.
//
// Parameters (2): id_token_hint, logout_hint, client_id, post_logout_redirect_uri,
// state, ui_locales; each at most once.
//   - id_token_hint must be an ID token this OP issued (2: "the OP MUST validate that it
//     was the issuer of the ID Token"); an expired one is accepted ("even when the exp
//     time has passed"). With client_id too, both must name the same client (2: "the OP
//     MUST verify that the Client Identifier matches the one used when issuing the ID
//     Token").
//   - post_logout_redirect_uri is followed only when registered for that client (3:
//     "The value MUST have been previously registered with the OP"); otherwise, or when
//     no client is named, the user sees a signed-out page instead of a redirect.
//   - state comes back with the redirect (3).
//   - logout_hint and ui_locales are accepted and not acted upon: Latch keeps one account
//     per browser session and asks no confirmation (Logto's logoutSource auto-submits
//     its form), and its own pages are English only.
//
// Sign-out is global for this browser (Logto): the Session grain ends the session and
// revokes the grants of its clients that lack offline_access (whose refresh tokens
// survive, as Logto documents); then every client with a backchannelLogoutUri gets a
// back-channel logout, queued durably before the answer and delivered later. An error
// is shown to the user and leaves the cookie as it is.
func (b *Browser) EndSession(ctx context.Context, in EndSessionRequest) (*EndSessionResult, error) {
	params := make(url.Values, len(in.Params))
	for k, vs := range in.Params {
		for _, v := range vs {
			if v == "" {
				continue
			}
			if params.Has(k) {
				return nil, oauth.InvalidRequest("parameter " + k + " is included more than once")
			}
			params.Set(k, v)
		}
	}
	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		h, err := oidcflow.ParseIDTokenHint(hint, b.Issuer, b.Keys)
		if err != nil {
			return nil, oauth.InvalidRequest("id_token_hint is not a valid ID token of this provider")
		}
		switch {
		case clientID == "":
			clientID = h.Audiences[0]
		case !slices.Contains(h.Audiences, clientID):
			return nil, oauth.InvalidRequest("client_id does not match id_token_hint")
		}
	}
	var app *directory.Application
	if clientID != "" {
		a, ok := b.Directory.Application(clientID)
		if !ok {
			return nil, oauth.InvalidClient("unknown client_id")
		}
		app = a
	}
	// RP-Initiated Logout 3: the URI must have been registered by the client; never
	// redirect anywhere else.
	redirect := params.Get("post_logout_redirect_uri")
	if redirect != "" && (app == nil || !slices.Contains(safeRedirectURIs(app.OIDCClientMetadata.PostLogoutRedirectURIs, app.Type), redirect)) {
		redirect = ""
	}

	if in.SessionCookie != "" {
		if id, secret, ok := SplitToken(in.SessionCookie); ok {
			// The session ends: finish what follows even if the browser goes away.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fanoutTimeout)
			ended, err := b.Sessions.End(fctx, id, secret, RevokeOnline, nil)
			switch {
			case err == nil:
				// Logged inside; the session has ended either way.
				_ = backchannelLogout(fctx, b.logouts(), ended)
			case unavailable(err):
				cancel()
				return nil, err
			}
			cancel()
			// login_required: the session had already ended.
		}
	}
	res := &EndSessionResult{}
	if redirect != "" {
		var q url.Values
		if st := params.Get("state"); st != "" {
			q = url.Values{"state": {st}}
		}
		res.RedirectTo = oidcflow.AuthorizationResponse(redirect, oidcflow.ResponseModeQuery, q)
	}
	return res, nil
}

func (b *Browser) logouts() logoutSender {
	return logoutSender{dir: b.Directory, issuer: b.Issuer, queue: b.Logouts, log: b.log()}
}

// logoutSender queues back-channel logouts; Browser and Sessions share it.
type logoutSender struct {
	dir    *directory.Directory
	issuer string
	queue  LogoutQueue
	log    interface {
		Warn(msg string, args ...any)
		Error(msg string, args ...any)
	}
}

// backchannelLogout queues a logout token for every client of the ended session that
// registered a backchannel_logout_uri (Back-Channel Logout 1.0, 2.2 and 2.5). The token
// carries sub and the sid the client got in its ID token: 2.4 makes sid OPTIONAL unless
// the client registered backchannel_logout_session_required, in which case it is
// REQUIRED; Latch always has one per client and always sends it (node-oidc-provider
// sends it only when required), so a client may key its logout on either.
//
// The Session grain decided the rest of the fan-out; the outbox is package outbox,
// which the grains do not reach, so the logouts are queued here from the session's
// client list the grain returned. Failures are logged and returned.
func backchannelLogout(ctx context.Context, l logoutSender, ended *Session) error {
	if ended == nil {
		return nil
	}
	var logouts []outbox.Logout
	for _, cl := range ended.Clients {
		app, ok := l.dir.Application(cl.ClientID)
		// A back-channel URI is http(s) only, whatever the app type.
		if !ok || !directory.SafeRedirectURI(app.OIDCClientMetadata.BackchannelLogoutURI, directory.AppTraditional) {
			continue
		}
		logouts = append(logouts, outbox.Logout{
			ClientID: app.ID,
			URI:      app.OIDCClientMetadata.BackchannelLogoutURI,
			Issuer:   l.issuer,
			Subject:  ended.AccountID,
			SID:      cl.SID,
		})
	}
	if len(logouts) == 0 {
		return nil
	}
	if l.queue == nil {
		l.log.Warn("back-channel logout is not configured on this node; skipping", "clients", len(logouts))
		return nil
	}
	if err := l.queue.Enqueue(ctx, logouts...); err != nil {
		l.log.Error("logout: queueing back-channel logouts failed", "session", ended.ID, "err", err)
		return err
	}
	return nil
}
