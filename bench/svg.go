package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Series is one latency distribution on a percentile plot.
type Series struct {
	Name   string
	Hist   *hdrhistogram.Histogram
	Dashed bool
}

// svgMaxX is the right end of the x axis: log10(1/(1-p)) for p = 99.99 %.
const svgMaxX = 4

// WriteSVG draws a latency-by-percentile plot (the HdrHistogram way): the x axis is
// percentiles on a log scale of 1/(1-p), 0 % to 99.99 %, so the tail gets as much room as
// the median; the y axis is latency in milliseconds, linear. Hand-written SVG, no
// dependencies; every label is escaped.
func WriteSVG(w io.Writer, title string, series []Series) error {
	const (
		width, height = 820, 500
		left, right   = 70, 190
		top, bottom   = 50, 60
	)
	plotW := float64(width - left - right)
	plotH := float64(height - top - bottom)

	type curve struct {
		s      Series
		xs, ys []float64
	}
	var curves []curve
	var yMax float64
	for _, s := range series {
		if s.Hist == nil || s.Hist.TotalCount() == 0 {
			continue
		}
		xs, ys := percentileCurve(s.Hist, svgMaxX, 0.02)
		curves = append(curves, curve{s, xs, ys})
		for _, y := range ys {
			yMax = math.Max(yMax, y)
		}
	}
	step, top10 := niceScale(yMax)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))

	px := func(x float64) float64 { return float64(left) + x/svgMaxX*plotW }
	py := func(y float64) float64 { return float64(top) + plotH - y/top10*plotH }

	// Grid and axes.
	for _, t := range []struct {
		x     float64
		label string
	}{{0, "0%"}, {1, "90%"}, {2, "99%"}, {3, "99.9%"}, {4, "99.99%"}} {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(t.x), top, px(t.x), py(0))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(t.x), py(0)+18, t.label)
	}
	for y := 0.0; y <= top10+step/2; y += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), px(svgMaxX), py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, trimFloat(y))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">percentile (log scale of 1/(1-p))</text>`+"\n", px(svgMaxX/2), height-15)
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">latency (ms)</text>`+"\n", py(top10/2), py(top10/2))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", left, top, plotW, plotH)

	palette := []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}
	for i, c := range curves {
		color := palette[i%len(palette)]
		var pts strings.Builder
		for j := range c.xs {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(c.xs[j]), py(c.ys[j]))
		}
		dash := ""
		if c.s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", color, dash, strings.TrimSpace(pts.String()))
		ly := top + 10 + i*36
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", width-right+12, ly, width-right+36, ly, color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", width-right+42, ly+4, html.EscapeString(truncate(c.s.Name, 22)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555" font-size="10">p99 %s, max %s</text>`+"\n", width-right+42, ly+18,
			fmtMs(usToMs(c.s.Hist.ValueAtQuantile(99))), fmtMs(usToMs(c.s.Hist.Max())))
	}
	if len(curves) == 0 {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">no requests recorded</text>`+"\n", px(svgMaxX/2), py(top10/2))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceScale returns a tick step of 1, 2 or 5 x 10^k and the axis top (a multiple of the
// step, at least max) for about five ticks.
func niceScale(max float64) (step, top float64) {
	if !(max > 0) {
		return 1, 5
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return step, math.Ceil(max/step) * step
}

func trimFloat(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
