package bench

import (
	"strings"
	"testing"
	"time"
)

func TestCalibrate(t *testing.T) {
	t.Parallel()
	if got := calibrate(0); got != 0 {
		t.Errorf("calibrate(0) = %v, want 0 (skipped)", got)
	}
	// A rate, not a duration, is asserted: any machine signs at least one ES256
	// signature in a 10 ms slice, and none signs a million a second on one core.
	if got := calibrate(50 * time.Millisecond); !(got > 0 && got < 1e6) {
		t.Errorf("calibrate(50ms) = %v signatures/s", got)
	}
}

func TestCalibrationDescribeAndDrift(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c       Calibration
		want    string
		drifted bool
	}{
		{Calibration{ES256PerSecBefore: 21300, ES256PerSecAfter: 20100}, "signs 21.3k ES256/s before the run, 20.1k/s after", false},
		{Calibration{ES256PerSecBefore: 21300, ES256PerSecAfter: 15000}, "15.0k/s after -- the machine's speed changed by more than 20% during the run", true},
		{Calibration{ES256PerSecBefore: 10000, ES256PerSecAfter: 12500}, "changed by more than 20%", true},
		{Calibration{ES256PerSecBefore: 950}, "signs 950 ES256/s before the run", false},
	} {
		if got := tc.c.describe(); !strings.Contains(got, tc.want) {
			t.Errorf("%+v: %q lacks %q", tc.c, got, tc.want)
		}
		if got := tc.c.drifted(); got != tc.drifted {
			t.Errorf("%+v: drifted %v, want %v", tc.c, got, tc.drifted)
		}
	}
}
