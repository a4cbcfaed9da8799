package oidcflow

// Discovery is the OpenID Provider (OpenID Connect Discovery 1.0 3) / RFC 8414 2
// authorization server metadata. It advertises only what is implemented: endpoints and
// features join it as they land.
//
// Fidelity: it is compared member by member with the snapshot in Logto's integration
// test oidc/discovery.test.ts. Members and values match Logto's, in Logto's order, except
// the departures commented on each member (also listed in README, "Management API:
// Logto's behaviour"); every departure is something Latch does not implement, which it
// never advertises.
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	// Departure: Logto's document has no introspection_endpoint_auth_methods_supported
	// nor revocation_endpoint_auth_methods_supported; Latch keeps these RFC 8414 2
	// members, which are true (the token endpoint's methods) and tell a public client
	// that "none" works (RFC 8414 defaults revocation to client_secret_basic only).
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	// Departure: Logto lists "code id_token", "code", "id_token" and "none"; Latch's
	// authorization endpoint answers response_type=code only (no implicit or hybrid
	// flow, no response_type=none).
	ResponseTypesSupported []string `json:"response_types_supported"`
	ResponseModesSupported []string `json:"response_modes_supported"`
	// Departure: Logto also lists implicit and
	// urn:ietf:params:oauth:grant-type:device_code; Latch implements neither.
	GrantTypesSupported   []string `json:"grant_types_supported"`
	SubjectTypesSupported []string `json:"subject_types_supported"`
	// Departure: Logto's default seed has a P-384 key (ES384); a new Latch cluster
	// signs with ES256 unless started with --signing-alg ES384. The list follows the
	// key ring, as Logto's follows its keys.
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	// Departure: Logto also lists client_secret_jwt and private_key_jwt (and therefore
	// token_endpoint_auth_signing_alg_values_supported, which Latch omits); Latch
	// authenticates clients with a secret (basic or post) or as public clients only.
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimTypesSupported               []string `json:"claim_types_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported"`
	// Departures, members Logto has and Latch omits: device_authorization_endpoint
	// (RFC 8628, no device flow) and pushed_authorization_request_endpoint (RFC 9126,
	// no PAR).
}

// clientAuthMethods are the client authentication methods of the token, introspection
// and revocation endpoints (RFC 6749 2.3), in Logto's order: a client secret in the
// Authorization header or the body for confidential clients, none for public ones
// (Native, SPA).
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post", "none"}

// NewDiscovery builds the document for issuer with the signing algorithms of the key ring.
func NewDiscovery(issuer string, signingAlgs []string) Discovery {
	return Discovery{
		Issuer:                 issuer,
		AuthorizationEndpoint:  issuer + "/auth",
		TokenEndpoint:          issuer + "/token",
		UserinfoEndpoint:       issuer + "/me",
		JWKSURI:                issuer + "/jwks",
		EndSessionEndpoint:     issuer + "/session/end",
		ScopesSupported:        SupportedScopes,
		ResponseTypesSupported: []string{"code"},
		// Logto's order (sorted).
		ResponseModesSupported: []string{ResponseModeFormPost, ResponseModeFragment, ResponseModeQuery},
		GrantTypesSupported:    []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		SubjectTypesSupported:  []string{"public"},
		// ID tokens and JWT access tokens are signed with the current key's algorithm;
		// the list holds every algorithm the ring publishes keys for.
		IDTokenSigningAlgValuesSupported:  signingAlgs,
		TokenEndpointAuthMethodsSupported: clientAuthMethods,
		// RFC 7636 4.2: S256 only; plain is refused.
		CodeChallengeMethodsSupported: []string{PKCEMethodS256},
		// OIDC Core 5.6: claims are returned as plain members (no aggregated or
		// distributed claims).
		ClaimTypesSupported: []string{"normal"},
		ClaimsSupported:     SupportedClaims,
		// RFC 9207 2: every authorization response carries iss.
		AuthorizationResponseIssParameter: true,
		// RFC 7662 / RFC 7009 (metadata of RFC 8414 2): both authenticate clients
		// exactly as the token endpoint does.
		IntrospectionEndpoint:             issuer + "/token/introspection",
		IntrospectionAuthMethodsSupported: clientAuthMethods,
		RevocationEndpoint:                issuer + "/token/revocation",
		RevocationAuthMethodsSupported:    clientAuthMethods,
		// OIDC Back-Channel Logout 1.0 2.1: logout tokens are sent, always with sid.
		BackchannelLogoutSupported:        true,
		BackchannelLogoutSessionSupported: true,
	}
}
