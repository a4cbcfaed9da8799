package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math"
	"time"
)

// Calibration is how fast one core of the load generator's machine was just before the
// run (ahead of setup) and just after it (after teardown), while the OP under test was
// idle: ES256 signatures per second on one goroutine, ES256 being what Latch signs its
// tokens with. A shared or virtual machine's speed changes by tens of percent minutes
// apart, with no steal to show for it; the figure says whether two reports were made on
// machines (or moments) of the same speed, and a gap between before and after says the
// machine changed during the run.
type Calibration struct {
	ES256PerSecBefore float64 `json:"es256PerSecBefore"`
	ES256PerSecAfter  float64 `json:"es256PerSecAfter,omitempty"`
}

// CalibrationDrift is the change between before and after (as a fraction of before) past
// which the text report says the machine's speed changed during the run. Measured on an
// idle 2-core VM, back-to-back calibrations differ by up to about 15%.
const CalibrationDrift = 0.20

// calibrate signs a SHA-256 digest with ES256 on the calling goroutine for about d, in
// calibrationSlices slices, and returns the signatures per second of the fastest slice
// (0 when d <= 0 or a key or signature fails): the fastest, because what it measures is the
// core's speed, and a slice the scheduler interrupted says nothing about that. A few
// signatures first warm the code and the key's tables up.
func calibrate(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return 0
	}
	digest := sha256.Sum256([]byte("latch bench calibration"))
	sign := func() bool {
		_, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		return err == nil
	}
	for range 16 {
		if !sign() {
			return 0
		}
	}
	slice := max(d/calibrationSlices, time.Millisecond)
	best := 0.0
	for range calibrationSlices {
		n := 0
		begin := time.Now()
		for {
			if !sign() {
				return 0
			}
			n++
			// The clock is read every few signatures only: a signature takes tens of
			// microseconds, a clock read well under one.
			if n%8 == 0 {
				if el := time.Since(begin); el >= slice {
					best = max(best, float64(n)/el.Seconds())
					break
				}
			}
		}
	}
	return best
}

// calibrationSlices is how many slices calibrate divides its time into.
const calibrationSlices = 5

// drifted reports whether the machine's speed changed during the run by more than
// CalibrationDrift.
func (c *Calibration) drifted() bool {
	if c == nil || c.ES256PerSecBefore <= 0 || c.ES256PerSecAfter <= 0 {
		return false
	}
	return math.Abs(c.ES256PerSecAfter-c.ES256PerSecBefore)/c.ES256PerSecBefore > CalibrationDrift
}

func (c *Calibration) describe() string {
	s := fmt.Sprintf("one load-generator core signs %s ES256/s before the run", fmtKilo(c.ES256PerSecBefore))
	if c.ES256PerSecAfter > 0 {
		s += fmt.Sprintf(", %s/s after", fmtKilo(c.ES256PerSecAfter))
	}
	if c.drifted() {
		s += fmt.Sprintf(" -- the machine's speed changed by more than %.0f%% during the run", CalibrationDrift*100)
	}
	return s
}

// fmtKilo renders a rate like 21.3k (or 950 below a thousand).
func fmtKilo(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}
