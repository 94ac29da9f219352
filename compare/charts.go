package compare

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WriteCharts writes the SVG charts named in ChartFiles into dir:
// throughput, CPU per request split into user and system time, and
// latency percentiles, each with one panel per pipeline depth.
func WriteCharts(dir string, res *Results, sums []Summary) error {
	var closed []Summary
	for _, s := range sums {
		if s.Mode != ModeOpen {
			closed = append(closed, s)
		}
	}
	g := newGrid(closed)
	return writeFigures(dir, ChartFiles, []*figure{g.throughput(res.Machine), g.cpu(res.Machine), g.latency(res.Machine)})
}

// writeFigures renders figs[i] as SVG into dir/names[i].
func writeFigures(dir string, names []string, figs []*figure) error {
	for i, f := range figs {
		b, err := f.render("svg")
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		if err := os.WriteFile(filepath.Join(dir, names[i]), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// grid indexes the summaries by model, connection count and pipeline
// depth, each in the order measured.
type grid struct {
	models      []string
	conns, pipe []int
	at          map[[3]string]Summary
}

func newGrid(sums []Summary) *grid {
	g := &grid{at: map[[3]string]Summary{}}
	for _, s := range sums {
		g.at[key(s.Model, s.Conns, s.Pipeline)] = s
	}
	g.models = distinct(sums, func(s Summary) string { return s.Model })
	g.conns = distinct(sums, func(s Summary) int { return s.Conns })
	g.pipe = distinct(sums, func(s Summary) int { return s.Pipeline })
	return g
}

func key(model string, conns, pipeline int) [3]string {
	return [3]string{model, strconv.Itoa(conns), strconv.Itoa(pipeline)}
}

func (g *grid) get(model string, conns, pipeline int) (Summary, bool) {
	s, ok := g.at[key(model, conns, pipeline)]
	return s, ok
}

// subtitle says how the charts' figures were taken.
func subtitle(m Machine, whiskers bool, extra string) string {
	runs := "one run"
	if m.Runs > 1 {
		runs = fmt.Sprintf("medians of %d interleaved runs", m.Runs)
		if whiskers {
			runs += ", whiskers span the runs"
		}
	}
	return fmt.Sprintf("%s; server on CPU %s (%d loop), %s client on CPU %s; %d× %s, Linux %s%s",
		runs, m.ServerCPUs, m.Loops, m.Client, m.ClientCPUs, m.CPUs, orUnknown(m.CPUModel), orUnknown(m.Kernel), extra)
}

// connLabels are the X axis's categories.
func (g *grid) connLabels() []string {
	out := make([]string, len(g.conns))
	for i, c := range g.conns {
		out[i] = strconv.Itoa(c)
	}
	return out
}

func (g *grid) throughput(m Machine) *figure {
	f := &figure{title: "Throughput: requests per second by model and concurrency", subtitle: subtitle(m, true, ""), legend: newLegend()}
	for i, model := range g.models {
		f.legend.Add(model, swatch{modelColor(i)})
	}
	g.barPanels(f, "requests per second", func(i int) []color.Color { return []color.Color{modelColor(i)} },
		func(s Summary) ([]float64, Stat, bool) {
			return []float64{s.RPS.Median}, s.RPS, s.RPS.N > 0
		})
	return f
}

func (g *grid) cpu(m Machine) *figure {
	f := &figure{title: "Server CPU time per request, user and kernel", subtitle: subtitle(m, true, ""), legend: newLegend()}
	for i, model := range g.models {
		f.legend.Add(model+": system", swatch{modelColor(i)})
		f.legend.Add(model+": user", swatch{tint(modelColor(i), 0.55)})
	}
	g.barPanels(f, "CPU µs per request (user + system)",
		func(i int) []color.Color { return []color.Color{modelColor(i), tint(modelColor(i), 0.55)} },
		func(s Summary) ([]float64, Stat, bool) {
			// The medians of user and system need not add up to the
			// median total; the bar is scaled to that total and split in
			// the medians' proportion.
			sys, user := s.SysUs.Median, s.UserUs.Median
			if tot := sys + user; tot > 0 {
				sys, user = s.CPUus.Median*sys/tot, s.CPUus.Median*user/tot
			}
			return []float64{sys, user}, s.CPUus, s.SysUs.N > 0 && s.UserUs.N > 0
		})
	return f
}

// barPanels adds to f one bar panel per pipeline depth: a group of bars per
// connection count, a bar per model, coloured by colors(model index). cell
// gives a bar's stacked segments, the figure whose runs' range the whisker
// spans, and whether the cell has a figure at all.
func (g *grid) barPanels(f *figure, yLabel string, colors func(int) []color.Color, cell func(Summary) ([]float64, Stat, bool)) {
	for _, p := range g.pipe {
		pl := newPanel(pipelineTitle(p), "concurrent connections", yLabel)
		b := &bars{categories: len(g.conns)}
		for i, model := range g.models {
			ser := barSeries{colors: colors(i), lo: make([]float64, len(g.conns)), hi: make([]float64, len(g.conns))}
			for j, c := range g.conns {
				var seg []float64
				if s, ok := g.get(model, c, p); ok {
					if parts, spread, has := cell(s); has {
						seg = parts
						ser.lo[j], ser.hi[j] = spread.Min, spread.Max
					}
				}
				ser.segments = append(ser.segments, seg)
			}
			b.series = append(b.series, ser)
		}
		b.clipOutlier()
		pl.Add(plotter.NewGrid(), b)
		pl.NominalX(g.connLabels()...)
		pl.Y.Tick.Marker = siTicks{}
		pl.Y.Min = 0
		f.panels = append(f.panels, pl)
	}
}

// percentiles drawn in the latency chart, with the dash and marker that
// tell them apart (the colour tells the model).
var percentiles = []struct {
	name  string
	get   func(Summary) Stat
	dash  []vg.Length
	glyph draw.GlyphDrawer
}{
	{"p50", func(s Summary) Stat { return s.P50us }, nil, draw.CircleGlyph{}},
	{"p99", func(s Summary) Stat { return s.P99us }, []vg.Length{vg.Points(6), vg.Points(3)}, draw.PyramidGlyph{}},
	{"p99.9", func(s Summary) Stat { return s.P999us }, []vg.Length{vg.Points(1.5), vg.Points(2.5)}, draw.BoxGlyph{}},
}

func (g *grid) latency(m Machine) *figure {
	f := &figure{title: "Latency percentiles seen by the client", subtitle: subtitle(m, false, "; log scales"), legend: newLegend()}
	for i, model := range g.models {
		f.legend.Add(model, swatch{modelColor(i)})
	}
	for _, pc := range percentiles {
		f.legend.Add(pc.name, lineThumb(color.Gray{Y: 0x30}, pc.dash, pc.glyph))
	}
	if len(g.conns) == 0 {
		return f
	}
	lo, hi := float64(slices.Min(g.conns)), float64(slices.Max(g.conns))
	ticks := make(plot.ConstantTicks, len(g.conns))
	for i, c := range g.conns {
		ticks[i] = plot.Tick{Value: float64(c), Label: strconv.Itoa(c)}
	}
	for _, p := range g.pipe {
		pl := newPanel(pipelineTitle(p), "concurrent connections", "latency")
		pl.Add(plotter.NewGrid())
		pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
		pl.X.Tick.Marker, pl.Y.Tick.Marker = ticks, logTicks{unit: durationLabel}
		any := false
		for i, model := range g.models {
			for _, pc := range percentiles {
				var xys plotter.XYs
				for _, c := range g.conns {
					if s, ok := g.get(model, c, p); ok && pc.get(s).N > 0 && pc.get(s).Median > 0 {
						xys = append(xys, plotter.XY{X: float64(c), Y: pc.get(s).Median})
					}
				}
				if len(xys) == 0 {
					continue
				}
				line, points, err := plotter.NewLinePoints(xys)
				if err != nil {
					continue
				}
				line.Color, line.Width, line.Dashes = modelColor(i), vg.Points(1.6), pc.dash
				points.Color, points.Shape, points.Radius = modelColor(i), pc.glyph, vg.Points(3)
				pl.Add(line, points)
				any = true
			}
		}
		if !any {
			// A log axis needs a positive range even with nothing to show.
			pl.Y.Min, pl.Y.Max = 1, 1000
			pl.Title.Text += ": not measured"
		}
		pl.X.Min, pl.X.Max = lo/1.5, hi*1.5
		f.panels = append(f.panels, pl)
	}
	return f
}

// lineThumb is a legend entry's line with a marker in its middle.
func lineThumb(c color.Color, dash []vg.Length, glyph draw.GlyphDrawer) plot.Thumbnailer {
	return thumbFunc(func(cv *draw.Canvas) {
		y := (cv.Min.Y + cv.Max.Y) / 2
		cv.StrokeLine2(draw.LineStyle{Color: c, Width: vg.Points(1.6), Dashes: dash}, cv.Min.X, y, cv.Max.X, y)
		cv.DrawGlyph(draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: glyph}, vg.Point{X: (cv.Min.X + cv.Max.X) / 2, Y: y})
	})
}

type thumbFunc func(*draw.Canvas)

func (f thumbFunc) Thumbnail(c *draw.Canvas) { f(c) }

// distinct is the values of key over sums, each once, in order.
func distinct[T comparable](sums []Summary, key func(Summary) T) []T {
	var out []T
	for _, s := range sums {
		if k := key(s); !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
