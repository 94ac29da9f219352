package compare

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	_ "gonum.org/v1/plot/vg/vgsvg" // registers the svg format
)

// figure is one chart file: a title, a line on how the figures were taken,
// one panel per pipeline depth side by side, and one legend for all the
// panels on the right.
type figure struct {
	title, subtitle string
	panels          []*plot.Plot
	legend          plot.Legend
}

// Sizes of a figure, in points (1/72 inch): about 1100 by 500 pixels for
// two panels, legible when a blog scales it to its column.
const (
	panelWidth   = 330
	panelHeight  = 330
	legendWidth  = 120
	headerHeight = 52
	margin       = 12
)

// The typeface of every label. Liberation Sans has the metrics of Arial
// and Helvetica, which the SVG names as fallbacks (see render), so the
// text keeps the size it was laid out with wherever it is viewed.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(sans, size),
		Handler: plot.DefaultTextHandler,
	}
}

// newPanel is a plot in the figures' typeface with a light grid.
func newPanel(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.Title.Padding = 8
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(sans, 12)
		ax.Tick.Label.Font = font.From(sans, 11)
		ax.Label.Padding = 4
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	return p
}

func newLegend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 11)
	l.Top, l.Left = true, true
	l.Padding = 4
	l.ThumbnailWidth = 22
	return l
}

// render draws the figure in format ("svg", or any format registered with
// gonum's draw package).
func (f *figure) render(format string) ([]byte, error) {
	cols := max(len(f.panels), 1)
	w := vg.Length(margin + cols*panelWidth + legendWidth + margin)
	h := vg.Length(headerHeight + panelHeight + margin)
	cv, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, err
	}
	dc := draw.New(cv)
	dc.FillPolygon(color.White, []vg.Point{{X: 0, Y: 0}, {X: 0, Y: h}, {X: w, Y: h}, {X: w, Y: 0}})

	title := textStyle(16)
	title.XAlign, title.YAlign = draw.XLeft, draw.YTop
	dc.FillText(title, vg.Point{X: margin, Y: h - 8}, f.title)
	sub := textStyle(11)
	sub.Color = color.Gray{Y: 0x50}
	sub.XAlign, sub.YAlign = draw.XLeft, draw.YTop
	dc.FillText(sub, vg.Point{X: margin, Y: h - 30}, f.subtitle)

	body := draw.Crop(dc, margin, -(legendWidth + margin), margin, -headerHeight)
	if len(f.panels) > 0 {
		grid := [][]*plot.Plot{f.panels}
		tiles := draw.Tiles{Rows: 1, Cols: cols, PadX: 18}
		for i, c := range plot.Align(grid, tiles, body)[0] {
			f.panels[i].Draw(c)
		}
	}
	legend := draw.Crop(dc, w-legendWidth-margin/2, 0, margin, -headerHeight-24)
	f.legend.Draw(legend)

	var buf bytes.Buffer
	if _, err := cv.WriteTo(&buf); err != nil {
		return nil, err
	}
	if format == "svg" {
		return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
			[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")), nil
	}
	return buf.Bytes(), nil
}

// The models' colours, from Okabe and Ito's palette, which stays distinct
// for the common kinds of colour blindness and in greyscale print.
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermilion
}

func modelColor(i int) color.RGBA { return palette[i%len(palette)] }

// tint mixes c with white: share 0 is c, 1 is white.
func tint(c color.RGBA, share float64) color.RGBA {
	mix := func(v uint8) uint8 { return uint8(float64(v) + (255-float64(v))*share) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 0xFF}
}

// swatch is a legend entry's filled square.
type swatch struct{ fill color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	side := min(r.Max.X-r.Min.X, r.Max.Y-r.Min.Y)
	x0 := r.Min.X + (r.Max.X-r.Min.X-side)/2
	pts := []vg.Point{{X: x0, Y: r.Min.Y}, {X: x0, Y: r.Min.Y + side}, {X: x0 + side, Y: r.Min.Y + side}, {X: x0 + side, Y: r.Min.Y}}
	c.FillPolygon(s.fill, pts)
}

// siTicks labels a linear axis with short numbers: 20k, 1.5M.
type siTicks struct{}

func (siTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = short(ticks[i].Value)
		}
	}
	return ticks
}

// logTicks labels a log axis at each power of ten with unit, or short
// when unit is nil.
type logTicks struct{ unit func(float64) string }

func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 {
		return nil
	}
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	label := t.unit
	if label == nil {
		label = short
	}
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = label(ticks[i].Value)
		}
	}
	return ticks
}

// short writes a tick value compactly: 0.5, 20, 20k, 1.5M.
func short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// durationLabel writes microseconds as a duration: 100µs, 1ms, 10s.
func durationLabel(us float64) string {
	switch {
	case us >= 1e6:
		return short(us/1e6) + "s"
	case us >= 1e3:
		return short(us/1e3) + "ms"
	}
	return short(us) + "µs"
}

func pipelineTitle(p int) string { return fmt.Sprintf("pipeline %d", p) }
