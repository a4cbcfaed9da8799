package oidcflow

import (
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

// Scope values with a meaning to the OpenID Provider itself (OIDC Core 5.4, 11 and
// Logto's user scopes). Any other scope is a resource (API) scope, kept in the grant and
// resolved against the user's roles when a JWT access token is minted.
const (
	ScopeOpenID        = "openid"
	ScopeOfflineAccess = "offline_access"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopePhone         = "phone"
	ScopeAddress       = "address"
	ScopeCustomData    = "custom_data"
	ScopeIdentities    = "identities"
	ScopeRoles         = "roles"
	// ScopeOrganizations (Logto's UserScope.Organizations) gives the claims
	// organizations (ID token and userinfo) and organization_data (userinfo), and is
	// what a refresh token must hold to be exchanged for an organization token (Logto
	// RFC 0001).
	ScopeOrganizations = "urn:logto:scope:organizations"
	// ScopeOrganizationRoles (UserScope.OrganizationRoles) gives the claim
	// organization_roles, "<orgId>:<roleName>" each.
	ScopeOrganizationRoles = "urn:logto:scope:organization_roles"
	// ScopeSessions (UserScope.Sessions) lets an opaque access token list and revoke
	// the user's sessions and grants on the Account API.
	ScopeSessions = "urn:logto:scope:sessions"
)

// ResourceOrganizations is Logto's reserved resource indicator
// (ReservedResource.Organization) the SDKs add to the authorization request when the
// organizations scope is asked for; its scopes are the organization scopes. It is no
// API resource of the directory: it is accepted wherever a resource indicator is.
const ResourceOrganizations = "urn:logto:resource:organizations"

// OrganizationTokenTTL is the lifetime of an organization token (and of a token for
// ResourceOrganizations): Logto's reservedResourceAccessTokenTtl, not configurable.
const OrganizationTokenTTL = 3600 * time.Second

// OrganizationURN is an organization token's audience, Logto's buildOrganizationUrn:
// "urn:logto:organization:<id>".
func OrganizationURN(orgID string) string { return "urn:logto:organization:" + orgID }

// Prompt values Latch supports (OIDC Core 3.1.2.1); select_account is not one of them,
// as in Logto.
const (
	PromptNone    = "none"
	PromptLogin   = "login"
	PromptConsent = "consent"
)

// Response modes (OAuth 2.0 Multiple Response Type Encoding Practices 2.1, Form Post
// Response Mode 2). The code flow's default is query.
const (
	ResponseModeQuery    = "query"
	ResponseModeFragment = "fragment"
	ResponseModeFormPost = "form_post"
)

// PKCE method: S256 only (RFC 7636 4.2; "plain" is refused, as in Logto).
const PKCEMethodS256 = "S256"

// Screens of the sign-in UI an authorization request may ask for first.
const (
	ScreenSignIn   = "signIn"
	ScreenRegister = "register"
)

// AuthClient is what authorization-request validation needs to know of a client.
type AuthClient struct {
	ID string
	// RedirectURIs are the registered redirection URIs, matched exactly (OIDC Core
	// 3.1.2.1: "MUST exactly match one of the Redirection URI values").
	RedirectURIs []string
	// PKCERequired is true for public clients (Native, SPA): they cannot authenticate
	// at the token endpoint, so the code must be bound to a verifier (RFC 9700 2.1.1).
	PKCERequired bool
	// CodeFlow is false for clients that may not use the authorization endpoint
	// (Logto's MachineToMachine apps: client_credentials only).
	CodeFlow bool
}

// AuthorizeEnv is what validation looks up: clients and API resources. Both are local
// directory reads; neither may block.
type AuthorizeEnv struct {
	Client func(id string) (AuthClient, bool)
	// Resource reports whether indicator is a known API resource (RFC 8707).
	Resource func(indicator string) bool
}

// AuthRequest is a validated authorization request (OIDC Core 3.1.2.1).
type AuthRequest struct {
	ClientID    string
	RedirectURI string
	// Scopes are the requested scopes, de-duplicated, in request order; they contain
	// openid. offline_access is kept only when prompt contains consent (OIDC Core 11).
	Scopes              []string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	// Resources are RFC 8707 indicators, each a known API resource.
	Resources []string
	Prompts   []string
	LoginHint string
	// ResponseMode is "" (query) or one of the ResponseMode constants.
	ResponseMode string
	// MaxAge is the max_age parameter in seconds, -1 when absent.
	MaxAge    int64
	UILocales string
	// FirstScreen is ScreenRegister when the request asks for the sign-up screen
	// (Logto's first_screen=register or the older interaction_mode=signUp), else
	// ScreenSignIn.
	FirstScreen string
}

// HasPrompt reports whether p is among the request's prompt values.
func (r *AuthRequest) HasPrompt(p string) bool { return slices.Contains(r.Prompts, p) }

// HasScope reports whether s was requested.
func (r *AuthRequest) HasScope(s string) bool { return slices.Contains(r.Scopes, s) }

// AuthorizeError is a failed authorization request. When RedirectURI is empty the
// error must not be sent to any redirection URI: the client is unknown or the
// redirect_uri is missing, repeated or not registered (RFC 6749 4.1.2.1, OIDC Core
// 3.1.2.6), and the user agent gets an error page instead. Otherwise the error goes to
// RedirectURI with State, using ResponseMode.
type AuthorizeError struct {
	Err          *oauth.Error
	RedirectURI  string
	State        string
	ResponseMode string
}

func (e *AuthorizeError) Error() string { return e.Err.Error() }

// Unwrap lets errors.Is(err, oauth.InvalidScope("")) match the protocol error.
func (e *AuthorizeError) Unwrap() error { return e.Err }

// Redirectable reports whether the error may be sent to the client's redirect URI.
func (e *AuthorizeError) Redirectable() bool { return e.RedirectURI != "" }

// OIDC Core 3.1.2.6 / 6.2 codes that package oauth does not build.
const (
	codeRequestNotSupported    = "request_not_supported"
	codeRequestURINotSupported = "request_uri_not_supported"
)

// ValidateAuthorize validates raw authorization request parameters (query string for
// GET, form body for POST; OIDC Core 3.1.2.1) for the code flow.
//
// Order matters: the client and its redirect_uri are checked first, and any problem
// with them yields a non-redirectable error; everything after is redirected.
func ValidateAuthorize(raw url.Values, env AuthorizeEnv) (*AuthRequest, error) {
	params, dup := normalizeParams(raw)
	fatal := func(e *oauth.Error) error { return &AuthorizeError{Err: e} }

	// RFC 6749 4.1.2.1: problems with client_id or redirect_uri are never redirected.
	if dup["client_id"] {
		return nil, fatal(oauth.InvalidRequest("client_id is included more than once"))
	}
	clientID := params.Get("client_id")
	if clientID == "" {
		return nil, fatal(oauth.InvalidRequest("client_id is required"))
	}
	client, ok := env.Client(clientID)
	if !ok {
		return nil, fatal(oauth.InvalidClient("unknown client_id"))
	}
	if dup["redirect_uri"] {
		return nil, fatal(oauth.InvalidRequest("redirect_uri is included more than once"))
	}
	redirectURI := params.Get("redirect_uri")
	if redirectURI == "" {
		return nil, fatal(oauth.InvalidRequest("redirect_uri is required"))
	}
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return nil, fatal(oauth.InvalidRequest("redirect_uri is not registered for this client"))
	}

	// From here on, errors go back to the client.
	req := &AuthRequest{ClientID: clientID, RedirectURI: redirectURI, MaxAge: -1, FirstScreen: ScreenSignIn}
	if !dup["state"] {
		req.State = params.Get("state")
	}
	if !dup["response_mode"] {
		switch m := params.Get("response_mode"); m {
		case "", ResponseModeQuery, ResponseModeFragment, ResponseModeFormPost:
			req.ResponseMode = m
		}
	}
	fail := func(e *oauth.Error) (*AuthRequest, error) {
		return nil, &AuthorizeError{Err: e, RedirectURI: redirectURI, State: req.State, ResponseMode: req.ResponseMode}
	}

	if len(dup) > 0 {
		name := slices.Sorted(maps.Keys(dup))[0]
		return fail(oauth.InvalidRequest("parameter " + name + " is included more than once"))
	}
	if m := params.Get("response_mode"); m != "" && m != req.ResponseMode {
		return fail(oauth.InvalidRequest("unsupported response_mode"))
	}
	if params.Has("request") {
		return fail(&oauth.Error{Code: codeRequestNotSupported, Description: "request objects are not supported", Status: 400})
	}
	if params.Has("request_uri") {
		return fail(&oauth.Error{Code: codeRequestURINotSupported, Description: "request_uri is not supported", Status: 400})
	}
	if !client.CodeFlow {
		return fail(oauth.UnauthorizedClient("this application may not use the authorization endpoint"))
	}

	switch rt := params.Get("response_type"); rt {
	case "":
		return fail(oauth.InvalidRequest("response_type is required"))
	case "code":
	default:
		return fail(&oauth.Error{Code: oauth.CodeUnsupportedResponseType, Description: "only response_type=code is supported", Status: 400})
	}

	scopes, err := ParseScope(params.Get("scope"))
	if err != nil {
		return fail(oauth.InvalidScope("scope contains an invalid character"))
	}
	if !slices.Contains(scopes, ScopeOpenID) {
		return fail(oauth.InvalidScope("scope must contain openid"))
	}

	prompts, perr := parsePrompt(params.Get("prompt"))
	if perr != nil {
		return fail(perr)
	}
	req.Prompts = prompts
	// OIDC Core 11: offline_access is ignored unless prompt contains consent (what
	// node-oidc-provider, and so Logto, does; the Logto SDKs send prompt=consent).
	if !slices.Contains(prompts, PromptConsent) {
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return s == ScopeOfflineAccess })
	}
	req.Scopes = scopes

	if v := params.Get("max_age"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fail(oauth.InvalidRequest("max_age must be a non-negative integer"))
		}
		req.MaxAge = n
	}

	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fail(oauth.InvalidRequest("code_challenge_method without code_challenge"))
	case challenge == "" && client.PKCERequired:
		return fail(oauth.InvalidRequest("code_challenge required"))
	case challenge != "":
		if method == "" {
			// RFC 7636 4.3: an absent method means plain, which is not supported.
			return fail(oauth.InvalidRequest("code_challenge_method is required and must be S256 (plain is not supported)"))
		}
		if method != PKCEMethodS256 {
			return fail(oauth.InvalidRequest("code_challenge_method must be S256 (plain is not supported)"))
		}
		if err := ValidCodeChallenge(challenge, method); err != nil {
			if e, ok := oauth.From(err); ok {
				return fail(e)
			}
			return fail(oauth.InvalidRequest("invalid code_challenge"))
		}
		req.CodeChallenge, req.CodeChallengeMethod = challenge, method
	}

	// Logto (koaResourceParam): "resource=a,b" is "resource=a&resource=b".
	var resources []string
	for _, v := range params["resource"] {
		resources = append(resources, strings.Split(v, ",")...)
	}
	for _, res := range resources {
		if err := ValidResourceIndicator(res); err != nil {
			return fail(oauth.InvalidTarget("resource must be an absolute URI without a fragment"))
		}
		if !env.Resource(res) {
			return fail(oauth.InvalidTarget("unknown resource " + res))
		}
		if !slices.Contains(req.Resources, res) {
			req.Resources = append(req.Resources, res)
		}
	}

	req.Nonce = params.Get("nonce")
	req.LoginHint = params.Get("login_hint")
	req.UILocales = params.Get("ui_locales")
	switch params.Get("first_screen") {
	case "register", "identifierRegister":
		req.FirstScreen = ScreenRegister
	}
	if params.Get("interaction_mode") == "signUp" {
		req.FirstScreen = ScreenRegister
	}
	return req, nil
}

// parsePrompt splits the prompt parameter (OIDC Core 3.1.2.1: space-delimited, "none"
// alone).
func parsePrompt(s string) ([]string, *oauth.Error) {
	var out []string
	for p := range strings.FieldsSeq(s) {
		switch p {
		case PromptNone, PromptLogin, PromptConsent:
		default:
			return nil, oauth.InvalidRequest("unsupported prompt value " + strconv.Quote(p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if slices.Contains(out, PromptNone) && len(out) > 1 {
		return nil, oauth.InvalidRequest("prompt none must not be combined with other values")
	}
	return out, nil
}

// normalizeParams applies RFC 6749 3.1 to raw parameters: empty values count as
// omitted, and the names that appear more than once (other than the repeatable
// resource) are reported in dup, keeping the first value.
func normalizeParams(raw url.Values) (url.Values, map[string]bool) {
	out := make(url.Values, len(raw))
	dup := map[string]bool{}
	for k, vals := range raw {
		var kept []string
		for _, v := range vals {
			if v != "" {
				kept = append(kept, v)
			}
		}
		switch {
		case len(kept) == 0:
		case len(kept) > 1 && !multiValued[k]:
			dup[k] = true
			out[k] = kept[:1]
		default:
			out[k] = kept
		}
	}
	return out, dup
}

// AuthorizationResponse builds where the user agent goes with an authorization
// response or error (RFC 6749 4.1.2 / 4.1.2.1, RFC 9207 iss): the redirect URI with
// params in its query (keeping the URI's own query, RFC 6749 3.1.2) or in its fragment.
// For form_post the caller posts params to redirectURI instead.
func AuthorizationResponse(redirectURI, mode string, params url.Values) string {
	if len(params) == 0 {
		return redirectURI // exactly as registered
	}
	u, err := url.Parse(redirectURI)
	if err != nil {
		// Registered redirect URIs are validated absolute URIs; never reached.
		return redirectURI
	}
	if mode == ResponseModeFragment {
		u.Fragment, u.RawFragment = "", ""
		return u.String() + "#" + params.Encode()
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ErrorParams are the parameters of an error authorization response (RFC 6749
// 4.1.2.1) with the issuer (RFC 9207).
func ErrorParams(e *oauth.Error, state, issuer string) url.Values {
	v := url.Values{"error": {e.Code}, "iss": {issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if state != "" {
		v.Set("state", state)
	}
	return v
}

// CodeParams are the parameters of a successful code response (RFC 6749 4.1.2, RFC
// 9207).
func CodeParams(code, state, issuer string) url.Values {
	v := url.Values{"code": {code}, "iss": {issuer}}
	if state != "" {
		v.Set("state", state)
	}
	return v
}
