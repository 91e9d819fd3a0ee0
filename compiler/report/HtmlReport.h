// `tpc report`: one self-contained HTML page with plots of tpc's JSON reports (docs/report.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tp::report {

/// One report given to `tpc report`: the path it was read from, its JSON (schema version 1,
/// already checked), and the text of the program it names (empty when the file is gone).
struct ReportInput {
  std::string path;
  nlohmann::json json;
  std::string source;
};

/// A tpc JSON report from its text: strict JSON (the data files' parser: finite numbers, no
/// repeated keys, at most 64 levels; errors "PATH:LINE:COL: ...") that is a schema-1 tpc
/// report, or a UserError saying what it is not. `source` is left empty.
ReportInput reportFromText(const std::string& text, const std::string& path);

/// The HTML page for these reports: plain HTML and inline SVG generated here, no script
/// or network access needed to view it.
std::string htmlReport(const std::vector<ReportInput>& reports);

}  // namespace tp::report
