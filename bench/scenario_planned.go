package bench

// Scenarios of issue 5 whose endpoints Latch does not serve yet. Each becomes real by
// adding scenario_<name>.go that calls register(name, ...) from init; the placeholder
// below then steps aside on its own (register wins over registerPlanned), and the line
// can be deleted at leisure.
func init() {
	registerPlanned("password-login",
		"full sign-in: /oidc/auth -> Experience API password -> code + PKCE -> token",
		"the authorization endpoint (/oidc/auth) and the Experience API (/api/experience)")
	registerPlanned("sso-code",
		"authorization with a live session -> code -> token",
		"the authorization endpoint (/oidc/auth) with OP sessions and the authorization_code grant")
	registerPlanned("refresh",
		"refresh_token grant with rotation (durable writes)",
		"the refresh_token grant at /oidc/token")
	registerPlanned("introspect",
		"token introspection (RFC 7662)",
		"the introspection endpoint (/oidc/token/introspection)")
	registerPlanned("userinfo",
		"userinfo with an opaque access token",
		"the userinfo endpoint (/oidc/me) and opaque access tokens")
}
