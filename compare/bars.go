package compare

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bars is a grouped bar chart: one group per category on the X axis (a
// connection count), one bar per series in each group (a model), each
// bar a stack of segments (user and system CPU, or a single value), with
// a whisker from the lowest to the highest run where there were several.
// The bar width follows the space a category gets on the canvas, so the
// groups fill their slots whatever the figure's size.
type bars struct {
	categories int
	series     []barSeries
}

type barSeries struct {
	// segments[i] are category i's stacked values, bottom first, coloured
	// by colors; a category without a measurement has no segments.
	segments [][]float64
	colors   []color.Color
	// lo and hi are the whisker's ends per category; equal ends draw none.
	lo, hi []float64
}

// groupShare is the part of a category's slot its bars fill.
const groupShare = 0.8

func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	if len(b.series) == 0 {
		return
	}
	slot := trX(1) - trX(0)
	width := slot * groupShare / vg.Length(len(b.series))
	whisker := draw.LineStyle{Color: color.Gray{Y: 0x20}, Width: vg.Points(1)}
	outline := draw.LineStyle{Color: color.White, Width: vg.Points(0.5)}
	for s, ser := range b.series {
		for i := 0; i < b.categories; i++ {
			left := trX(float64(i)) - slot*groupShare/2 + vg.Length(s)*width
			right := left + width
			base := 0.0
			for k, v := range ser.segments[i] {
				y0, y1 := trY(base), trY(base+v)
				base += v
				pts := []vg.Point{{X: left, Y: y0}, {X: left, Y: y1}, {X: right, Y: y1}, {X: right, Y: y0}}
				c.FillPolygon(ser.colors[k], c.ClipPolygonY(pts))
				c.StrokeLines(outline, c.ClipLinesY(append(pts, pts[0]))...)
			}
			if ser.hi == nil || ser.hi[i] <= ser.lo[i] || len(ser.segments[i]) == 0 {
				continue
			}
			mid, capW := (left+right)/2, width/4
			lo, hi := trY(ser.lo[i]), trY(ser.hi[i])
			c.StrokeLine2(whisker, mid, lo, mid, hi)
			c.StrokeLine2(whisker, mid-capW, lo, mid+capW, lo)
			c.StrokeLine2(whisker, mid-capW, hi, mid+capW, hi)
		}
	}
}

// DataRange spans every category with half a slot either side, and from
// zero to the highest bar or whisker.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	for _, ser := range b.series {
		for i := 0; i < b.categories; i++ {
			top := 0.0
			for _, v := range ser.segments[i] {
				top += v
			}
			ymax = max(ymax, top)
			if ser.hi != nil {
				ymax = max(ymax, ser.hi[i])
			}
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	return -0.5, float64(b.categories) - 0.5, 0, ymax * 1.05
}
