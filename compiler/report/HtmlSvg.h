// The drawing kit of `tpc report`: escaping, number formatting, and the page's plain SVG charts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tp::report::html {

/// `text` with & < > " ' replaced by entities, safe both as element content and inside a
/// quoted attribute: every string that comes from a report goes through here.
std::string escape(std::string_view text);

/// A number for people: at most `digits` significant digits, no trailing zeros, scientific
/// notation ("1.5e-7") outside [1e-3, 1e5), and "∞", "-∞", "nan" for non-finite values.
std::string formatNumber(double x, int digits = 4);

/// The fill colour of a regime of CLI.md (unstable, trivial, kernel, feature_learning);
/// an unknown name gets a neutral grey.
std::string regimeColour(std::string_view regime);

/// The colour of the i-th curve of a chart (a categorical palette, repeated after ten).
std::string seriesColour(size_t i);

/// One labelled tick of an axis, at a value in data coordinates.
struct Tick {
  double at = 0;
  std::string label;
};

/// An axis: the data interval drawn over the whole plot (lo > hi reverses it, as the rows
/// of a matrix go down), its ticks, and whether light grid lines run across the plot.
struct Axis {
  std::string title;
  double lo = 0, hi = 1;
  std::vector<Tick> ticks;
  bool grid = true;
};

/// A linear axis over [lo, hi] with about five ticks at 1, 2 or 5 × 10^k; `extend` widens
/// the interval to whole ticks (for values), otherwise it is kept (for steps); `integers`
/// keeps ticks on whole numbers. An empty or one-point interval is widened around its value.
Axis niceAxis(std::string title, double lo, double hi, bool extend, bool integers);

/// A point of a curve. `y` may be ±inf or nan: the curve diverged there, and the chart
/// marks it instead of plotting it; `se` (a standard error) draws an error bar when > 0.
struct Point {
  double x = 0, y = 0, se = 0;
};

/// One curve of a line chart.
struct Series {
  std::string label;
  std::string colour;
  std::vector<Point> points;
  bool emphasis = false;  // drawn thicker: the infinite-width limit among finite widths
  bool dashed = false;
};

/// A line chart: `kind` is its data-chart attribute (loss, output, coordcheck); `x` with
/// ticks given is used as is, otherwise a nice axis over the points is made and titled
/// `x.title`; `xName` names x in divergence labels ("→ ∞ at t = 2").
struct LineChart {
  std::string kind, title, xName;
  Axis x;
  std::string yTitle;
  std::vector<Series> series;
};

/// A square matrix drawn as a grid of cells with a diverging colour scale around 0; `labels`
/// name the rows and columns, `block` > 0 draws a separating line every `block` cells.
struct HeatMap {
  std::string title, axisTitle;
  std::vector<std::vector<double>> cells;
  std::vector<std::string> labels;
  int block = 0;
};

/// A sweep's phase diagram: `regimes[row][col]` with x = columns, y = rows drawn upwards;
/// one row and no `yValues` for a one-dimensional sweep; `notes[row][col]` is printed in
/// the cell (r), `tooltips` hold the full verdict.
struct PhaseDiagram {
  std::string title, xName, yName;
  std::vector<std::string> xValues, yValues;
  std::vector<std::vector<std::string>> regimes, notes, tooltips;
};

/// The charts as `<svg class="chart" data-chart="KIND">` elements; every drawn datum has
/// class "mark" (the page's self-check counts them).
std::string lineChart(const LineChart& chart);
std::string heatMap(const HeatMap& map);
std::string phaseDiagram(const PhaseDiagram& diagram);

}  // namespace tp::report::html
