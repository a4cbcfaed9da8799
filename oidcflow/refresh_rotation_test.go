package oidcflow

import (
	"testing"
	"time"
)

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	const day = 24 * time.Hour
	ttl := 14 * day
	// The injected clock: every row is relative to now.
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	grant := now.Add(150 * day) // far enough not to cap, unless a row says so

	// token returns a token of TTL ttl of which fraction has elapsed at now.
	token := func(fraction float64) (issued, expires time.Time) {
		issued = now.Add(-time.Duration(fraction * float64(ttl)))
		return issued, issued.Add(ttl)
	}
	type in struct {
		app       string
		rotate    bool
		familyAge time.Duration
		elapsed   float64 // fraction of the presented token's TTL
		grant     time.Time
		ttl       time.Duration
	}
	tests := []struct {
		name       string
		in         in
		wantRotate bool
		// wantExpires is "keep" (the token's expiry), "fresh" (now + TTL) or "grant".
		wantExpires string
	}{
		// rotateRefreshToken off: never, for every app type.
		{"setting off: SPA", in{app: "SPA", elapsed: 0.9}, false, "keep"},
		{"setting off: Native", in{app: "Native", elapsed: 0.9}, false, "keep"},
		{"setting off: Traditional", in{app: "Traditional", elapsed: 0.9}, false, "keep"},

		// Total lifetime >= 1 year (365.25 days): the TTL is final.
		{"one year: SPA", in{app: "SPA", rotate: true, familyAge: RefreshRotationMaxLifetime}, false, "keep"},
		{"one year: Native", in{app: "Native", rotate: true, familyAge: RefreshRotationMaxLifetime}, false, "keep"},
		{"one year: Traditional", in{app: "Traditional", rotate: true, familyAge: 400 * day, elapsed: 0.9}, false, "keep"},
		{"just under one year: Native", in{app: "Native", rotate: true, familyAge: RefreshRotationMaxLifetime - time.Second}, true, "fresh"},

		// Public clients: always; SPAs keep the remaining TTL, Native gets a fresh one.
		{"SPA: fresh token rotates, keeps remaining TTL", in{app: "SPA", rotate: true}, true, "keep"},
		{"SPA: late token rotates, keeps remaining TTL", in{app: "SPA", rotate: true, elapsed: 0.95}, true, "keep"},
		{"Native: fresh token rotates with a fresh TTL", in{app: "Native", rotate: true}, true, "fresh"},
		{"Native: custom TTL", in{app: "Native", rotate: true, elapsed: 0.1, ttl: 30 * day}, true, "fresh"},

		// Confidential clients: at >= 70 % of the TTL.
		{"Traditional: 69 %", in{app: "Traditional", rotate: true, elapsed: 0.69}, false, "keep"},
		{"Traditional: exactly 70 %", in{app: "Traditional", rotate: true, elapsed: 0.70}, true, "fresh"},
		{"Traditional: 99 %", in{app: "Traditional", rotate: true, elapsed: 0.99}, true, "fresh"},
		{"unknown type is confidential: 10 %", in{app: "MachineToMachine", rotate: true, elapsed: 0.1}, false, "keep"},

		// The 180-day grant bounds everything.
		{"Native: capped at the grant", in{app: "Native", rotate: true, grant: now.Add(3 * day)}, true, "grant"},
		{"Traditional: capped at the grant", in{app: "Traditional", rotate: true, elapsed: 0.8, grant: now.Add(time.Hour)}, true, "grant"},
		{"SPA: capped at the grant", in{app: "SPA", rotate: true, elapsed: 0.1, grant: now.Add(time.Hour)}, true, "grant"},
		{"not rotating: capped at the grant", in{app: "Traditional", rotate: true, elapsed: 0.1, grant: now.Add(time.Hour)}, false, "grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issued, expires := token(tt.in.elapsed)
			g := grant
			if !tt.in.grant.IsZero() {
				g = tt.in.grant
			}
			appTTL := tt.in.ttl
			wantTTL := appTTL
			if wantTTL == 0 {
				wantTTL = DefaultRefreshTokenTTL
			}
			got := RefreshRotation(RefreshRotationInput{
				AppType:         tt.in.app,
				RotateSetting:   tt.in.rotate,
				FamilyCreatedAt: now.Add(-tt.in.familyAge),
				TokenIssuedAt:   issued,
				TokenExpiresAt:  expires,
				GrantExpiresAt:  g,
				Now:             now,
				TTL:             appTTL,
			})
			want := map[string]time.Time{"keep": expires, "fresh": now.Add(wantTTL), "grant": g}[tt.wantExpires]
			if got.Rotate != tt.wantRotate || !got.NextExpiresAt.Equal(want) {
				t.Errorf("RefreshRotation = {Rotate: %v, NextExpiresAt: %v}, want {%v, %v (%s)}",
					got.Rotate, got.NextExpiresAt, tt.wantRotate, want, tt.wantExpires)
			}
		})
	}
}

func TestRefreshRotationNoGrantBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	got := RefreshRotation(RefreshRotationInput{
		AppType: "Native", RotateSetting: true, FamilyCreatedAt: now, TokenIssuedAt: now,
		TokenExpiresAt: now.Add(time.Hour), Now: now,
	})
	if !got.Rotate || !got.NextExpiresAt.Equal(now.Add(DefaultRefreshTokenTTL)) {
		t.Errorf("zero grant bound and TTL: %+v, want rotation with the 14-day default", got)
	}
}
