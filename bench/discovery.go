package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Discovery is the part of an OpenID Provider's metadata (OIDC Discovery 1.0 section 3,
// RFC 8414) that the scenarios use. Endpoints that the OP does not advertise are empty.
type Discovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserinfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	GrantTypesSupported   []string `json:"grant_types_supported"`
	TokenAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
}

// DiscoveryURL is where the metadata of issuer lives (OIDC Discovery 1.0 section 4).
func DiscoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Discover fetches and parses the issuer's discovery document.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Discovery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, DiscoveryURL(issuer), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery: GET %s: %s", req.URL, StatusError(resp.StatusCode, body))
	}
	d, err := ParseDiscovery(body)
	if err != nil {
		return nil, fmt.Errorf("discovery: GET %s: %w", req.URL, err)
	}
	return d, nil
}

// ParseDiscovery parses a discovery document from an untrusted OP: wrong types, missing
// members and garbage are errors, never panics. Every advertised endpoint must be an
// absolute http(s) URL; token_endpoint is required.
func ParseDiscovery(body []byte) (*Discovery, error) {
	var d Discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("not a discovery document: %w", err)
	}
	var errs []error
	if d.TokenEndpoint == "" {
		errs = append(errs, errors.New("no token_endpoint"))
	}
	for _, m := range []struct{ name, v string }{
		{"issuer", d.Issuer},
		{"authorization_endpoint", d.AuthorizationEndpoint},
		{"token_endpoint", d.TokenEndpoint},
		{"userinfo_endpoint", d.UserinfoEndpoint},
		{"jwks_uri", d.JWKSURI},
		{"introspection_endpoint", d.IntrospectionEndpoint},
		{"revocation_endpoint", d.RevocationEndpoint},
		{"end_session_endpoint", d.EndSessionEndpoint},
	} {
		if m.v != "" {
			if err := checkHTTPURL(m.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m.name, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &d, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
