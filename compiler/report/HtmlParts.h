// Shared by the parts of the `tpc report` page: reading a report without trusting its shape,
// and the HTML pieces (tables, captions, rows of charts) that escape what they are given.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tp::report::html {

/// j[key] (j[i]), or null when j is not an object (an array that long) or has no such key:
/// a report whose key is missing or oddly typed shows as empty, it never throws.
const nlohmann::json& field(const nlohmann::json& j, const char* key);
const nlohmann::json& element(const nlohmann::json& j, size_t i);

/// j when it is an object (an array), else an empty one: loops over a key that is missing
/// or oddly typed simply run zero times.
const nlohmann::json& objectOf(const nlohmann::json& j);
const nlohmann::json& arrayOf(const nlohmann::json& j);

/// A value of a report as text: strings as they are, numbers formatted, booleans yes/no.
std::string text(const nlohmann::json& j);

/// A number of a report that may diverge (CLI.md): a JSON number, or "inf", "-inf", "nan";
/// nothing when the key is missing or holds something else.
std::optional<double> reportNumber(const nlohmann::json& j);

/// Tables and chart grids built from a report show at most this many columns (steps, (t,
/// part) pairs) and values: a crafted report cannot make the page quadratically large.
inline constexpr size_t kMaxTableColumns = 64;

/// The file name of a path, as reports are named on the page.
std::string baseName(const std::string& path);

/// A table cell: text (escaped by table()), a CSS class, a tooltip.
struct Cell {
  std::string text, cls, tooltip;
  Cell(std::string t = "", std::string c = "", std::string tip = "")
      : text(std::move(t)), cls(std::move(c)), tooltip(std::move(tip)) {}
};

/// An HTML table with a header row; every text is escaped here.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                  const std::string& cls = "");

/// A paragraph of escaped text (class "caption" unless told).
std::string paragraph(const std::string& content, const std::string& cls = "caption");

/// SVG charts side by side, wrapping to the next line when the window is full.
std::string chartRow(const std::vector<std::string>& svgs);

}  // namespace tp::report::html
