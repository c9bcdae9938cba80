package report

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotWidth and PlotHeight are the size of the plots PlotShots writes.
const (
	PlotWidth  = 7 * vg.Inch
	PlotHeight = 5 * vg.Inch
)

// errPoints is the XYer/YErrorer of one method's line.
type errPoints struct {
	xs, ys, es []float64
}

func (p errPoints) Len() int                        { return len(p.xs) }
func (p errPoints) XY(i int) (float64, float64)     { return p.xs[i], p.ys[i] }
func (p errPoints) YError(i int) (float64, float64) { return p.es[i], p.es[i] }

// PlotShots draws benchmark's overall score against the number of shots
// and writes it to path, whose extension chooses the format (.png or .svg;
// gonum/plot also accepts .pdf, .eps, .jpg, .tif). The x axis is
// logarithmic with ticks at 1, 2, 4, 8, 16 and any other few-shot setting
// present. Every method with few-shot results is a line with markers and
// vertical error bars of ± the groups' spread; every zero-shot result is a
// dashed horizontal line. The legend is at the top left, where rising
// curves leave room, and the y range is extended upwards to fit it.
// The file is written atomically.
func PlotShots(groups []Group, benchmark, path string) error {
	gs := ofBenchmark(groups, benchmark)
	if len(gs) == 0 {
		return errors.Errorf("plot %s: no results for benchmark %s", path, benchmark)
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format == "" {
		return errors.Errorf("plot %s: no file extension to choose the format (.png or .svg)", path)
	}

	shotSet := map[int]bool{}
	for _, s := range StandardShots {
		shotSet[s] = true
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, g := range gs {
		if g.Shots > 0 {
			shotSet[g.Shots] = true
		}
		lo, hi := g.Overall.Mean, g.Overall.Mean
		if g.Shots > 0 && !math.IsNaN(g.Overall.Spread) {
			lo, hi = lo-g.Overall.Spread, hi+g.Overall.Spread
		}
		ymin, ymax = math.Min(ymin, lo), math.Max(ymax, hi)
	}
	shots := make([]int, 0, len(shotSet))
	for s := range shotSet {
		shots = append(shots, s)
	}
	sort.Ints(shots)
	xmin, xmax := float64(shots[0])/1.25, float64(shots[len(shots)-1])*1.25

	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: accuracy vs shots (%s over seeds)", benchmark, plotSpreadLabel(gs))
	p.X.Label.Text = "shots per class (log₂ scale)"
	p.Y.Label.Text = "overall score (%)"
	p.X.Scale = plot.LogScale{}
	ticks := make(plot.ConstantTicks, len(shots))
	for i, s := range shots {
		ticks[i] = plot.Tick{Value: float64(s), Label: fmt.Sprint(s)}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = xmin, xmax
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	p.Legend.YOffs = -vg.Points(8)
	p.Add(plotter.NewGrid())

	entries := 0
	for i, m := range methodsOf(gs) {
		var pts errPoints
		for _, g := range gs {
			if g.Method != m {
				continue
			}
			if g.Shots == 0 {
				line, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: g.Overall.Mean}, {X: xmax, Y: g.Overall.Mean}})
				if err != nil {
					return errors.Wrapf(err, "plot %s: zero-shot line of %s", path, m)
				}
				line.Color = plotutil.Color(i)
				line.Width = vg.Points(1.5)
				line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				p.Add(line)
				p.Legend.Add(fmt.Sprintf("%s (0-shot, %.2f)", m, g.Overall.Mean), line)
				entries++
				continue
			}
			spread := g.Overall.Spread
			if math.IsNaN(spread) {
				spread = 0
			}
			pts.xs = append(pts.xs, float64(g.Shots))
			pts.ys = append(pts.ys, g.Overall.Mean)
			pts.es = append(pts.es, spread)
		}
		if pts.Len() == 0 {
			continue
		}
		line, scatter, err := plotter.NewLinePoints(pts)
		if err != nil {
			return errors.Wrapf(err, "plot %s: line of %s", path, m)
		}
		col := plotutil.Color(i)
		line.Color = col
		line.Width = vg.Points(1.5)
		scatter.Color = col
		scatter.Shape = plotutil.Shape(i + i/7)
		bars, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return errors.Wrapf(err, "plot %s: error bars of %s", path, m)
		}
		bars.Color = col
		p.Add(line, scatter, bars)
		p.Legend.Add(m, line, scatter)
		entries++
	}

	// Room for the legend above the data: about 7% of the height per entry.
	span := ymax - ymin
	if span < 1 {
		span = 1
	}
	p.Y.Min = math.Max(0, ymin-0.05*span)
	p.Y.Max = math.Min(100, ymax+span*math.Min(1.5, 0.05+0.08*float64(entries)))
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}

	wt, err := p.WriterTo(PlotWidth, PlotHeight, format)
	if err != nil {
		return errors.Wrapf(err, "plot %s", path)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return errors.Wrapf(err, "plot %s: rendering", path)
	}
	return writeFileAtomic(path, buf.Bytes())
}

func plotSpreadLabel(gs []Group) string {
	for _, g := range gs {
		if g.Spread == SpreadCI95 {
			return "mean ± 95% CI"
		}
	}
	return "mean ± std"
}
