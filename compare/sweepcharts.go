package compare

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// SweepChartFiles are the charts of the open-loop sweep, written when
// some rows are open loop: CPU per request and p99 against offered load.
var SweepChartFiles = []string{"sweep_cpu.svg", "sweep_latency.svg"}

// chartsFor is every chart written for res.
func chartsFor(res *Results) []string {
	if !slices.ContainsFunc(res.Rows, func(r Row) bool { return r.Mode == ModeOpen }) {
		return ChartFiles
	}
	return append(slices.Clone(ChartFiles), SweepChartFiles...)
}

// curves are each model's summaries in each swept shape, by rising rate.
type curves struct {
	models []string
	shapes []shape
	at     map[string]map[shape][]Summary
}

func newCurves(sums []Summary) *curves {
	c := &curves{at: map[string]map[shape][]Summary{}}
	for _, s := range sums {
		if s.Mode != ModeOpen {
			continue
		}
		sh := shape{s.Conns, s.Pipeline}
		if !slices.Contains(c.models, s.Model) {
			c.models = append(c.models, s.Model)
			c.at[s.Model] = map[shape][]Summary{}
		}
		if !slices.Contains(c.shapes, sh) {
			c.shapes = append(c.shapes, sh)
		}
		c.at[s.Model][sh] = append(c.at[s.Model][sh], s)
	}
	return c
}

// writeSweepCharts writes SweepChartFiles into dir.
func writeSweepCharts(dir string, res *Results, sums []Summary) error {
	c := newCurves(sums)
	if len(c.shapes) == 0 {
		return nil
	}
	return writeFigures(dir, SweepChartFiles, []*figure{c.cpu(res.Machine), c.latency(res.Machine, res.Knees)})
}

func shapeTitle(sh shape) string {
	return fmt.Sprintf("%d connections, pipeline %d", sh.conns, sh.pipeline)
}

// The line styles of the CPU chart's three figures.
var (
	solid  []vg.Length
	dashed = []vg.Length{vg.Points(6), vg.Points(3)}
	dotted = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
)

// line adds xys to p as a line with points in the model's colour.
func line(p *plot.Plot, xys plotter.XYs, c color.Color, dash []vg.Length, glyph draw.GlyphDrawer) {
	if len(xys) == 0 {
		return
	}
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1.6), dash
	pts.Color, pts.Shape, pts.Radius = c, glyph, vg.Points(2.5)
	p.Add(l, pts)
}

// rateAxis makes p's X axis the offered rate on a log scale.
func rateAxis(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
}

func (c *curves) cpu(m Machine) *figure {
	f := &figure{title: "Server CPU time per request against offered load", subtitle: subtitle(m, false, "; open loop, log X"), legend: newLegend()}
	for i, model := range c.models {
		f.legend.Add(model, swatch{modelColor(i)})
	}
	f.legend.Add("user + system", lineThumb(color.Gray{Y: 0x30}, solid, draw.CircleGlyph{}))
	f.legend.Add("user", lineThumb(color.Gray{Y: 0x30}, dashed, draw.PyramidGlyph{}))
	f.legend.Add("system", lineThumb(color.Gray{Y: 0x30}, dotted, draw.BoxGlyph{}))
	for _, sh := range c.shapes {
		p := newPanel(shapeTitle(sh), "offered requests per second", "CPU µs per request")
		p.Add(plotter.NewGrid())
		rateAxis(p)
		p.Y.Min = 0
		for i, model := range c.models {
			var tot, user, sys plotter.XYs
			for _, s := range c.at[model][sh] {
				if s.CPUus.N > 0 {
					tot = append(tot, plotter.XY{X: s.Offered, Y: s.CPUus.Median})
				}
				if s.UserUs.N > 0 && s.SysUs.N > 0 {
					user = append(user, plotter.XY{X: s.Offered, Y: s.UserUs.Median})
					sys = append(sys, plotter.XY{X: s.Offered, Y: s.SysUs.Median})
				}
			}
			line(p, tot, modelColor(i), solid, draw.CircleGlyph{})
			line(p, user, modelColor(i), dashed, draw.PyramidGlyph{})
			line(p, sys, modelColor(i), dotted, draw.BoxGlyph{})
		}
		f.panels = append(f.panels, p)
	}
	return f
}

func (c *curves) latency(m Machine, knees []Knee) *figure {
	f := &figure{title: "p99 latency against offered load, knees ringed", subtitle: subtitle(m, false, "; open loop, log scales"), legend: newLegend()}
	for i, model := range c.models {
		f.legend.Add(model, swatch{modelColor(i)})
	}
	f.legend.Add("p99 corrected", lineThumb(color.Gray{Y: 0x30}, solid, draw.CircleGlyph{}))
	f.legend.Add("p99 service", lineThumb(color.Gray{Y: 0x30}, dashed, draw.PyramidGlyph{}))
	f.legend.Add("knee", kneeThumb{})
	for _, sh := range c.shapes {
		p := newPanel(shapeTitle(sh), "offered requests per second", "p99 latency")
		p.Add(plotter.NewGrid())
		rateAxis(p)
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{unit: durationLabel}
		any := false
		for i, model := range c.models {
			var corr, svc, knee plotter.XYs
			k, hasKnee := kneeOf(knees, model, sh.conns, sh.pipeline)
			for _, s := range c.at[model][sh] {
				if s.P99us.N > 0 && s.P99us.Median > 0 {
					corr = append(corr, plotter.XY{X: s.Offered, Y: s.P99us.Median})
					if hasKnee && s.Offered == k {
						knee = append(knee, corr[len(corr)-1])
					}
				}
				if s.P99Service.N > 0 && s.P99Service.Median > 0 {
					svc = append(svc, plotter.XY{X: s.Offered, Y: s.P99Service.Median})
				}
			}
			line(p, corr, modelColor(i), solid, draw.CircleGlyph{})
			line(p, svc, modelColor(i), dashed, draw.PyramidGlyph{})
			if len(knee) > 0 {
				if sc, err := plotter.NewScatter(knee); err == nil {
					sc.GlyphStyle = draw.GlyphStyle{Color: modelColor(i), Radius: vg.Points(8), Shape: draw.RingGlyph{}}
					p.Add(sc)
				}
			}
			any = any || len(corr) > 0
		}
		if !any {
			// A log axis needs a positive range even with nothing to show.
			p.Y.Min, p.Y.Max = 1, 1000
			p.Title.Text += ": not measured"
		}
		f.panels = append(f.panels, p)
	}
	return f
}

// kneeThumb is the legend's ring.
type kneeThumb struct{}

func (kneeThumb) Thumbnail(c *draw.Canvas) {
	pt := vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: (c.Min.Y + c.Max.Y) / 2}
	c.DrawGlyph(draw.GlyphStyle{Color: color.Gray{Y: 0x30}, Radius: vg.Points(6), Shape: draw.RingGlyph{}}, pt)
}
