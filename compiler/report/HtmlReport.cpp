// `tpc report`: one self-contained HTML page with plots of tpc's JSON reports (docs/report.md).
//
// The page groups the reports by program, then by parametrization, and shows for each group
// what its reports hold: the parametrization, the classification and its exponents, the
// training curves of the limit and of every simulated width, the coordinate check, the
// kernels and the sweeps' phase diagrams. Reports are read defensively (a missing or
// oddly typed key shows as empty, it never throws), all their text is escaped, and the
// output depends only on the reports and their order, byte for byte.
#include "compiler/report/HtmlReport.h"
#include "runtime/Dataset.h"

#include <algorithm>
#include <set>

#include "compiler/report/HtmlCharts.h"
#include "compiler/report/HtmlParts.h"
#include "compiler/report/HtmlSvg.h"

namespace tp::report {
namespace {

// The page is built from the drawing kit and the pieces shared with the chart sections.
using namespace html;
using nlohmann::json;

/// The command that wrote a report, recognised by its top-level keys.
std::string commandOf(const json& report) {
  if (report.contains("sweep")) return "classify --sweep";
  if (report.contains("coordcheck")) return "coordcheck";
  if (report.contains("limit")) return "limit";
  if (report.contains("simulation")) return "simulate";
  if (report.contains("classification")) return "classify";
  return "other";
}

// ---------------------------------------------------------------------------------------
// Grouping: program, then parametrization

/// The reports of one parametrization of one program (same parametrization block).
struct ParamGroup {
  std::string key, label;
  const json* parametrization = nullptr;
  std::vector<const ReportInput*> reports;
};

/// The reports of one program, by parametrization in order of first appearance.
struct ProgramGroup {
  std::string path, source;
  const json* program = nullptr;
  std::vector<ParamGroup> params;
};

std::vector<ProgramGroup> groupReports(const std::vector<ReportInput>& reports) {
  std::vector<ProgramGroup> programs;
  for (const ReportInput& r : reports) {
    const json& program = field(r.json, "program");
    const std::string path = field(program, "path").is_string() ? text(field(program, "path")) : "(unnamed program)";
    auto p = std::find_if(programs.begin(), programs.end(), [&](const ProgramGroup& g) { return g.path == path; });
    if (p == programs.end()) p = programs.insert(programs.end(), ProgramGroup{path, "", &program, {}});
    if (p->source.empty()) p->source = r.source;
    // The parametrization block as a whole is the key: two reports of "mup" with another c
    // are different experiments.
    const json& param = field(r.json, "parametrization");
    const std::string key = param.dump();
    auto g = std::find_if(p->params.begin(), p->params.end(), [&](const ParamGroup& q) { return q.key == key; });
    if (g == p->params.end()) {
      std::string name = field(param, "name").is_string() ? text(field(param, "name")) : "(no parametrization)";
      const auto sameName = std::count_if(p->params.begin(), p->params.end(), [&](const ParamGroup& q) {
        return q.label == name || q.label.rfind(name + " #", 0) == 0;
      });
      if (sameName > 0) name += " #" + std::to_string(sameName + 1);
      g = p->params.insert(p->params.end(), ParamGroup{key, name, &param, {}});
    }
    g->reports.push_back(&r);
  }
  return programs;
}

/// A width exponent that grows with n (a positive rational, or "inf"): shown in red.
bool grows(const std::string& exponent) {
  return !exponent.empty() && exponent != "0" && exponent[0] != '-' && exponent != "nan" &&
         exponent.find_first_not_of("0/") != std::string::npos;
}

Cell exponentCell(const json& j) {
  const std::string e = text(j);
  return Cell(e, grows(e) ? "num grows" : "num");
}

// ---------------------------------------------------------------------------------------
// The parts of a page

const char* kStyle = R"(<style>
body { font: 14px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #222; margin: 20px auto; max-width: 1480px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 19px; border-bottom: 2px solid #ccc; padding-bottom: 2px; margin-top: 34px; }
h3 { font-size: 17px; margin-top: 26px; background: #f3f3f3; padding: 3px 8px; }
h4 { font-size: 15px; margin: 18px 0 4px; }
table { border-collapse: collapse; margin: 4px 0 10px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.side { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.side > div { max-width: 600px; }
.side > div.narrow { max-width: 300px; }
.side > div.wide { max-width: 900px; }
pre.source { background: #fafafa; border: 1px solid #e2e2e2; padding: 8px 10px; font-size: 12.5px; line-height: 1.35; overflow-x: auto; max-height: 520px; }
pre.source .ln { display: inline-block; width: 3ch; margin-right: 1.5ch; text-align: right; color: #9a9a9a; user-select: none; }
.charts { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0; }
svg.chart { border: 1px solid #e4e4e4; background: #fff; }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; }
svg.chart .chart-title { font-weight: 600; font-size: 12px; }
svg.chart .axis-title { fill: #555; }
svg.chart .note { font-size: 10.5px; font-weight: 600; }
svg.chart .cell-value { font-size: 9.5px; }
svg.chart .grid { stroke: #ececec; }
svg.chart .frame { fill: none; stroke: #999; }
svg.chart .tick { stroke: #999; }
svg.chart .block { stroke: #222; stroke-width: 1.5; }
svg.chart .cell { stroke: #fff; stroke-width: 0.5; }
.caption { color: #555; font-size: 13px; margin: 2px 0 8px; }
.pass { background: #dff0d8; } .fail { background: #f2c4c4; } .skipped { background: #eee; color: #777; }
.grows { color: #b2182b; font-weight: 600; }
.badge { padding: 1px 9px; border-radius: 10px; font-weight: 600; }
.verdict span.sep { color: #aaa; margin: 0 6px; }
nav ul { margin: 4px 0; }
</style>
)";

/// Collects script errors before anything else runs, for the self-check at the end.
const char* kErrorCollector = R"(<script>
window.tpcErrors = [];
window.onerror = function (message, source, line, column) {
  window.tpcErrors.push(message + ' (' + line + ':' + column + ')');
  if (document.body) document.body.dataset.errors = window.tpcErrors.join('; ');
};
</script>
)";

/// The page's self-check (docs/report.md): a chart counts as rendered when its box is not
/// empty and at least one of its marks has a size. The result goes to body data-charts
/// ("rendered/expected") and data-errors; the page itself needs no script.
const char* kSelfCheck = R"(<script>
(function () {
  var charts = document.querySelectorAll('svg.chart'), rendered = 0;
  for (var i = 0; i < charts.length; ++i) {
    var box = charts[i].getBBox(), marks = charts[i].querySelectorAll('.mark'), drawn = 0;
    for (var k = 0; k < marks.length; ++k) {
      var b = marks[k].getBBox();
      if (b.width + b.height > 0) ++drawn;
    }
    if (box.width > 0 && box.height > 0 && drawn > 0) ++rendered;
  }
  document.body.dataset.charts = rendered + '/' + charts.length;
  document.body.dataset.errors = window.tpcErrors.join('; ');
})();
</script>
)";

/// ", t = 0…5" for a list of steps.
std::string stepRange(const json& steps) {
  if (!steps.is_array() || steps.empty()) return "";
  return ", t = " + text(field(steps.front(), "t")) + "…" + text(field(steps.back(), "t"));
}

/// One line per report: what it is, so a reader knows where every chart comes from.
std::string reportSummary(const json& r) {
  const json& sim = field(r, "simulation");
  const json& limit = field(r, "limit");
  const json& cc = field(r, "coordcheck");
  const json& sweep = field(r, "sweep");
  if (!sweep.is_null()) {
    const size_t cols = field(field(sweep, "x"), "values").size();
    const size_t rows = field(sweep, "y").is_null() ? 1 : field(field(sweep, "y"), "values").size();
    return std::to_string(cols) + (rows > 1 ? " × " + std::to_string(rows) : "") + " points";
  }
  if (!cc.is_null()) {
    std::string widths;
    for (const json& w : arrayOf(field(cc, "widths")))
      widths += (widths.empty() ? "" : ", ") + text(w);
    return "widths " + widths + "; " + text(field(cc, "seeds")) + " seeds";
  }
  if (!limit.is_null()) return "method " + text(field(limit, "method")) + stepRange(field(limit, "steps"));
  if (!sim.is_null())
    return "width " + text(field(sim, "width")) + ", " + text(field(sim, "seeds")) + " seeds" + stepRange(field(sim, "steps"));
  const json& c = field(r, "classification");
  if (!c.is_null()) return "regime " + text(field(c, "regime"));
  return "";
}

std::string reportList(const std::vector<ReportInput>& reports) {
  std::vector<std::vector<Cell>> rows;
  for (const ReportInput& r : reports)
    rows.push_back({Cell(r.path), Cell(commandOf(r.json)), Cell(text(field(field(r.json, "program"), "path"))),
                    Cell(text(field(field(r.json, "parametrization"), "name"))), Cell(reportSummary(r.json))});
  return table({"report", "command", "program", "parametrization", "contents"}, rows);
}

std::string sourceBlock(const std::string& source) {
  if (source.empty()) return paragraph("The program's source is not shown: it could not be read as a .tp file of at most 1 MB (the path is relative to where tpc report runs).");
  std::string out = "<pre class=\"source\">";
  size_t line = 1, start = 0;
  while (start < source.size()) {
    size_t end = source.find('\n', start);
    if (end == std::string::npos) end = source.size();
    out += "<span class=\"ln\">" + std::to_string(line++) + "</span>" + escape(source.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out + "</pre>\n";
}

std::string programParams(const json& program) {
  std::vector<std::vector<Cell>> rows;
  for (const json& p : arrayOf(field(program, "params"))) {
    std::string shape;
    for (const json& d : arrayOf(field(p, "shape")))
      shape += (shape.empty() ? "" : " × ") + text(d);
    rows.push_back({Cell(text(field(p, "name"))), Cell(shape), Cell(text(field(p, "role")))});
  }
  return rows.empty() ? "" : table({"param", "shape", "role"}, rows);
}

std::string parametrizationTable(const json& param) {
  std::vector<std::vector<Cell>> rows;
  for (const auto& [name, abc] : objectOf(field(param, "params")).items())
    rows.push_back({Cell(name), Cell(text(field(abc, "a")), "num"), Cell(text(field(abc, "b")), "num"), Cell(text(field(abc, "c")), "num")});
  return "<div class=\"narrow\"><h4>Parametrization</h4>" + table({"param", "a", "b", "c"}, rows) +
         paragraph("global c = " + text(field(param, "c")) +
                   ". A weight is W = n^(-a)·w, w ~ N(0, v·n^(-2b)), trained with learning rate lr·n^(-c) "
                   "(docs/language.md §6).") +
         "</div>\n";
}

/// Verdicts, layers and reasons of the first report of the group that classified.
std::string classificationBlock(const std::vector<const ReportInput*>& reports, std::string& exponents) {
  const ReportInput* from = nullptr;
  for (const ReportInput* r : reports)
    if (field(r->json, "classification").is_object()) {
      from = r;
      break;
    }
  if (!from) return "";
  const json& c = field(from->json, "classification");
  const std::string regime = text(field(c, "regime"));
  std::string out = "<div><h4>Classification</h4><p class=\"verdict\"><span class=\"badge\" style=\"background:" +
                    regimeColour(regime) + "\">" + escape(regime) + "</span>";
  for (const auto& [label, key] : std::vector<std::pair<std::string, const char*>>{
           {"stable", "stable"}, {"nontrivial", "nontrivial"}, {"r", "r"}, {"steps analysed", "steps"}})
    if (!field(c, key).is_null()) out += "<span class=\"sep\">·</span>" + escape(label + ": " + text(field(c, key)));
  out += "</p>\n" + paragraph("from " + baseName(from->path));
  std::vector<std::vector<Cell>> layers;
  for (const json& l : arrayOf(field(c, "layers")))
    layers.push_back({Cell(text(field(l, "param"))), Cell(text(field(l, "r_l")), "num"), Cell(text(field(l, "feature_learning")))});
  if (!layers.empty()) out += table({"layer", "r_l", "feature learning"}, layers);
  out += "<ul class=\"reasons\">";
  for (const json& reason : arrayOf(field(c, "reasons")))
    out += "<li>" + escape(text(reason)) + "</li>";
  out += "</ul></div>\n";

  // The exponent table: per value the largest exponent of its initial value and of its
  // updates; by_step, where present, per step (collapsed: it is long).
  std::vector<std::vector<Cell>> rows;
  for (const auto& [name, e] : objectOf(field(c, "values")).items())
    rows.push_back({Cell(name), exponentCell(field(e, "init")), exponentCell(field(e, "update"))});
  if (rows.empty()) return out;
  exponents = "<div><h4>Width exponents</h4>" + table({"value", "init", "update"}, rows) +
              paragraph("coordinates are Θ(n^e); red: grows with n");
  const json& byStep = field(c, "by_step");
  if (byStep.is_object() && !byStep.empty()) {
    std::set<long long> steps;
    for (const auto& [name, list] : byStep.items())
      for (const json& s : arrayOf(list))
        if (field(s, "t").is_number_integer() && steps.size() < kMaxTableColumns)
          steps.insert(field(s, "t").get<long long>());
    std::vector<std::string> header = {"value"};
    for (long long t : steps) header.push_back("t = " + std::to_string(t));
    std::vector<std::vector<Cell>> perStep;
    for (const auto& [name, list] : byStep.items()) {
      std::vector<Cell> row = {Cell(name)};
      for (long long t : steps) {
        Cell cell("", "num");
        for (const json& s : arrayOf(list))
          if (field(s, "t") == t) {
            const std::string update = text(field(s, "update"));
            cell = Cell(text(field(s, "init")) + " / " + update, grows(update) ? "num grows" : "num");
          }
        row.push_back(cell);
      }
      perStep.push_back(row);
    }
    exponents += "<details><summary>per step (init / update)</summary>" + table(header, perStep) + "</details>";
  }
  exponents += "</div>\n";
  return out;
}


// ---------------------------------------------------------------------------------------
// The page

std::string paramSection(const ParamGroup& g, const std::string& id) {
  std::string exponents;
  std::string out = "<section id=\"" + id + "\"><h3>Parametrization " + escape(g.label) + "</h3>\n";
  out += paragraph("Reports: " + [&] {
    std::string names;
    for (const ReportInput* r : g.reports) names += (names.empty() ? "" : ", ") + baseName(r->path) + " (" + commandOf(r->json) + ")";
    return names;
  }());
  out += "<div class=\"side\">" + parametrizationTable(*g.parametrization);
  out += classificationBlock(g.reports, exponents);
  out += exponents + "</div>\n";
  out += curvesBlock(g.reports);
  for (const ReportInput* r : g.reports) out += coordcheckBlock(*r);
  out += kernelsBlock(g.reports);
  for (const ReportInput* r : g.reports) out += sweepBlock(*r);
  return out + "</section>\n";
}

std::string programSection(const ProgramGroup& p, const std::string& id) {
  std::string out = "<section id=\"" + id + "\"><h2>Program " + escape(p.path) + "</h2>\n";
  out += "<div class=\"side\"><div class=\"wide\">" + sourceBlock(p.source) + "</div><div>" + programParams(*p.program) +
         "</div></div>\n";
  for (size_t i = 0; i < p.params.size(); ++i) out += paramSection(p.params[i], id + "-" + std::to_string(i + 1));
  return out + "</section>\n";
}

std::string contents(const std::vector<ProgramGroup>& programs) {
  std::string out = "<nav><ul>";
  for (size_t i = 0; i < programs.size(); ++i) {
    const std::string id = "program-" + std::to_string(i + 1);
    out += "<li><a href=\"#" + id + "\">" + escape(programs[i].path) + "</a>:";
    for (size_t k = 0; k < programs[i].params.size(); ++k)
      out += " <a href=\"#" + id + "-" + std::to_string(k + 1) + "\">" + escape(programs[i].params[k].label) + "</a>";
    out += "</li>";
  }
  return out + "</ul></nav>\n";
}

}  // namespace

std::string htmlReport(const std::vector<ReportInput>& reports) {
  const std::vector<ProgramGroup> programs = groupReports(reports);
  std::string title = "tpc report";
  if (programs.size() == 1) title += ": " + programs[0].path;
  std::string version;
  for (const ReportInput& r : reports)
    if (version.empty()) version = text(field(field(r.json, "tool"), "version"));
  std::string page = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(title) + "</title>\n";
  page += kStyle;
  page += kErrorCollector;
  page += "</head>\n<body>\n<h1>" + escape(title) + "</h1>\n";
  page += paragraph(std::to_string(reports.size()) + (reports.size() == 1 ? " report" : " reports") + " of tpc " + version +
                    ", grouped by program and parametrization.");
  page += reportList(reports) + contents(programs);
  for (size_t i = 0; i < programs.size(); ++i) page += programSection(programs[i], "program-" + std::to_string(i + 1));
  page += kSelfCheck;
  return page + "</body>\n</html>\n";
}

ReportInput reportFromText(const std::string& text, const std::string& path) {
  ReportInput r;
  r.path = path;
  r.json = parseStrictJson(text, path, "the file is empty; expected a tpc JSON report");
  const nlohmann::json& j = r.json;
  const bool isReport = j.is_object() && j.contains("schema_version") && j["schema_version"] == 1 &&
                        j.contains("tool") && j["tool"].is_object() && j["tool"].contains("name") &&
                        j["tool"]["name"] == "tpc";
  if (!isReport)
    throw UserError(path + ": not a tpc report (expected \"schema_version\": 1 and \"tool\": {\"name\": \"tpc\"})");
  return r;
}

}  // namespace tp::report