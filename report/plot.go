package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/softcpt/softcpt-go/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotWidth and PlotHeight are the size of the plots PlotShots writes;
// the height grows when a long legend needs it.
const (
	PlotWidth  = 7 * vg.Inch
	PlotHeight = 5 * vg.Inch
)

// lineColors is the Tableau 10 palette: ten colours that stay apart for
// the paper's thirteen methods when combined with the marker shapes.
var lineColors = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0x79, 0x70, 0x6e, 0xff},
}

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
// curves leave room; the y range is extended upwards, and for long
// legends the canvas made taller, so that it does not cover the data.
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
	p.Y.Tick.Marker = percentTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(10)
	p.Legend.YOffs = -vg.Points(8)
	p.Add(plotter.NewGrid())

	for i, m := range methodsOf(gs) {
		var pts errPoints
		for _, g := range gs {
			if g.Method != m {
				continue
			}
			if g.Shots == 0 || g.Shots == AllShots {
				// Zero-shot (dashed) and all-data (dotted) runs have no
				// place on the shots axis: horizontal lines.
				line, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: g.Overall.Mean}, {X: xmax, Y: g.Overall.Mean}})
				if err != nil {
					return errors.Wrapf(err, "plot %s: %s-shot line of %s", path, shotsLabel(g.Shots), m)
				}
				line.Color = lineColors[i%len(lineColors)]
				line.Width = vg.Points(1.5)
				line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
				if g.Shots == AllShots {
					line.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2)}
				}
				p.Add(line)
				p.Legend.Add(fmt.Sprintf("%s (%s-shot, %.2f)", m, shotsLabel(g.Shots), g.Overall.Mean), line)
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
		col := lineColors[i%len(lineColors)]
		line.Color = col
		line.Width = vg.Points(1.5)
		scatter.Color = col
		scatter.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return errors.Wrapf(err, "plot %s: error bars of %s", path, m)
		}
		bars.Color = col
		p.Add(line, scatter, bars)
		p.Legend.Add(m, line, scatter)
	}

	// Keep the legend (top left) clear of the data: the canvas grows when
	// the legend would take more than 45% of the plot area's height, and
	// the y range is extended so that the data under the legend's width
	// stays below it.
	lr := p.Legend.Rectangle(draw.Canvas{})
	legendH := lr.Max.Y - lr.Min.Y - p.Legend.YOffs
	legendW := vg.Length(math.Abs(float64(lr.Max.X-lr.Min.X))) + p.Legend.XOffs
	const chrome = 90 // points of title, x axis and margins around the plot area
	height := PlotHeight
	if area := height - chrome; legendH > 0.45*area {
		height = legendH/0.45 + chrome
	}
	xfrac := float64(legendW / (PlotWidth - 70))
	xUnder := math.Exp(math.Log(xmin) + xfrac*(math.Log(xmax)-math.Log(xmin)))
	span := ymax - ymin
	if span < 1 {
		span = 1
	}
	p.Y.Min = math.Max(0, ymin-0.05*span)
	under := p.Y.Min
	for _, g := range gs {
		if g.Shots <= 0 || float64(g.Shots) <= xUnder {
			v := g.Overall.Mean
			if g.Shots > 0 && !math.IsNaN(g.Overall.Spread) {
				v += g.Overall.Spread
			}
			under = math.Max(under, v)
		}
	}
	// need is the top of the y range that keeps the data under the legend
	// below it for a canvas of height h.
	need := func(h vg.Length) float64 {
		frac := float64(legendH / (h - chrome))
		return p.Y.Min + (under-p.Y.Min)/(1-frac-0.05)
	}
	if need(height) > 100 && ymax <= 100 {
		// Rather than an axis running past 100%, make the canvas taller
		// (up to twice the default) so that the legend fits below 100.
		if allowed := 0.95 - (under-p.Y.Min)/(100-p.Y.Min); allowed > 0.1 {
			height = max(height, min(2*PlotHeight, legendH/vg.Length(allowed)+chrome))
		}
	}
	p.Y.Max = math.Max(ymax+0.05*span, need(height))
	if ymax <= 100 && p.Y.Max > 100 && need(height) <= 100+1e-9 {
		p.Y.Max = 100
	}

	c, err := draw.NewFormattedCanvas(PlotWidth, height, format)
	if err != nil {
		return errors.Wrapf(err, "plot %s", path)
	}
	// A small margin keeps the title off the top edge.
	m := vg.Points(6)
	p.Draw(draw.Crop(draw.New(c), m, -m, m, -m))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return errors.Wrapf(err, "plot %s: rendering", path)
	}
	return atomicfile.Write(path, buf.Bytes())
}

func plotSpreadLabel(gs []Group) string {
	for _, g := range gs {
		if g.Spread == SpreadCI95 {
			return "mean ± 95% CI"
		}
	}
	return "mean ± std"
}

// percentTicks labels the y axis every 1, 2, 5, 10, 20 or 50 points,
// whichever gives at most ten labels, with unlabelled minor ticks between.
type percentTicks struct{}

// Ticks implements plot.Ticker.
func (percentTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 50.0
	for _, s := range []float64{1, 2, 5, 10, 20, 50} {
		if (hi-lo)/s <= 10 {
			step = s
			break
		}
	}
	var ts []plot.Tick
	minor := step / 2
	for v := math.Ceil(lo/minor) * minor; v <= hi+1e-9; v += minor {
		t := plot.Tick{Value: v}
		if r := math.Mod(math.Abs(v)+1e-9, step); r < 2e-9 {
			t.Label = fmt.Sprintf("%g", math.Round(v))
		}
		ts = append(ts, t)
	}
	return ts
}
