// Shared by the parts of the `tpc report` page: reading reports defensively, HTML pieces.
#include "compiler/report/HtmlParts.h"

#include <cmath>

#include "compiler/report/HtmlSvg.h"

namespace tp::report::html {

using nlohmann::json;

namespace {

const json& nullJson() {
  static const json null;
  return null;
}

}  // namespace

const json& field(const json& j, const char* key) {
  if (!j.is_object()) return nullJson();
  auto it = j.find(key);
  return it == j.end() ? nullJson() : *it;
}

const json& objectOf(const json& j) {
  static const json empty = json::object();
  return j.is_object() ? j : empty;
}
const json& arrayOf(const json& j) {
  static const json empty = json::array();
  return j.is_array() ? j : empty;
}

const json& element(const json& j, size_t i) { return j.is_array() && i < j.size() ? j[i] : nullJson(); }

std::string text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
  if (j.is_number_integer()) return j.dump();
  if (j.is_number()) return formatNumber(j.get<double>(), 6);
  if (j.is_null()) return "";
  return j.dump();
}

std::optional<double> reportNumber(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
    if (s == "nan") return std::nan("");
  }
  return std::nullopt;
}

std::string baseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                  const std::string& cls) {
  std::string out = cls.empty() ? "<table>" : "<table class=\"" + cls + "\">";
  out += "<thead><tr>";
  for (const std::string& h : header) out += "<th>" + escape(h) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const Cell& c : row) {
      out += "<td";
      if (!c.cls.empty()) out += " class=\"" + escape(c.cls) + "\"";
      if (!c.tooltip.empty()) out += " title=\"" + escape(c.tooltip) + "\"";
      out += ">" + escape(c.text) + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string paragraph(const std::string& content, const std::string& cls) {
  return "<p class=\"" + cls + "\">" + escape(content) + "</p>\n";
}

std::string chartRow(const std::vector<std::string>& svgs) {
  std::string out = "<div class=\"charts\">\n";
  for (const std::string& s : svgs) out += s;
  return out + "</div>\n";
}

}  // namespace tp::report::html
