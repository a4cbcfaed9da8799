package oidcflow

// Discovery is the OpenID Provider / RFC 8414 authorization server metadata. It
// advertises only what is implemented: endpoints and features join it as they land.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
}

// NewDiscovery builds the document for issuer with the signing algorithms of the key ring.
//
// RFC 8414 2: authorization_endpoint is required "unless no grant types are supported
// that use the authorization endpoint", which is the case while only client_credentials
// is implemented, so it is omitted until /oidc/auth exists.
func NewDiscovery(issuer string, signingAlgs []string) Discovery {
	return Discovery{
		Issuer:                            issuer,
		TokenEndpoint:                     issuer + "/token",
		JWKSURI:                           issuer + "/jwks",
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"client_credentials"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  signingAlgs,
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
	}
}
