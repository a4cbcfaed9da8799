package bench

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds, from 1 µs to one hour, with 3 significant
// digits (HdrHistogram: every recorded value is exact to 0.1 %). Larger values are
// clamped to the maximum and counted in the report's "clamped" field, never dropped.
const (
	histLowest  = 1
	histHighest = int64(time.Hour / time.Microsecond)
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recordLatency records d (clamped to the histogram's range); it reports whether the
// value had to be clamped.
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) (clamped bool) {
	us := int64(d / time.Microsecond)
	if us < histLowest {
		us = histLowest
	}
	if us > histHighest {
		us, clamped = histHighest, true
	}
	_ = h.RecordValue(us) // cannot fail: us is within range
	return clamped
}

// LatencySummary is the latency distribution of a set of requests, in milliseconds, with
// the whole histogram (HdrHistogram V2 compressed encoding, base64) so other tools and
// `latch bench compare` can recompute any percentile.
type LatencySummary struct {
	Count     int64   `json:"count"`
	MinMs     float64 `json:"minMs"`
	MeanMs    float64 `json:"meanMs"`
	StdDevMs  float64 `json:"stdDevMs"`
	P50Ms     float64 `json:"p50Ms"`
	P90Ms     float64 `json:"p90Ms"`
	P99Ms     float64 `json:"p99Ms"`
	P999Ms    float64 `json:"p99_9Ms"`
	P9999Ms   float64 `json:"p99_99Ms"`
	MaxMs     float64 `json:"maxMs"`
	Histogram string  `json:"histogram,omitempty"`
}

func usToMs(us int64) float64 { return float64(us) / 1000 }

// Summarize computes the summary of h (which it does not modify).
func Summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h == nil || h.TotalCount() == 0 {
		return LatencySummary{}
	}
	s := LatencySummary{
		Count:    h.TotalCount(),
		MinMs:    usToMs(h.Min()),
		MeanMs:   h.Mean() / 1000,
		StdDevMs: h.StdDev() / 1000,
		P50Ms:    usToMs(h.ValueAtQuantile(50)),
		P90Ms:    usToMs(h.ValueAtQuantile(90)),
		P99Ms:    usToMs(h.ValueAtQuantile(99)),
		P999Ms:   usToMs(h.ValueAtQuantile(99.9)),
		P9999Ms:  usToMs(h.ValueAtQuantile(99.99)),
		MaxMs:    usToMs(h.Max()),
	}
	if b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		s.Histogram = string(b) // already base64 text
	}
	return s
}

// Decode returns the histogram stored in the summary, or an error if there is none or
// it is corrupt. A JSON report is input: a damaged or hostile one must be an error, not
// a crash or a huge allocation, so the encoding is checked before hdrhistogram-go (which
// trusts its header) decodes it.
func (s LatencySummary) Decode() (h *hdrhistogram.Histogram, err error) {
	if s.Histogram == "" {
		return nil, errors.New("no histogram recorded")
	}
	if err := checkEncodedHistogram(s.Histogram); err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, errors.New("histogram: corrupt encoding")
		}
	}()
	h, err = hdrhistogram.Decode([]byte(s.Histogram))
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	return h, nil
}

// checkEncodedHistogram validates the V2 compressed encoding's framing and header:
// sizes, a bounded decompressed length, and a value range no wider than what latch bench
// records (so decoding allocates at most what a run did).
func checkEncodedHistogram(enc string) error {
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return err
	}
	if len(raw) < 8 {
		return errors.New("too short")
	}
	if c := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0; c != hdrhistogram.V2CompressedEncodingCookieBase {
		return errors.New("not a V2 compressed histogram")
	}
	n := int32(binary.BigEndian.Uint32(raw[4:8]))
	if n < 0 || int(n) > len(raw)-8 {
		return errors.New("bad compressed length")
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return err
	}
	defer z.Close()
	const maxDecompressed = 16 << 20
	plain, err := io.ReadAll(io.LimitReader(z, maxDecompressed+1))
	if err != nil {
		return err
	}
	if len(plain) > maxDecompressed {
		return errors.New("decompresses too large")
	}
	if len(plain) < 40 {
		return errors.New("header too short")
	}
	payload := int32(binary.BigEndian.Uint32(plain[4:8]))
	digits := int32(binary.BigEndian.Uint32(plain[12:16]))
	lowest := int64(binary.BigEndian.Uint64(plain[16:24]))
	highest := int64(binary.BigEndian.Uint64(plain[24:32]))
	switch {
	case int(payload) != len(plain)-40:
		return errors.New("bad payload length")
	case digits < 1 || digits > 5:
		return errors.New("bad significant digits")
	case lowest < 1 || highest < 2*lowest || highest > 24*histHighest:
		return errors.New("value range out of bounds")
	}
	return nil
}

// percentileCurve samples h along a log scale of 1/(1-p): x = log10(1/(1-p)) from 0
// (p = 0) to maxX (4 = p 99.99), step apart. Values are in milliseconds.
func percentileCurve(h *hdrhistogram.Histogram, maxX, step float64) (xs, ms []float64) {
	for x := 0.0; x <= maxX+1e-9; x += step {
		p := 100 * (1 - math.Pow(10, -x))
		xs = append(xs, x)
		ms = append(ms, usToMs(h.ValueAtQuantile(p)))
	}
	return xs, ms
}
