package compare

import (
	"image/color"
	"math"
	"slices"

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
	// clip, when above zero, is the top of the value axis: taller bars
	// are cut there and labelled with their value, so one outlying
	// category does not flatten all the others.
	clip float64
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
				y0, y1 := trY(b.cut(base)), trY(b.cut(base+v))
				base += v
				pts := []vg.Point{{X: left, Y: y0}, {X: left, Y: y1}, {X: right, Y: y1}, {X: right, Y: y0}}
				c.FillPolygon(ser.colors[k], c.ClipPolygonY(pts))
				c.StrokeLines(outline, c.ClipLinesY(append(pts, pts[0]))...)
			}
			mid, capW := (left+right)/2, width/4
			if b.clip > 0 && base > b.clip {
				label := textStyle(9)
				label.XAlign, label.YAlign = draw.XCenter, draw.YTop
				label.Color = color.White
				top := trY(b.clip)
				c.FillText(label, vg.Point{X: mid, Y: top - 2}, short(roundSig(base, 3)))
				// Two slanted white strokes below the label: the sign of a
				// broken bar.
				brk := draw.LineStyle{Color: color.White, Width: vg.Points(1.5)}
				for _, y := range []vg.Length{top - 18, top - 23} {
					c.StrokeLine2(brk, left, y-2, right, y+2)
				}
				continue
			}
			if ser.hi == nil || ser.hi[i] <= ser.lo[i] || len(ser.segments[i]) == 0 {
				continue
			}
			lo, hi := trY(ser.lo[i]), trY(b.cut(ser.hi[i]))
			c.StrokeLine2(whisker, mid, lo, mid, hi)
			c.StrokeLine2(whisker, mid-capW, lo, mid+capW, lo)
			if b.clip == 0 || ser.hi[i] <= b.clip {
				c.StrokeLine2(whisker, mid-capW, hi, mid+capW, hi)
			}
		}
	}
}

// cut limits v to the clip.
func (b *bars) cut(v float64) float64 {
	if b.clip > 0 {
		return min(v, b.clip)
	}
	return v
}

// tops is each category's highest bar or whisker.
func (b *bars) tops() []float64 {
	tops := make([]float64, b.categories)
	for _, ser := range b.series {
		for i := range tops {
			top := 0.0
			for _, v := range ser.segments[i] {
				top += v
			}
			tops[i] = max(tops[i], top)
			if ser.hi != nil && len(ser.segments[i]) > 0 {
				tops[i] = max(tops[i], ser.hi[i])
			}
		}
	}
	return tops
}

// clipOutlier sets the clip when one category stands more than 2.5 times
// taller than every other: the axis then ends a little above the rest.
func (b *bars) clipOutlier() {
	tops := slices.Sorted(slices.Values(b.tops()))
	if n := len(tops); n >= 2 && tops[n-2] > 0 && tops[n-1] > 2.5*tops[n-2] {
		b.clip = 1.5 * tops[n-2]
	}
}

// DataRange spans every category with half a slot either side, and from
// zero to the highest bar or whisker, or the clip.
func (b *bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	if b.clip > 0 {
		return -0.5, float64(b.categories) - 0.5, 0, b.clip
	}
	for _, top := range b.tops() {
		ymax = max(ymax, top)
	}
	if ymax == 0 {
		ymax = 1
	}
	return -0.5, float64(b.categories) - 0.5, 0, ymax * 1.05
}

// roundSig rounds v to digits significant digits.
func roundSig(v float64, digits int) float64 {
	if v == 0 {
		return 0
	}
	scale := math.Pow(10, float64(digits-1)-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}
