package oidcflow

// Discovery is the OpenID Provider (OpenID Connect Discovery 1.0 3) / RFC 8414 2
// authorization server metadata. It advertises only what is implemented: endpoints and
// features join it as they land.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
	BackchannelLogoutSupported        bool     `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool     `json:"backchannel_logout_session_supported"`
}

// clientAuthMethods are the client authentication methods of the token, introspection
// and revocation endpoints (RFC 6749 2.3): none for public clients (Native, SPA), a
// client secret in the Authorization header or the body for confidential ones.
var clientAuthMethods = []string{"none", "client_secret_basic", "client_secret_post"}

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
		ResponseModesSupported: []string{ResponseModeQuery, ResponseModeFragment, ResponseModeFormPost},
		GrantTypesSupported:    []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"},
		SubjectTypesSupported:  []string{"public"},
		// ID tokens and JWT access tokens are signed with the current key's algorithm;
		// the list holds every algorithm the ring publishes keys for.
		IDTokenSigningAlgValuesSupported:  signingAlgs,
		TokenEndpointAuthMethodsSupported: clientAuthMethods,
		// RFC 7636 4.2: S256 only; plain is refused.
		CodeChallengeMethodsSupported: []string{PKCEMethodS256},
		ClaimsSupported:               SupportedClaims,
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
