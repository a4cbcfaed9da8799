package main

import (
	"testing"
	"time"
)

// TestRequestTimeoutFlag: --request-timeout defaults to 3 s, is settable as
// LATCH_REQUEST_TIMEOUT, and must be positive.
func TestRequestTimeoutFlag(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseServeConfig(nil, none)
	if err != nil || cfg.RequestTimeout != 3*time.Second {
		t.Fatalf("default: %v, %v; want 3s", cfg.RequestTimeout, err)
	}
	env := func(k string) string {
		if k == "LATCH_REQUEST_TIMEOUT" {
			return "750ms"
		}
		return ""
	}
	if cfg, err := parseServeConfig(nil, env); err != nil || cfg.RequestTimeout != 750*time.Millisecond {
		t.Fatalf("from the environment: %v, %v; want 750ms", cfg.RequestTimeout, err)
	}
	for _, bad := range []string{"0s", "-1s"} {
		if _, err := parseServeConfig([]string{"--request-timeout", bad}, none); err == nil {
			t.Errorf("--request-timeout %s accepted", bad)
		}
	}
}
