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
}

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
		GrantTypesSupported:    []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:  []string{"public"},
		// ID tokens and JWT access tokens are signed with the current key's algorithm;
		// the list holds every algorithm the ring publishes keys for.
		IDTokenSigningAlgValuesSupported:  signingAlgs,
		TokenEndpointAuthMethodsSupported: []string{"none", "client_secret_basic", "client_secret_post"},
		// RFC 7636 4.2: S256 only; plain is refused.
		CodeChallengeMethodsSupported: []string{PKCEMethodS256},
		ClaimsSupported:               SupportedClaims,
		// RFC 9207 2: every authorization response carries iss.
		AuthorizationResponseIssParameter: true,
	}
}
