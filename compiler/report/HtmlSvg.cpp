// The drawing kit of `tpc report`: escaping, number formatting, and the page's plain SVG charts.
//
// Every chart is built from the same pieces: a Frame (the plot rectangle and its two axes),
// drawAxes (grid, ticks, labels, titles), drawLegend, and the Svg writer. Coordinates are
// computed from finite data only, so no "nan" or "inf" can reach an SVG attribute.
#include "compiler/report/HtmlSvg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <utility>

namespace tp::report::html {

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

namespace {

/// Drops the trailing zeros of a fixed-point or mantissa string ("0.2500" → "0.25", "3." → "3").
std::string trimZeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::string formatNumber(double x, int digits) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "∞" : "-∞";
  if (x == 0) return "0";
  char buf[64];
  const double magnitude = std::fabs(x);
  std::string s;
  if (magnitude >= 1e-3 && magnitude < 1e5) {
    int decimals = std::max(0, digits - 1 - static_cast<int>(std::floor(std::log10(magnitude))));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
    s = trimZeros(buf);
  } else {
    std::snprintf(buf, sizeof buf, "%.*e", std::max(0, digits - 1), x);
    std::string all = buf;
    size_t e = all.find('e');
    int exponent = std::stoi(all.substr(e + 1));
    s = trimZeros(all.substr(0, e)) + "e" + std::to_string(exponent);
  }
  return s == "-0" ? "0" : s;
}

std::string regimeColour(std::string_view regime) {
  // Light fills, so the r printed in a phase-diagram cell stays readable on every colour.
  if (regime == "unstable") return "#f4a3a3";
  if (regime == "trivial") return "#d9d9d9";
  if (regime == "kernel") return "#9ecae1";
  if (regime == "feature_learning") return "#a1d99b";
  return "#f2f2f2";
}

std::string seriesColour(size_t i) {
  // D3's category10, then six darker hues: a coordinate check has a dozen values, and
  // each should keep a colour of its own; all stay readable as thin lines on white.
  static const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                         "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939",
                                         "#8c6d31", "#843c39", "#7b4173", "#3b8686"};
  return kPalette[i % std::size(kPalette)];
}

namespace {

/// An SVG coordinate: a tenth of a pixel is below what a screen shows. Ranges are built from
/// finite data only; a non-finite value would still print as 0 rather than break the file.
std::string coord(double v) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s == "-0" ? "0" : s;
}

/// `text` cut to `limit` bytes (at a UTF-8 character boundary) with an ellipsis, so a long
/// label cannot run across its neighbour.
std::string shorten(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit - 1;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

/// The estimated width in pixels of a label in the 11px chart font (the page uses the
/// system sans-serif, about 0.6 em per character).
double labelWidth(const std::string& label) { return 6.6 * static_cast<double>(label.size()); }

/// Writes one `<svg class="chart">` element. Attributes passed in `attrs` are written as
/// given (they hold constants and numbers); all report text goes through escape().
class Svg {
public:
  Svg(std::string_view kind, double width, double height, std::string_view label) {
    out_ = "<svg class=\"chart\" data-chart=\"" + escape(kind) + "\" width=\"" + coord(width) + "\" height=\"" +
           coord(height) + "\" viewBox=\"0 0 " + coord(width) + " " + coord(height) + "\" role=\"img\" aria-label=\"" +
           escape(label) + "\">";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view attrs) {
    element("line", "x1=\"" + coord(x1) + "\" y1=\"" + coord(y1) + "\" x2=\"" + coord(x2) + "\" y2=\"" + coord(y2) + "\"",
            attrs, {});
  }
  void rect(double x, double y, double w, double h, std::string_view attrs, std::string_view tooltip = {}) {
    element("rect", "x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" width=\"" + coord(w) + "\" height=\"" + coord(h) + "\"",
            attrs, tooltip);
  }
  void circle(double cx, double cy, double r, std::string_view attrs, std::string_view tooltip = {}) {
    element("circle", "cx=\"" + coord(cx) + "\" cy=\"" + coord(cy) + "\" r=\"" + coord(r) + "\"", attrs, tooltip);
  }
  /// A polyline, or a closed polygon.
  void path(const std::vector<std::pair<double, double>>& points, bool closed, std::string_view attrs) {
    std::string list;
    for (const auto& [x, y] : points) list += (list.empty() ? "" : " ") + coord(x) + "," + coord(y);
    element(closed ? "polygon" : "polyline", "points=\"" + list + "\"", attrs, {});
  }
  void text(double x, double y, std::string_view content, std::string_view attrs = {}) {
    out_ += "<text x=\"" + coord(x) + "\" y=\"" + coord(y) + "\"";
    if (!attrs.empty()) out_ += " " + std::string(attrs);
    out_ += ">" + escape(content) + "</text>";
  }
  std::string finish() { return out_ + "</svg>\n"; }

private:
  void element(std::string_view name, const std::string& geometry, std::string_view attrs, std::string_view tooltip) {
    out_ += "<" + std::string(name) + " " + geometry;
    if (!attrs.empty()) out_ += " " + std::string(attrs);
    if (tooltip.empty())
      out_ += "/>";
    else
      out_ += "><title>" + escape(tooltip) + "</title></" + std::string(name) + ">";
  }
  std::string out_;
};

/// The plot rectangle of a chart (pixels) and the axes that map data onto it.
struct Frame {
  double left = 0, top = 0, width = 0, height = 0;
  Axis x, y;
  double px(double v) const { return left + fraction(v, x) * width; }
  double py(double v) const { return top + height - fraction(v, y) * height; }
  double right() const { return left + width; }
  double bottom() const { return top + height; }

private:
  static double fraction(double v, const Axis& a) { return a.hi == a.lo ? 0.5 : (v - a.lo) / (a.hi - a.lo); }
};

/// Every `stride`-th tick label is drawn, so that labels of a crowded axis never overlap:
/// the smallest gap between neighbouring ticks must fit the widest label.
size_t labelStride(const std::vector<Tick>& ticks, double gapPerUnit, bool horizontal) {
  if (ticks.size() < 2) return 1;
  double widest = 0, gap = 1e300;
  for (size_t i = 0; i < ticks.size(); ++i) {
    widest = std::max(widest, horizontal ? labelWidth(ticks[i].label) : 12.0);
    if (i > 0) gap = std::min(gap, std::fabs(ticks[i].at - ticks[i - 1].at) * gapPerUnit);
  }
  if (gap <= 0) return ticks.size();
  return static_cast<size_t>(std::max(1.0, std::ceil((widest + 6) / gap)));
}

/// Grid lines, the plot's outline, tick marks and labels, and the axis titles: the one
/// axis drawing that every chart uses.
void drawAxes(Svg& svg, const Frame& f) {
  if (f.x.grid)
    for (const Tick& t : f.x.ticks) svg.line(f.px(t.at), f.top, f.px(t.at), f.bottom(), "class=\"grid\"");
  if (f.y.grid)
    for (const Tick& t : f.y.ticks) svg.line(f.left, f.py(t.at), f.right(), f.py(t.at), "class=\"grid\"");
  svg.rect(f.left, f.top, f.width, f.height, "class=\"frame\"");
  const size_t xStride = labelStride(f.x.ticks, f.width / std::fabs(f.x.hi - f.x.lo), true);
  for (size_t i = 0; i < f.x.ticks.size(); ++i) {
    double x = f.px(f.x.ticks[i].at);
    svg.line(x, f.bottom(), x, f.bottom() + 4, "class=\"tick\"");
    if (i % xStride == 0) svg.text(x, f.bottom() + 15, f.x.ticks[i].label, "text-anchor=\"middle\"");
  }
  const size_t yStride = labelStride(f.y.ticks, f.height / std::fabs(f.y.hi - f.y.lo), false);
  for (size_t i = 0; i < f.y.ticks.size(); ++i) {
    double y = f.py(f.y.ticks[i].at);
    svg.line(f.left - 4, y, f.left, y, "class=\"tick\"");
    if (i % yStride == 0) svg.text(f.left - 6, y + 4, f.y.ticks[i].label, "text-anchor=\"end\"");
  }
  if (!f.x.title.empty()) svg.text(f.left + f.width / 2, f.bottom() + 32, f.x.title, "text-anchor=\"middle\" class=\"axis-title\"");
  if (!f.y.title.empty()) {
    double cx = 13, cy = f.top + f.height / 2;
    svg.text(cx, cy, f.y.title, "text-anchor=\"middle\" class=\"axis-title\" transform=\"rotate(-90 " + coord(cx) + " " + coord(cy) + ")\"");
  }
}

/// One entry of a legend: a short line in the series' colour, or a filled box.
struct LegendEntry {
  std::string label, colour;
  bool box = false, dashed = false;
};

/// A legend stacked downwards from (x, y), one entry every 15 pixels.
void drawLegend(Svg& svg, double x, double y, const std::vector<LegendEntry>& entries) {
  for (const LegendEntry& e : entries) {
    if (e.box)
      svg.rect(x, y - 9, 14, 11, "class=\"swatch\" fill=\"" + e.colour + "\"");
    else
      svg.line(x, y - 4, x + 16, y - 4,
               "class=\"swatch\" stroke=\"" + e.colour + "\" stroke-width=\"2\"" + (e.dashed ? " stroke-dasharray=\"4 3\"" : ""));
    svg.text(x + 21, y, shorten(e.label, 22));
    y += 15;
  }
}

void drawTitle(Svg& svg, const std::string& title) { svg.text(8, 17, title, "class=\"chart-title\""); }

/// The label of x in tooltips and divergence notes: the tick label at x where there is one
/// (the width 64 rather than log2 64 = 6), else the number.
std::string xText(const Axis& axis, double x) {
  for (const Tick& t : axis.ticks)
    if (std::fabs(t.at - x) < 1e-9) return t.label;
  return formatNumber(x);
}

/// The data range of a chart: x over all points, y over finite values and their error bars.
struct Extent {
  double xLo = 1e300, xHi = -1e300, yLo = 1e300, yHi = -1e300;
};

Extent extentOf(const std::vector<Series>& series) {
  // Values are clamped to ±1e300 so that the width of a range is always a finite number.
  auto clamp = [](double v) { return std::clamp(v, -1e300, 1e300); };
  Extent e;
  for (const Series& s : series)
    for (const Point& p : s.points) {
      e.xLo = std::min(e.xLo, clamp(p.x));
      e.xHi = std::max(e.xHi, clamp(p.x));
      if (!std::isfinite(p.y)) continue;
      double se = std::isfinite(p.se) && p.se > 0 ? p.se : 0;
      e.yLo = std::min(e.yLo, clamp(p.y - se));
      e.yHi = std::max(e.yHi, clamp(p.y + se));
    }
  return e;
}

/// The note at the first non-finite value of a curve: "→ ∞ at t = 2", "nan at t = 2".
std::string divergenceNote(double y, const std::string& where) {
  if (std::isnan(y)) return "nan at " + where;
  return std::string(y > 0 ? "→ ∞" : "→ -∞") + " at " + where;
}

/// One curve: its finite runs as polylines with point markers and error bars, and at its
/// first non-finite value an arrow at the plot's edge with a note. `dodge` shifts it
/// sideways by a few pixels so that the error bars of curves at the same x stay apart;
/// `noteRow` is the line on which its divergence note goes.
void drawSeries(Svg& svg, const Frame& f, const LineChart& chart, const Series& s, double dodge, int& noteRow) {
  const std::string stroke = "stroke=\"" + s.colour + "\"";
  const std::string width = s.emphasis ? " stroke-width=\"2.5\"" : " stroke-width=\"1.5\"";
  const std::string dash = s.dashed ? " stroke-dasharray=\"5 3\"" : "";
  std::vector<std::pair<double, double>> run;
  auto flush = [&] {
    if (run.size() > 1) svg.path(run, false, "class=\"mark curve\" fill=\"none\" " + stroke + width + dash);
    run.clear();
  };
  bool diverged = false;
  const Point* lastFinite = nullptr;
  for (const Point& p : s.points) {
    const double x = f.px(p.x) + dodge;
    const std::string where = chart.xName + " = " + xText(f.x, p.x);
    if (!std::isfinite(p.y)) {
      flush();
      if (diverged) continue;
      diverged = true;
      // Up for +inf and nan (nothing to plot), down for -inf.
      const bool down = p.y < 0;
      const double edge = down ? f.bottom() : f.top;
      const double tip = down ? edge - 1 : edge + 1, base = down ? edge - 9 : edge + 9;
      if (lastFinite)
        svg.line(f.px(lastFinite->x) + dodge, f.py(lastFinite->y), x, base, stroke + " stroke-dasharray=\"2 2\" class=\"mark\"");
      svg.path({{x - 4, base}, {x + 4, base}, {x, tip}}, true, "class=\"mark\" fill=\"" + s.colour + "\"");
      const bool leftOfArrow = x > f.left + 0.6 * f.width;
      const double noteY = down ? edge - 14 - 12 * noteRow : edge + 20 + 12 * noteRow;
      svg.text(leftOfArrow ? x - 7 : x + 7, noteY, divergenceNote(p.y, where),
               "class=\"note\" fill=\"" + s.colour + "\"" + (leftOfArrow ? " text-anchor=\"end\"" : ""));
      ++noteRow;
      continue;
    }
    const double y = f.py(p.y);
    run.emplace_back(x, y);
    lastFinite = &p;
    std::string tooltip = s.label + ", " + where + ": " + formatNumber(p.y);
    if (std::isfinite(p.se) && p.se > 0) {
      tooltip += " ± " + formatNumber(p.se, 2);
      const double lo = f.py(p.y - p.se), hi = f.py(p.y + p.se);
      svg.line(x, lo, x, hi, "class=\"mark err\" " + stroke);
      svg.line(x - 3, lo, x + 3, lo, "class=\"err\" " + stroke);
      svg.line(x - 3, hi, x + 3, hi, "class=\"err\" " + stroke);
    }
    svg.circle(x, y, s.emphasis ? 3 : 2.5, "class=\"mark\" fill=\"" + s.colour + "\"", tooltip);
  }
  flush();
}

}  // namespace

namespace {

/// A nice step of about `raw`: 1, 2 or 5 × 10^k.
double niceStep(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * magnitude;
}

}  // namespace

Axis niceAxis(std::string title, double lo, double hi, bool extend, bool integers) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) lo = 0, hi = 1;  // nothing finite to show
  lo = std::clamp(lo, -1e300, 1e300);
  hi = std::clamp(hi, -1e300, 1e300);
  if (hi - lo <= 1e-9 * std::max({1.0, std::fabs(lo), std::fabs(hi)})) {
    const double pad = lo == 0 ? 1 : std::max(std::fabs(lo) * 0.1, integers ? 1.0 : 0.0);
    lo -= pad;
    hi += pad;
  }
  double step = niceStep((hi - lo) / 5);
  if (integers) step = std::max(step, 1.0);
  if (extend) {
    lo = std::floor(lo / step) * step;
    hi = std::ceil(hi / step) * step;
  }
  Axis axis{std::move(title), lo, hi, {}, true};
  // At most a dozen ticks: the bound only guards against rounding at huge magnitudes.
  for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && axis.ticks.size() < 12; ++k) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;
    axis.ticks.push_back({v, formatNumber(v)});
  }
  return axis;
}

std::string lineChart(const LineChart& chart) {
  // 1. The frame: room on the right for the legend, taller when the legend is long.
  const double legendHeight = 15.0 * static_cast<double>(chart.series.size());
  // Three charts fit side by side in a 1280-pixel window.
  const double width = 404, height = std::max(260.0, 40 + legendHeight);
  Frame f;
  f.left = 54, f.top = 28, f.width = 210, f.height = height - f.top - 44;
  // 2. The axes: given x ticks, or nice ones over the steps with a margin so that the first
  // and last points stay off the frame; nice y ticks over the values.
  const Extent e = extentOf(chart.series);
  f.x = chart.x.ticks.empty() ? niceAxis(chart.x.title, e.xLo, e.xHi, false, true) : chart.x;
  if (chart.x.ticks.empty()) {
    const double margin = 0.04 * (f.x.hi - f.x.lo);
    f.x.lo -= margin;
    f.x.hi += margin;
  }
  f.y = niceAxis(chart.yTitle, e.yLo, e.yHi, true, false);
  Svg svg(chart.kind, width, height, chart.title);
  drawTitle(svg, chart.title);
  drawAxes(svg, f);
  // 3. The curves; where they have error bars, spread over at most 24 pixels around their x
  // so that bars at the same step stay apart.
  const size_t n = chart.series.size();
  bool errorBars = false;
  for (const Series& s : chart.series)
    for (const Point& p : s.points) errorBars = errorBars || (std::isfinite(p.se) && p.se > 0);
  const double spread = n > 1 && errorBars ? std::min(3.0, 24.0 / static_cast<double>(n - 1)) : 0;
  // Emphasised curves (the limit) go last, so that they lie on top of the others.
  int noteRow = 0;
  std::vector<LegendEntry> legend;
  for (bool emphasis : {false, true})
    for (size_t i = 0; i < n; ++i)
      if (chart.series[i].emphasis == emphasis)
        drawSeries(svg, f, chart, chart.series[i], (static_cast<double>(i) - static_cast<double>(n - 1) / 2) * spread, noteRow);
  for (const Series& s : chart.series) legend.push_back({s.label, s.colour, false, s.dashed});
  drawLegend(svg, f.right() + 14, f.top + 10, legend);
  return svg.finish();
}

namespace {

/// A colour of the diverging scale: blue for -1, white for 0, red for +1 (t clamped).
std::string divergingColour(double t) {
  t = std::clamp(t, -1.0, 1.0);
  const int end[2][3] = {{33, 102, 172}, {178, 24, 43}};  // ColorBrewer RdBu ends
  const int* c = end[t > 0 ? 1 : 0];
  const double a = std::fabs(t);
  char buf[8];
  auto mix = [a](int to) { return static_cast<int>(std::lround(255 + (to - 255) * a)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", mix(c[0]), mix(c[1]), mix(c[2]));
  return buf;
}

/// Axis ticks at the centres of `labels.size()` cells starting at 0.
std::vector<Tick> cellTicks(const std::vector<std::string>& labels) {
  std::vector<Tick> ticks;
  for (size_t i = 0; i < labels.size(); ++i) ticks.push_back({static_cast<double>(i) + 0.5, labels[i]});
  return ticks;
}

/// The colour bar of a heat map at (x, y): the scale from +max (top) to -max (bottom).
void drawColourBar(Svg& svg, double x, double y, double height, double maxAbs) {
  const int steps = 24;
  for (int i = 0; i < steps; ++i) {
    const double t = 1 - (i + 0.5) * 2.0 / steps;
    svg.rect(x, y + height * i / steps, 12, height / steps + 0.2, "class=\"swatch\" fill=\"" + divergingColour(t) + "\"");
  }
  svg.rect(x, y, 12, height, "class=\"frame\"");
  svg.text(x + 16, y + 4, formatNumber(maxAbs, 3));
  svg.text(x + 16, y + height / 2 + 4, "0");
  svg.text(x + 16, y + height + 4, formatNumber(-maxAbs, 3));
}

}  // namespace

std::string heatMap(const HeatMap& map) {
  // 1. Cells of up to 48 pixels, in a square of at most 240.
  const size_t n = map.cells.size();
  const double cell = n == 0 ? 48 : std::clamp(240.0 / static_cast<double>(n), 3.0, 48.0);
  Frame f;
  f.left = 62, f.top = 28, f.width = cell * static_cast<double>(n), f.height = f.width;
  const double width = f.right() + 80, height = f.bottom() + 44;
  f.x = {map.axisTitle, 0, static_cast<double>(n), cellTicks(map.labels), false};
  f.y = {map.axisTitle, static_cast<double>(n), 0, cellTicks(map.labels), false};  // row 0 on top
  // 2. The colour scale is symmetric around 0, so the sign of a kernel entry reads at once.
  double maxAbs = 0;
  for (const auto& row : map.cells)
    for (double v : row)
      if (std::isfinite(v)) maxAbs = std::max(maxAbs, std::fabs(v));
  if (maxAbs == 0) maxAbs = 1;
  Svg svg("kernel", width, height, map.title);
  drawTitle(svg, map.title);
  // 3. The cells, with the value in the tooltip and, where a cell is large, printed in it.
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < map.cells[i].size() && j < n; ++j) {
      const double v = map.cells[i][j];
      const double x = f.px(static_cast<double>(j)), y = f.py(static_cast<double>(i));
      const std::string fill = std::isfinite(v) ? divergingColour(v / maxAbs) : "#888888";
      const std::string where = i < map.labels.size() && j < map.labels.size() ? map.labels[i] + ", " + map.labels[j] : "";
      svg.rect(x, y, cell, cell, "class=\"mark cell\" fill=\"" + fill + "\"", "(" + where + "): " + formatNumber(v, 6));
      if (cell >= 36)
        svg.text(x + cell / 2, y + cell / 2 + 3, formatNumber(v, 3),
                 std::string("class=\"cell-value\" text-anchor=\"middle\"") +
                     (std::isfinite(v) && std::fabs(v / maxAbs) > 0.6 ? " fill=\"#ffffff\"" : ""));
    }
  // 4. Block boundaries (the output coordinates of ntk_by_coordinate), axes, colour bar.
  if (map.block > 0)
    for (size_t k = static_cast<size_t>(map.block); k < n; k += static_cast<size_t>(map.block)) {
      svg.line(f.px(static_cast<double>(k)), f.top, f.px(static_cast<double>(k)), f.bottom(), "class=\"block\"");
      svg.line(f.left, f.py(static_cast<double>(k)), f.right(), f.py(static_cast<double>(k)), "class=\"block\"");
    }
  drawAxes(svg, f);
  drawColourBar(svg, f.right() + 14, f.top, f.height, maxAbs);
  return svg.finish();
}

std::string phaseDiagram(const PhaseDiagram& d) {
  // 1. Cells of up to 56 × 34 pixels; a one-dimensional sweep is one row without a y axis.
  const size_t cols = d.xValues.size(), rows = d.regimes.size();
  const double cw = cols == 0 ? 56 : std::clamp(640.0 / static_cast<double>(cols), 8.0, 56.0);
  const double ch = rows == 0 ? 34 : std::clamp(400.0 / static_cast<double>(rows), 8.0, 34.0);
  const bool twoD = !d.yValues.empty();
  Frame f;
  f.left = twoD ? 66 : 20, f.top = 28;
  f.width = cw * static_cast<double>(cols), f.height = ch * static_cast<double>(rows);
  const double legendHeight = 15 * 4 + 10;
  const double width = f.right() + 170, height = std::max(f.bottom() + 44, f.top + legendHeight);
  f.x = {d.xName, 0, static_cast<double>(cols), cellTicks(d.xValues), false};
  f.y = {twoD ? d.yName : "", 0, static_cast<double>(rows), cellTicks(d.yValues), false};
  Svg svg("phase", width, height, d.title);
  drawTitle(svg, d.title);
  // 2. One cell per grid point, row 0 at the bottom so that y grows upwards.
  std::vector<std::string> seen;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < d.regimes[r].size() && c < cols; ++c) {
      const std::string& regime = d.regimes[r][c];
      if (std::find(seen.begin(), seen.end(), regime) == seen.end()) seen.push_back(regime);
      const double x = f.px(static_cast<double>(c)), y = f.py(static_cast<double>(r + 1));
      const std::string tooltip = r < d.tooltips.size() && c < d.tooltips[r].size() ? d.tooltips[r][c] : regime;
      svg.rect(x, y, cw, ch, "class=\"mark cell\" data-regime=\"" + escape(regime) + "\" fill=\"" + regimeColour(regime) + "\"",
               tooltip);
      const std::string note = r < d.notes.size() && c < d.notes[r].size() ? d.notes[r][c] : "";
      if (!note.empty() && labelWidth(note) * 0.85 + 4 <= cw && ch >= 14)
        svg.text(x + cw / 2, y + ch / 2 + 3, note, "class=\"cell-value\" text-anchor=\"middle\"");
    }
  drawAxes(svg, f);
  // 3. The legend: the four regimes of CLI.md, then any other name the sweep used.
  std::vector<LegendEntry> legend;
  std::vector<std::string> names = {"feature_learning", "kernel", "trivial", "unstable"};
  for (const std::string& s : seen)
    if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
  for (const std::string& name : names) legend.push_back({name, regimeColour(name), true, false});
  drawLegend(svg, f.right() + 16, f.top + 10, legend);
  return svg.finish();
}

}  // namespace tp::report::html
