// `tpc report`: the charts of the HTML page, escaping, divergent values, self-containment,
// determinism, and the command's refusals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "compiler/report/HtmlReport.h"
#include "compiler/report/HtmlSvg.h"

#include "TestUtil.h"

namespace tp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// A report of CLI.md for `program` under parametrization `param`, with the top-level keys of `body`.
json report(const std::string& program, const std::string& param, const std::string& body) {
  json j = json::parse(R"({"schema_version": 1, "tool": {"name": "tpc", "version": "0.1.0"},
    "program": {"params": [{"name": "W1", "shape": ["n", "3"], "role": "input"},
                           {"name": "W2", "shape": ["1", "n"], "role": "output"}]},
    "parametrization": {"c": "0", "params": {"W1": {"a": "-1/2", "b": "1/2", "c": "0"},
                                             "W2": {"a": "1/2", "b": "1/2", "c": "0"}}}})");
  j["program"]["path"] = program;
  j["parametrization"]["name"] = param;
  j.update(json::parse(body));
  return j;
}

// Three steps of a scalar output f on two evaluation examples, with standard errors.
const char* kSteps = R"([
  {"t": 0, "loss": 0.5, "loss_stderr": 0.01, "outputs": {"f": [0.0, 0.1]}, "stderr": {"f": [0.02, 0.02]}},
  {"t": 1, "loss": 0.3, "loss_stderr": 0.01, "outputs": {"f": [0.2, -0.1]}, "stderr": {"f": [0.02, 0.02]}},
  {"t": 2, "loss": 0.2, "loss_stderr": 0.01, "outputs": {"f": [0.3, -0.2]}, "stderr": {"f": [0.02, 0.0]}}])";

json classifyReport(const std::string& program) {
  return report(program, "mup", R"json({"classification": {"stable": true, "nontrivial": true,
    "regime": "feature_learning", "r": "0", "layers": [{"param": "W1", "r_l": "0", "feature_learning": true}],
    "values": {"h": {"init": "0", "update": "0"}, "f": {"init": "-1/2", "update": "0"}},
    "reasons": ["feature learning: h at step 1 (line 3) moves by Θ(1)"]}})json");
}

json limitReport(const std::string& program) {
  return report(program, "mup", std::string(R"({"limit": {"method": "montecarlo", "steps": )") + kSteps +
                                    R"(, "kernels": {"nngp": [[1, 0.5], [0.5, 1]], "ntk": [[2, -1], [-1, 2]]}}})");
}

json simulationReport(const std::string& program, int width) {
  return report(program, "mup", R"({"simulation": {"width": )" + std::to_string(width) +
                                    R"(, "seeds": 4, "steps": )" + kSteps + "}}");
}

json coordcheckReport(const std::string& program) {
  return report(program, "mup", R"({"coordcheck": {"widths": [64, 128, 256], "seeds": 2, "tolerance": 0.25,
    "passed": 2, "failed": 1, "skipped": 1, "rows": [
      {"value": "h", "t": 0, "part": "init", "derived": "0", "fitted": 0.01, "status": "pass", "note": "", "sizes": [1, 1, 1]},
      {"value": "f", "t": 0, "part": "init", "derived": "-1/2", "fitted": -0.5, "status": "pass", "note": "", "sizes": [0.1, 0.07, 0.05]},
      {"value": "h", "t": 1, "part": "update", "derived": "0", "fitted": 0.6, "status": "fail", "note": "", "sizes": [0.1, 0.15, 0.2]},
      {"value": "f", "t": 1, "part": "update", "derived": "1", "fitted": null, "status": "skipped",
       "note": "downstream of a blow-up", "sizes": [1, "inf", 0]}]}})");
}

// A 3 × 2 sweep; row 0 (y = 0) must be drawn at the bottom.
json sweepReport(const std::string& program) {
  return report(program, "mup", R"({"sweep": {"x": {"name": "c", "values": ["0", "1/2", "1"]},
    "y": {"name": "W1.a", "values": ["0", "1"]},
    "grid": [["unstable", "feature_learning", "trivial"], ["kernel", "unstable", "trivial"]],
    "points": [{"x": "1/2", "y": "0", "regime": "feature_learning", "stable": true, "nontrivial": true, "r": "0"}]}})");
}

report::ReportInput input(const std::string& path, json j, const std::string& source = "width n\n") {
  return {path, std::move(j), source};
}

/// The number of charts of one kind on a page.
int charts(const std::string& page, const std::string& kind) {
  const std::string tag = "data-chart=\"" + kind + "\"";
  int count = 0;
  for (size_t at = page.find(tag); at != std::string::npos; at = page.find(tag, at + 1)) ++count;
  return count;
}

/// The SVG element of the first chart of a kind.
std::string firstChart(const std::string& page, const std::string& kind) {
  const size_t start = page.rfind("<svg", page.find("data-chart=\"" + kind + "\""));
  return page.substr(start, page.find("</svg>", start) - start);
}

std::vector<report::ReportInput> everyKind() {
  const std::string p = "programs/mlp.tp";
  return {input("classify.json", classifyReport(p)),   input("limit.json", limitReport(p)),
          input("sim64.json", simulationReport(p, 64)), input("sim16.json", simulationReport(p, 16)),
          input("cc.json", coordcheckReport(p)),        input("sweep.json", sweepReport(p))};
}

TEST(HtmlReport, OneChartPerQuantityWithALinePerRun) {
  const std::string page = report::htmlReport(everyKind());
  EXPECT_EQ(charts(page, "loss"), 1);
  EXPECT_EQ(charts(page, "output"), 2);      // f on each of the two evaluation examples
  EXPECT_EQ(charts(page, "coordcheck"), 2);  // (t = 0, init) and (t = 1, update)
  EXPECT_EQ(charts(page, "kernel"), 2);      // nngp, ntk
  EXPECT_EQ(charts(page, "phase"), 1);
  // The loss chart: the limit and both widths, the smaller width first.
  const std::string loss = firstChart(page, "loss");
  const size_t limit = loss.find(">limit (montecarlo)<"), n16 = loss.find(">n = 16<"), n64 = loss.find(">n = 64<");
  ASSERT_NE(limit, std::string::npos);
  ASSERT_NE(n16, std::string::npos);
  ASSERT_NE(n64, std::string::npos);
  EXPECT_LT(limit, n16);
  EXPECT_LT(n16, n64);
  // Error bars where a standard error is non-zero: 3 loss steps × 3 runs.
  std::regex bar("class=\"mark err\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(loss.begin(), loss.end(), bar), std::sregex_iterator()), 9);
  // The classification and its exponents, the coordinate check's slopes coloured by status.
  EXPECT_NE(page.find("feature learning: h at step 1 (line 3) moves by Θ(1)"), std::string::npos);
  EXPECT_NE(page.find("<td class=\"num fail\" title=\"fail\">0 / 0.6</td>"), std::string::npos);
  EXPECT_NE(page.find("title=\"skipped: downstream of a blow-up\">1 / —</td>"), std::string::npos);
}

TEST(HtmlReport, VectorOutputsShowTheFirstFourExamplesAndCoordinatesAndSaySo) {
  json steps = json::array();
  for (int t = 0; t < 2; ++t) {
    json f = json::array();
    for (int e = 0; e < 6; ++e) f.push_back(json::array({0.1 * t, 0.2, 0.3, 0.4, 0.5}));
    steps.push_back({{"t", t}, {"loss", 1.0}, {"outputs", {{"f", f}}}});
  }
  json j = report("programs/softmax.tp", "ntk", "{}");
  j["limit"] = {{"method", "kernel"}, {"steps", steps}};
  const std::string page = report::htmlReport({input("limit.json", j)});
  EXPECT_EQ(charts(page, "output"), 16);
  EXPECT_NE(page.find("the first 4 of 6 evaluation examples"), std::string::npos);
  EXPECT_NE(page.find("the first 4 of 5 coordinates"), std::string::npos);
  EXPECT_NE(page.find("f[3] on evaluation example 3"), std::string::npos);
}

TEST(HtmlReport, KernelsByCoordinateAreOneBlockMatrix) {
  json j = report("programs/softmax.tp", "ntk", R"({"limit": {"method": "kernel", "kernels": {
    "ntk_by_coordinate": [[[[1, 0.5], [0.5, 1]], [[0, 0], [0, 0]]], [[[0, 0], [0, 0]], [[1, 0.5], [0.5, 1]]]]}}})");
  const std::string page = report::htmlReport({input("limit.json", j)});
  ASSERT_EQ(charts(page, "kernel"), 1);
  const std::string map = firstChart(page, "kernel");
  std::regex cell("class=\"mark cell\"");
  EXPECT_EQ(std::distance(std::sregex_iterator(map.begin(), map.end(), cell), std::sregex_iterator()), 16);
  EXPECT_NE(map.find("<title>(1:0, 1:1): 0.5</title>"), std::string::npos) << map;
}

TEST(HtmlReport, TextFromReportsIsEscaped) {
  const std::string evil = "<script>alert(1)</script>";
  json j = classifyReport("programs/" + evil + ".tp");
  j["classification"]["reasons"] = {"unstable: " + evil + " & \"quoted\" 'single'"};
  j["parametrization"]["name"] = "<b>mup</b>";
  const std::string page = report::htmlReport({input("dir/" + evil + ".json", j, "x < y && z\n")});
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("<b>mup"), std::string::npos);
  EXPECT_NE(page.find("programs/&lt;script&gt;alert(1)&lt;/script&gt;.tp"), std::string::npos);
  EXPECT_NE(page.find("unstable: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#39;single&#39;"),
            std::string::npos);
  EXPECT_NE(page.find("x &lt; y &amp;&amp; z"), std::string::npos);
  // The page's own two scripts (error collector, self-check) are the only ones.
  std::regex script("<script");
  EXPECT_EQ(std::distance(std::sregex_iterator(page.begin(), page.end(), script), std::sregex_iterator()), 2);
}

TEST(HtmlReport, DivergentValuesAreMarkedAndNeverReachACoordinate) {
  json j = report("programs/mlp.tp", "sp", R"({"limit": {"method": "none", "steps": [
    {"t": 0, "loss": 0.55, "loss_stderr": 0, "outputs": {"f": [0.0, 0.1]}, "stderr": {"f": [0, 0]}},
    {"t": 1, "loss": "inf", "loss_stderr": 0, "outputs": {"f": ["inf", "-inf"]}, "stderr": {"f": [0, 0]}},
    {"t": 2, "loss": "inf", "loss_stderr": "nan", "outputs": {"f": ["nan", "inf"]}, "stderr": {"f": ["inf", 0]}}]}})");
  json allInf = simulationReport("programs/mlp.tp", 64);
  allInf["parametrization"] = j["parametrization"];
  for (json& s : allInf["simulation"]["steps"]) s["loss"] = "inf";
  const std::string page = report::htmlReport({input("limit.json", j), input("sim.json", allInf)});
  EXPECT_EQ(charts(page, "loss"), 1);
  EXPECT_EQ(charts(page, "output"), 2);
  EXPECT_NE(page.find("→ ∞ at t = 1"), std::string::npos);
  EXPECT_NE(page.find("→ -∞ at t = 1"), std::string::npos);
  EXPECT_NE(page.find("→ ∞ at t = 0"), std::string::npos);  // the simulation's loss, never finite
  // Every numeric SVG attribute holds numbers only.
  std::regex attr(R"re( (x|y|x1|y1|x2|y2|cx|cy|r|width|height|points|viewBox)="([^"]*)")re");
  std::regex numeric(R"([-0-9., ]*)");
  int attributes = 0;
  for (auto it = std::sregex_iterator(page.begin(), page.end(), attr); it != std::sregex_iterator(); ++it, ++attributes)
    EXPECT_TRUE(std::regex_match((*it)[2].str(), numeric)) << (*it)[0];
  EXPECT_GT(attributes, 50);
}

TEST(HtmlReport, PageIsSelfContained) {
  const std::string page = report::htmlReport(everyKind());
  for (const char* reference : {"http://", "https://", "<link", " src=", "@import", "url("})
    EXPECT_EQ(page.find(reference), std::string::npos) << reference;
  EXPECT_NE(page.find("<style>"), std::string::npos);
}

TEST(HtmlReport, SameReportsGiveTheSameBytes) {
  EXPECT_EQ(report::htmlReport(everyKind()), report::htmlReport(everyKind()));
}

TEST(HtmlReport, PhaseDiagramHasOneCellPerGridPointInItsRegimesColour) {
  const std::string phase = firstChart(report::htmlReport(everyKind()), "phase");
  const std::vector<std::string> grid = {"unstable", "feature_learning", "trivial", "kernel", "unstable", "trivial"};
  std::regex cell(R"re(<rect x="([-0-9.]+)" y="([-0-9.]+)"[^>]* class="mark cell" data-regime="([a-z_]+)" fill="(#[0-9a-f]{6})")re");
  std::vector<double> ys;
  size_t i = 0;
  for (auto it = std::sregex_iterator(phase.begin(), phase.end(), cell); it != std::sregex_iterator(); ++it, ++i) {
    ASSERT_LT(i, grid.size());
    EXPECT_EQ((*it)[3], grid[i]);
    EXPECT_EQ((*it)[4], report::html::regimeColour(grid[i]));
    ys.push_back(std::stod((*it)[2]));
  }
  ASSERT_EQ(i, grid.size());
  EXPECT_GT(ys[0], ys[3]);  // y grows upwards: row 0 lies below row 1
  EXPECT_NE(phase.find("c = 1/2, W1.a = 0: feature_learning (stable: yes, nontrivial: yes, r = 0)"), std::string::npos);
  EXPECT_NE(phase.find(">W1.a<"), std::string::npos);
}

TEST(HtmlReport, NumbersAndTicksAreCompact) {
  using report::html::formatNumber;
  EXPECT_EQ(formatNumber(0.25), "0.25");
  EXPECT_EQ(formatNumber(2.0 / 3), "0.6667");
  EXPECT_EQ(formatNumber(1234.5678), "1235");
  EXPECT_EQ(formatNumber(123456), "1.235e5");
  EXPECT_EQ(formatNumber(1.5e-7), "1.5e-7");
  EXPECT_EQ(formatNumber(-0.0), "0");
  EXPECT_EQ(formatNumber(-1e-9 / 3, 1), "-3e-10");
  EXPECT_EQ(formatNumber(HUGE_VAL), "∞");
  report::html::Axis a = report::html::niceAxis("loss", 0.03, 0.97, true, false);
  EXPECT_EQ(a.lo, 0);
  EXPECT_EQ(a.hi, 1);
  std::vector<std::string> labels;
  for (const auto& t : a.ticks) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  EXPECT_EQ(report::html::niceAxis("t", 0, 0, false, true).ticks.size(), 3u);  // one step: -1, 0, 1
}

// The command: refusals write nothing, a good run writes the page.
TEST(HtmlReport, CommandRefusesMalformedAndForeignJson) {
  const fs::path dir = fs::temp_directory_path() / "tpc_html_report_test";
  fs::create_directories(dir);
  const std::string bad = (dir / "bad.json").string(), foreign = (dir / "foreign.json").string();
  const std::string out = (dir / "page.html").string();
  std::ofstream(bad) << "{\n  \"schema_version\": 1,\n  \"tool\": ]\n}\n";
  std::ofstream(foreign) << R"({"hello": "world"})";
  fs::remove(out);
  auto r = test::runTpc("report " + bad + " -o " + out);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(std::regex_replace(bad, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") + R"(:3:\d+:)")))
      << r.out;
  EXPECT_FALSE(fs::exists(out));
  r = test::runTpc("report " + foreign + " -o " + out);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("not a tpc report"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(dir);
}

TEST(HtmlReport, CommandWritesThePage) {
  const fs::path dir = fs::temp_directory_path() / "tpc_html_report_run";
  fs::create_directories(dir);
  const std::string sim = (dir / "sim.json").string(), cls = (dir / "classify.json").string();
  const std::string out = (dir / "page.html").string();
  ASSERT_EQ(test::runTpc("simulate programs/mlp2_tanh.tp --param mup --data programs/data/mlp2_tanh.json "
                         "--steps 2 --width 32 --seeds 2 --json " + sim).exitCode, 0);
  ASSERT_EQ(test::runTpc("classify programs/mlp2_tanh.tp --param mup --json " + cls).exitCode, 0);
  auto r = test::runTpc("report " + cls + " " + sim + " -o " + out);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  const std::string page = test::readText(out);
  EXPECT_EQ(charts(page, "loss"), 1);
  EXPECT_EQ(charts(page, "output"), 2);
  EXPECT_NE(page.find("Two-hidden-layer tanh perceptron"), std::string::npos);  // the program's source
  EXPECT_NE(page.find("feature_learning"), std::string::npos);
  fs::remove_all(dir);
}

TEST(HtmlReport, CraftedReportsAreRefusedOrBoundedNeverACrash) {
  // Reports are data a user may have been sent: a number beyond double, nesting deep enough to
  // exhaust a recursive walk, a "program" that names a secret, and kernels whose drawing would
  // allocate (10^3·k)² cells must each end in a clear refusal or a bounded page.
  const fs::path dir = fs::temp_directory_path() / ("tpc_html_crafted_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "page.html").string();
  const std::string header = R"({"schema_version": 1, "tool": {"name": "tpc", "version": "0.1.0"}, )";
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string path = (dir / name).string();
    std::ofstream(path) << text;
    return path;
  };
  const std::string huge = write("huge.json", header + "\n\"limit\": {\"steps\": [{\"t\": 1e999}]}}");
  auto r = test::runTpc("report " + huge + " -o " + out);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find(huge + ":2:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("out of range for a double"), std::string::npos) << r.out;
  const std::string deep = write("deep.json", header + "\"x\": " + std::string(100, '[') + std::string(100, ']') + "}");
  r = test::runTpc("report " + deep + " -o " + out);
  EXPECT_EQ(r.exitCode, 1) << r.out;
  EXPECT_NE(r.out.find("nested more than 64 levels deep"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out));

  // Not a .tp file: never read into the page.
  const std::string secret = write("secret.txt", "the secret is 8c1f");
  const std::string named = write("named.json", header + R"("program": {"path": ")" + secret + R"("}})");
  ASSERT_EQ(test::runTpc("report " + named + " -o " + out).exitCode, 0);
  EXPECT_EQ(test::readText(out).find("8c1f"), std::string::npos);

  // 1000 coordinates of empty blocks (a few kB), and a 200×200 kernel: bounded pages.
  std::string blocks = "[[";
  for (int i = 0; i < 1000; ++i) blocks += std::string(i ? "," : "") + "[]";
  blocks += "]";
  for (int i = 1; i < 1000; ++i) blocks += ",0";
  blocks += "]";
  std::string kernel = "[";
  for (int i = 0; i < 200; ++i) {
    kernel += std::string(i ? "," : "") + "[";
    for (int k = 0; k < 200; ++k) kernel += std::string(k ? "," : "") + (i == k ? "1" : "0.5");
    kernel += "]";
  }
  kernel += "]";
  const std::string kernels = write("kernels.json", header + R"("limit": {"kernels": {"ntk_by_coordinate": )" + blocks +
                                                       R"(, "nngp": )" + kernel + "}}}");
  r = test::runTpc("report " + kernels + " -o " + out);
  ASSERT_EQ(r.exitCode, 0) << r.out;
  const std::string page = test::readText(out);
  EXPECT_NE(page.find("nngp (the first 64 of 200 examples)"), std::string::npos);
  EXPECT_EQ(charts(page, "kernel"), 1);  // the blocks are not drawable: skipped
  EXPECT_LT(page.size(), size_t(2) << 20);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tp
