package bench

// Scenarios of issue 5 whose endpoints Latch does not serve yet. Each becomes real by
// adding scenario_<name>.go that calls register(name, ...) from init; the placeholder
// below then steps aside on its own (register wins over registerPlanned), and the line
// can be deleted at leisure. password-login, sso-code, refresh and userinfo are real
// now (scenario_*.go).
func init() {
	registerPlanned("introspect",
		"token introspection (RFC 7662)",
		"the introspection endpoint (/oidc/token/introspection)")
}
