// The chart sections of the `tpc report` page: training curves, coordinate check, kernels, sweeps.
//
// Each section turns the numbers of the reports into chart specifications (HtmlSvg.h) with
// their captions; docs/report.md lists which report keys feed which chart.
#include "compiler/report/HtmlCharts.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "compiler/report/HtmlParts.h"
#include "compiler/report/HtmlSvg.h"

namespace tp::report::html {

using nlohmann::json;

namespace {

/// How many evaluation examples and output coordinates get a chart each: enough to compare
/// the limit with the widths, few enough that the page stays readable.
constexpr size_t kMaxExamples = 4;
constexpr size_t kMaxCoordinates = 4;

}  // namespace

// ---------------------------------------------------------------------------------------
// Training curves

namespace {

/// A run drawn as curves: the limit, or a simulation at one width.
struct Run {
  std::string label;
  bool limit = false;
  double width = 0;
  const json* steps = nullptr;
};

std::vector<Run> runsOf(const std::vector<const ReportInput*>& reports) {
  std::vector<Run> limits, sims;
  for (const ReportInput* r : reports) {
    const json& limit = field(r->json, "limit");
    if (field(limit, "steps").is_array()) {
      const std::string method = text(field(limit, "method"));
      limits.push_back({method.empty() || method == "none" ? "limit" : "limit (" + method + ")", true, 0, &field(limit, "steps")});
    }
    const json& sim = field(r->json, "simulation");
    if (field(sim, "steps").is_array())
      sims.push_back({"n = " + text(field(sim, "width")), false, reportNumber(field(sim, "width")).value_or(0), &field(sim, "steps")});
  }
  std::stable_sort(sims.begin(), sims.end(), [](const Run& a, const Run& b) { return a.width < b.width; });
  limits.insert(limits.end(), sims.begin(), sims.end());
  return limits;
}

/// Picks one number (a loss, an output coordinate, its standard error) out of a step.
using Pick = std::function<std::optional<double>(const json& step)>;

/// One curve over the steps of a run.
Series curve(const Run& run, size_t index, const Pick& value, const Pick& error) {
  Series s;
  s.label = run.label;
  // The limit is the reference: black and thick; simulations get the palette by width.
  s.colour = run.limit ? (index == 0 ? "#222222" : "#666666") : seriesColour(index);
  s.emphasis = run.limit;
  s.dashed = run.limit && index > 0;
  size_t i = 0;
  for (const json& step : *run.steps) {
    const double t = reportNumber(field(step, "t")).value_or(static_cast<double>(i));
    ++i;
    std::optional<double> y = value(step);
    if (!y || !std::isfinite(t)) continue;
    s.points.push_back({t, *y, error(step).value_or(0)});
  }
  return s;
}

/// The series of one chart: one per run that has the quantity. A run keeps its colour on
/// every chart, since the colour follows its place among the runs.
std::vector<Series> seriesOf(const std::vector<Run>& runs, const Pick& value, const Pick& error) {
  std::vector<Series> out;
  size_t limits = 0, sims = 0;
  for (const Run& run : runs) {
    Series s = curve(run, run.limit ? limits++ : sims++, value, error);
    if (!s.points.empty()) out.push_back(std::move(s));
  }
  return out;
}

/// The examples of an output (list length) and its coordinates (0: a scalar output), over all runs.
struct OutputShape {
  size_t examples = 0, coordinates = 0;
};

std::map<std::string, OutputShape> outputShapes(const std::vector<Run>& runs) {
  std::map<std::string, OutputShape> shapes;
  for (const Run& run : runs)
    for (const json& step : *run.steps)
      for (const auto& [name, list] : objectOf(field(step, "outputs")).items()) {
        OutputShape& s = shapes[name];
        s.examples = std::max(s.examples, list.is_array() ? list.size() : size_t{1});
        for (const json& e : arrayOf(list))
          if (e.is_array()) s.coordinates = std::max(s.coordinates, e.size());
      }
  return shapes;
}

/// outputs[name][example][coordinate] of a step map (`coordinate` < 0: a scalar output).
const json& outputEntry(const json& map, const std::string& name, size_t example, int coordinate) {
  const json& list = field(map, name.c_str());
  // A bare number stands for a list of one example.
  const json& e = list.is_array() || example > 0 ? element(list, example) : list;
  return coordinate < 0 ? e : element(e, static_cast<size_t>(coordinate));
}

LineChart stepChart(std::string kind, std::string title, std::string yTitle, std::vector<Series> series) {
  LineChart chart;
  chart.kind = std::move(kind);
  chart.title = std::move(title);
  chart.xName = "t";
  chart.x.title = "step t";
  chart.yTitle = std::move(yTitle);
  chart.series = std::move(series);
  return chart;
}

/// " Output f: the first 4 of 6 evaluation examples." when charts were left out, else "".
std::string capNote(const std::string& output, size_t shown, size_t total, const std::string& what) {
  if (shown >= total) return "";
  return " Output " + output + ": the first " + std::to_string(shown) + " of " + std::to_string(total) + " " + what + ".";
}

}  // namespace

std::string curvesBlock(const std::vector<const ReportInput*>& reports) {
  const std::vector<Run> runs = runsOf(reports);
  if (runs.empty()) return "";
  std::vector<std::string> svgs;
  // 1. The loss.
  auto loss = seriesOf(runs, [](const json& s) { return reportNumber(field(s, "loss")); },
                       [](const json& s) { return reportNumber(field(s, "loss_stderr")); });
  if (!loss.empty()) svgs.push_back(lineChart(stepChart("loss", "loss", "loss", std::move(loss))));
  // 2. Each output coordinate of the first evaluation examples.
  std::string capped;
  for (const auto& output : outputShapes(runs)) {
    const std::string& name = output.first;  // not a structured binding: lambdas below capture it (clang 14)
    const auto& shape = output.second;
    const size_t examples = std::min(shape.examples, kMaxExamples), coords = std::min(shape.coordinates, kMaxCoordinates);
    capped += capNote(name, examples, shape.examples, "evaluation examples") + capNote(name, coords, shape.coordinates, "coordinates");
    for (size_t e = 0; e < examples; ++e)
      for (int k = shape.coordinates == 0 ? -1 : 0; k < static_cast<int>(coords); ++k) {
        const std::string label = k < 0 ? name : name + "[" + std::to_string(k) + "]";
        auto series = seriesOf(runs, [&](const json& s) { return reportNumber(outputEntry(field(s, "outputs"), name, e, k)); },
                               [&](const json& s) { return reportNumber(outputEntry(field(s, "stderr"), name, e, k)); });
        const std::string title = label + " on evaluation example " + std::to_string(e);
        if (!series.empty()) svgs.push_back(lineChart(stepChart("output", title, label, std::move(series))));
      }
  }
  if (svgs.empty()) return "";
  return "<h4>Training curves</h4>\n" +
         paragraph("The infinite-width limit (black) and every simulated width n (mean over seeds), per step t. "
                   "Bars: ± one standard error (Monte Carlo for the limit, over seeds for a simulation). "
                   "An arrow marks where a curve diverges." + capped) +
         chartRow(svgs);
}

// ---------------------------------------------------------------------------------------
// Coordinate check

std::string coordcheckBlock(const ReportInput& report) {
  const json& cc = field(report.json, "coordcheck");
  const json& rows = field(cc, "rows");
  if (!rows.is_array() || rows.empty()) return "";
  // 1. The x axis: log2 of the widths, labelled with the widths.
  Axis x;
  x.title = "width n";
  std::vector<double> logWidths;
  for (const json& w : arrayOf(field(cc, "widths"))) {
    const double v = reportNumber(w).value_or(0);
    if (!(v > 0) || !std::isfinite(v)) continue;
    logWidths.push_back(std::log2(v));
    x.ticks.push_back({std::log2(v), text(w)});
  }
  if (logWidths.empty()) return "";
  x.lo = *std::min_element(logWidths.begin(), logWidths.end()) - 0.3;
  x.hi = *std::max_element(logWidths.begin(), logWidths.end()) + 0.3;
  // 2. One chart per (t, part), one curve per value; a value keeps its colour on every chart.
  std::vector<std::string> values;
  std::map<std::pair<double, std::string>, LineChart> byStep;
  std::vector<std::pair<double, std::string>> columns;
  for (const json& row : rows) {
    const std::string value = text(field(row, "value")), part = text(field(row, "part")), status = text(field(row, "status"));
    const std::optional<double> t = reportNumber(field(row, "t"));
    if (!t || !std::isfinite(*t)) continue;  // not a step: nothing to order the charts by
    const std::pair<double, std::string> key{*t, part};
    auto v = std::find(values.begin(), values.end(), value);
    if ((v == values.end() && values.size() >= kMaxTableColumns) ||
        (!byStep.count(key) && columns.size() >= kMaxTableColumns))
      continue;
    const size_t colour = static_cast<size_t>(v - values.begin());
    if (v == values.end()) values.push_back(value);
    if (!byStep.count(key)) {
      columns.push_back(key);
      LineChart& chart = byStep[key];
      chart.kind = "coordcheck";
      chart.title = "t = " + text(field(row, "t")) + ", " + part;
      chart.xName = "n";
      chart.x = x;
      chart.yTitle = "log2 mean |coordinate|";
    }
    Series s;
    s.label = value + (status == "pass" ? "" : " (" + status + ")");
    s.colour = seriesColour(colour);
    s.dashed = status == "skipped";
    const json& sizes = field(row, "sizes");
    for (size_t i = 0; i < logWidths.size(); ++i) {
      std::optional<double> size = reportNumber(element(sizes, i));
      if (size) s.points.push_back({logWidths[i], *size > 0 ? std::log2(*size) : (*size == 0 ? -HUGE_VAL : std::nan("")), 0});
    }
    if (!s.points.empty()) byStep[key].series.push_back(std::move(s));
  }
  std::sort(columns.begin(), columns.end());
  std::vector<std::string> svgs;
  for (const auto& key : columns)
    if (!byStep[key].series.empty()) svgs.push_back(lineChart(byStep[key]));
  // 3. The slopes: rows are values, columns (t, part), each cell "derived / fitted".
  std::vector<std::string> header = {"value"};
  for (const auto& key : columns) header.push_back("t = " + formatNumber(key.first) + " " + key.second);
  std::vector<std::vector<Cell>> slopes;
  for (const std::string& value : values) {
    std::vector<Cell> line = {Cell(value)};
    for (const auto& key : columns) {
      Cell cell("", "num");
      for (const json& row : rows)
        if (text(field(row, "value")) == value && text(field(row, "part")) == key.second &&
            reportNumber(field(row, "t")).value_or(0) == key.first) {
          const std::optional<double> fitted = reportNumber(field(row, "fitted"));
          const std::string status = text(field(row, "status")), note = text(field(row, "note"));
          cell = Cell(text(field(row, "derived")) + " / " + (fitted ? formatNumber(*fitted, 3) : "—"), "num " + status,
                      status + (note.empty() ? "" : ": " + note));
        }
      line.push_back(cell);
    }
    slopes.push_back(line);
  }
  return "<h4>Coordinate check (" + escape(baseName(report.path)) + ")</h4>\n" +
         paragraph(text(field(cc, "passed")) + " passed, " + text(field(cc, "failed")) + " failed, " +
                   text(field(cc, "skipped")) + " skipped; " + text(field(cc, "seeds")) +
                   " seeds per width. The slope of log2 mean |coordinate| against log2 n is fitted and compared with the "
                   "derived width exponent: pass within " + text(field(cc, "tolerance")) +
                   ". Dashed curves: skipped (downstream of a blow-up).") +
         chartRow(svgs) + table(header, slopes, "slopes") +
         paragraph("Each cell: derived / fitted slope; green pass, red fail, grey skipped (hover for the note).");
}

// ---------------------------------------------------------------------------------------
// Kernels

namespace {

/// A heat map draws at most this many rows and columns: the leading block of a larger kernel
/// (a P×P kernel of a large evaluation set would be megabytes of SVG).
constexpr size_t kMaxHeatMapSide = 64;

/// The leading block (at most kMaxHeatMapSide square) of a square matrix of numbers, or
/// nothing when `j` is not one; `side` receives the matrix's full size.
std::optional<std::vector<std::vector<double>>> matrixOf(const json& j, size_t* side = nullptr) {
  if (!j.is_array() || j.empty()) return std::nullopt;
  const size_t n = j.size(), shown = std::min(n, kMaxHeatMapSide);
  std::vector<std::vector<double>> m;
  for (size_t i = 0; i < shown; ++i) {
    const json& row = j[i];
    if (!row.is_array() || row.size() != n) return std::nullopt;
    std::vector<double> r;
    for (size_t k = 0; k < shown; ++k) {
      std::optional<double> x = reportNumber(row[k]);
      if (!x) return std::nullopt;
      r.push_back(*x);
    }
    m.push_back(std::move(r));
  }
  if (side) *side = n;
  return m;
}

std::vector<std::string> indexLabels(size_t n) {
  std::vector<std::string> labels;
  for (size_t i = 0; i < n; ++i) labels.push_back(std::to_string(i));
  return labels;
}

/// ntk_by_coordinate[k][r] (matrices over examples) as one block matrix: row (k, a), column (r, b).
std::optional<HeatMap> blockMap(const std::string& name, const json& blocks) {
  if (!blocks.is_array() || blocks.empty()) return std::nullopt;
  const size_t coords = blocks.size();
  size_t examples = 0;
  if (!matrixOf(element(element(blocks, 0), 0), &examples)) return std::nullopt;
  if (coords * examples > kMaxHeatMapSide) return std::nullopt;  // too large to draw (and to allocate)
  HeatMap map;
  map.title = name;
  map.axisTitle = "coordinate : example";
  map.block = static_cast<int>(examples);
  map.cells.assign(coords * examples, std::vector<double>(coords * examples, std::nan("")));
  for (size_t k = 0; k < coords; ++k)
    for (size_t r = 0; r < coords; ++r) {
      size_t side = 0;
      std::optional<std::vector<std::vector<double>>> m = matrixOf(element(element(blocks, k), r), &side);
      if (!m || side != examples) return std::nullopt;
      for (size_t a = 0; a < examples && a < m->size(); ++a)
        for (size_t b = 0; b < examples && b < (*m)[a].size(); ++b) map.cells[k * examples + a][r * examples + b] = (*m)[a][b];
    }
  for (size_t k = 0; k < coords; ++k)
    for (size_t a = 0; a < examples; ++a) map.labels.push_back(std::to_string(k) + ":" + std::to_string(a));
  return map;
}

}  // namespace

std::string kernelsBlock(const std::vector<const ReportInput*>& reports) {
  std::string out;
  for (const ReportInput* r : reports) {
    const json& kernels = field(field(r->json, "limit"), "kernels");
    if (!kernels.is_object()) continue;
    std::vector<std::string> svgs;
    for (const auto& [name, value] : kernels.items()) {
      size_t side = 0;
      if (auto m = matrixOf(value, &side)) {
        HeatMap map;
        map.title = side > kMaxHeatMapSide ? name + " (the first " + std::to_string(kMaxHeatMapSide) + " of " +
                                                 std::to_string(side) + " examples)"
                                           : name;
        map.axisTitle = "evaluation example";
        map.labels = indexLabels(m->size());
        map.cells = std::move(*m);
        svgs.push_back(heatMap(map));
      } else if (auto blocks = blockMap(name, value)) {
        svgs.push_back(heatMap(*blocks));
      }
    }
    if (svgs.empty()) continue;
    out += "<h4>Kernels (" + escape(baseName(r->path)) + ")</h4>\n" +
           paragraph("The limit's kernels on the evaluation examples; red positive, blue negative (hover for the value).") +
           chartRow(svgs);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Sweeps

namespace {

std::vector<std::string> textList(const json& j) {
  std::vector<std::string> out;
  for (const json& v : arrayOf(j)) out.push_back(text(v));
  return out;
}

}  // namespace

std::string sweepBlock(const ReportInput& report) {
  const json& sweep = field(report.json, "sweep");
  if (!sweep.is_object()) return "";
  PhaseDiagram d;
  d.xName = text(field(field(sweep, "x"), "name"));
  d.xValues = textList(field(field(sweep, "x"), "values"));
  d.yName = text(field(field(sweep, "y"), "name"));
  d.yValues = textList(field(field(sweep, "y"), "values"));
  d.title = d.yValues.empty() ? "regime over " + d.xName : "regime over " + d.xName + " × " + d.yName;
  // The verdict at each point, looked up by its coordinates (x, y) as the report names them.
  std::map<std::pair<std::string, std::string>, const json*> points;
  for (const json& p : arrayOf(field(sweep, "points")))
    points[{text(field(p, "x")), text(field(p, "y"))}] = &p;
  const json& grid = arrayOf(field(sweep, "grid"));
  for (size_t r = 0; r < grid.size(); ++r) {
    d.regimes.push_back(textList(grid[r]));
    std::vector<std::string> notes, tooltips;
    for (size_t c = 0; c < d.regimes.back().size(); ++c) {
      const std::string xv = c < d.xValues.size() ? d.xValues[c] : "", yv = r < d.yValues.size() ? d.yValues[r] : "";
      std::string tooltip = d.xName + " = " + xv + (d.yValues.empty() ? "" : ", " + d.yName + " = " + yv) + ": " + d.regimes.back()[c];
      std::string note;
      if (auto p = points.find({xv, yv}); p != points.end()) {
        note = text(field(*p->second, "r"));
        tooltip += " (stable: " + text(field(*p->second, "stable")) + ", nontrivial: " + text(field(*p->second, "nontrivial")) + ", r = " + note + ")";
      }
      notes.push_back(note);
      tooltips.push_back(tooltip);
    }
    d.notes.push_back(notes);
    d.tooltips.push_back(tooltips);
  }
  if (d.regimes.empty()) return "";
  return "<h4>Sweep (" + escape(baseName(report.path)) + ")</h4>\n" +
         paragraph("The regime at every point of the sweep around this parametrization; the number in a cell is r (hover for the verdicts).") +
         chartRow({phaseDiagram(d)});
}

}  // namespace tp::report::html
