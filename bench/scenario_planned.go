package bench

// Scenarios of issue 5 whose endpoints Latch does not serve yet register a placeholder
// here with registerPlanned from init; each becomes real by adding scenario_<name>.go
// that calls register(name, ...) from init (register wins over registerPlanned), and
// its line here is then deleted. None is left: password-login, sso-code, refresh,
// userinfo and introspect are real now (scenario_*.go).
