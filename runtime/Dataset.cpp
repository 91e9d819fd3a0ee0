// Reading and validating the JSON data file (rules in Dataset.h).
#include "runtime/Dataset.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace tp {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw UserError(path + ": " + message);
}

/// The line and column (from 1) of the byte nlohmann reports for an error. That
/// count is 1-based (the offending byte itself), one past the end at end of
/// input. Columns count UTF-8 characters, not bytes, to match what editors show.
SourceLoc locationOfByte(const std::string& text, size_t byte) {
  size_t index = std::min(byte > 0 ? byte - 1 : 0, text.size());
  SourceLoc loc{1, 1};
  for (size_t i = 0; i < index; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++loc.line;
      loc.col = 1;
    } else if ((c & 0xC0) != 0x80) {  // not a UTF-8 continuation byte
      ++loc.col;
    }
  }
  return loc;
}

/// nlohmann's message without its "[json.exception...] " tag and its own
/// "parse error at line L, column C: " (we print our own location first).
std::string bareMessage(const std::string& what) {
  std::string message = what;
  if (message.rfind("[json.exception.", 0) == 0) {
    size_t end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  if (message.rfind("parse error", 0) == 0) {
    size_t colon = message.find(": ");
    if (colon != std::string::npos) message.erase(0, colon + 2);
  }
  return message;
}

/// Where a parse stopped, and why.
struct ParseFailure {
  size_t byte = 0;  // 1-based as nlohmann counts; 0 when the position is unknown
  std::string message;
};

/// A SAX handler that builds the JSON tree while tracking where in it the
/// parser is. nlohmann's DOM parser would do the building, but reports an
/// out-of-range number (`1e999`) without saying which entry it was, and keeps
/// only the last of two equal keys without a word; this handler names the entry
/// and rejects the repeated key.
class TreeBuilder {
public:
  Json root;
  std::optional<ParseFailure> failure;

  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(Json::number_integer_t value) { return add(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return add(value); }
  bool number_float(Json::number_float_t value, const Json::string_t&) { return add(value); }
  bool string(Json::string_t& value) { return add(std::move(value)); }
  bool binary(Json::binary_t& value) { return add(Json::binary(std::move(value))); }

  bool start_object(size_t) { return open(Json::object()); }
  bool start_array(size_t) { return open(Json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(Json::string_t& name) {
    Frame& top = open_.back();
    if (top.container->contains(name)) {
      failure = ParseFailure{0, nameOf(open_.size() - 1) + " has the key \"" + name +
                                    "\" twice; each key may appear once"};
      return false;
    }
    top.key = name;
    return true;
  }

  bool parse_error(size_t byte, const std::string& lastToken, const Json::exception& error) {
    if (error.id == 406) {
      // Number overflow: name the entry and point at the number's first
      // character (nlohmann's position is its last).
      failure = ParseFailure{byte + 1 - std::min(byte, lastToken.size()),
                             nameOf(open_.size()) + " is " + lastToken +
                                 ", which is out of range for a double; expected a finite number"};
    } else {
      failure = ParseFailure{byte, "invalid JSON: " + bareMessage(error.what())};
    }
    return false;
  }

private:
  /// An open array or object, and the key of the member being parsed in it.
  struct Frame {
    Json* container;
    std::string key;
  };
  std::vector<Frame> open_;

  /// The name (`train.x[1][0]`) of the value parsed next inside the first
  /// `depth` open containers.
  std::string nameOf(size_t depth) const {
    std::string name;
    for (size_t i = 0; i < depth; ++i) {
      const Frame& frame = open_[i];
      if (frame.container->is_array()) {
        // An array that holds an open child has already stored it (last element).
        size_t index = frame.container->size() - (i + 1 < open_.size() ? 1 : 0);
        name += "[" + std::to_string(index) + "]";
      } else {
        name += (name.empty() ? "" : ".") + frame.key;
      }
    }
    return name.empty() ? "the top level" : name;
  }

  /// Stores a parsed value at the current position; returns where it went.
  /// Pointers to open containers stay valid: a container only grows while it
  /// is the innermost open one, and nobody points into it then.
  Json* place(Json value) {
    if (open_.empty()) {
      root = std::move(value);
      return &root;
    }
    Frame& top = open_.back();
    if (top.container->is_array()) {
      top.container->push_back(std::move(value));
      return &top.container->back();
    }
    Json& slot = (*top.container)[top.key];
    slot = std::move(value);
    return &slot;
  }

  bool add(Json value) {
    place(std::move(value));
    return true;
  }

  bool open(Json container) {
    if (open_.size() >= kMaxJsonDepth) {
      failure = ParseFailure{0, nameOf(open_.size()) + " is nested more than " + std::to_string(kMaxJsonDepth) +
                                    " levels deep"};
      return false;
    }
    open_.push_back({place(std::move(container)), ""});
    return true;
  }

  bool close() {
    open_.pop_back();
    return true;
  }
};

}  // namespace

Json parseStrictJson(const std::string& text, const std::string& path, const std::string& emptyMessage) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) fail(path, emptyMessage);
  TreeBuilder builder;
  if (Json::sax_parse(text, &builder)) return std::move(builder.root);
  const ParseFailure& failure = builder.failure.value();
  if (failure.byte == 0) fail(path, failure.message);
  SourceLoc loc = locationOfByte(text, failure.byte);
  throw UserError(path + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col) + ": " +
                  failure.message);
}

namespace {

/// "a string", "an array", ... for messages that say what was found.
std::string kindOf(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::binary: return "binary data";
    default: return "a number";
  }
}

/// "input x[3]" or "target y".
std::string describe(const ir::InputDecl& decl) {
  std::string text = (decl.isTarget ? "target " : "input ") + decl.name;
  if (decl.size > 0) text += "[" + std::to_string(decl.size) + "]";
  return text;
}

std::string declaredList(const std::vector<ir::InputDecl>& decls) {
  if (decls.empty()) return "the program declares no inputs or targets";
  std::string text = "declared: ";
  for (size_t i = 0; i < decls.size(); ++i) text += (i ? ", " : "") + describe(decls[i]);
  return text;
}

size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// " (did you mean "x"?)" when one candidate is within two edits of `name`.
std::string suggestion(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t bestDistance = 3;
  for (const auto& candidate : candidates) {
    size_t distance = editDistance(name, candidate);
    if (distance < bestDistance && distance < std::max(name.size(), candidate.size())) {
      best = &candidate;
      bestDistance = distance;
    }
  }
  return best ? "; did you mean \"" + *best + "\"?" : "";
}

/// One example's value of `decl`, as a vector of max(size, 1) numbers.
std::vector<double> readEntry(const Json& entry, const ir::InputDecl& decl, const std::string& where,
                              const std::string& path) {
  size_t expected = static_cast<size_t>(std::max(decl.size, 1));
  if (entry.is_number()) {
    if (expected == 1) return {entry.get<double>()};
    fail(path, where + " is a number, expected an array of " + std::to_string(expected) +
                   " numbers (" + describe(decl) + ")");
  }
  if (!entry.is_array()) {
    std::string shape = decl.size == 0   ? "a number (" + describe(decl) + " is a scalar)"
                        : decl.size == 1 ? "a number or an array of 1 number (" + describe(decl) + ")"
                                         : "an array of " + std::to_string(expected) + " numbers (" +
                                               describe(decl) + ")";
    fail(path, where + " is " + kindOf(entry) + ", expected " + shape);
  }
  std::vector<double> numbers;
  for (size_t i = 0; i < entry.size(); ++i) {
    if (!entry[i].is_number())
      fail(path, where + "[" + std::to_string(i) + "] is " + kindOf(entry[i]) +
                     ", expected a number (" + describe(decl) + ")");
    numbers.push_back(entry[i].get<double>());
  }
  if (numbers.size() != expected)
    fail(path, where + " has " + std::to_string(numbers.size()) + " numbers, expected " +
                   std::to_string(expected) + " (" + describe(decl) +
                   (decl.size == 0 ? " is a scalar)" : ")"));
  return numbers;
}

/// Validates one split (rules 3–5 of Dataset.h). `isTrain` decides whether
/// targets are required (train) or all-or-none (eval).
DataSplit readSplit(const Json& json, const std::string& splitName, bool isTrain,
                    const std::vector<ir::InputDecl>& decls, const std::string& path) {
  if (!json.is_object())
    fail(path, splitName + " is " + kindOf(json) +
                   ", expected an object mapping input and target names to arrays of examples");

  // 1. Every key names a declared input or target.
  std::vector<std::string> names;
  for (const auto& decl : decls) names.push_back(decl.name);
  for (const auto& [key, column] : json.items())
    if (std::find(names.begin(), names.end(), key) == names.end())
      fail(path, splitName + "." + key + " is not a declared input or target" +
                     suggestion(key, names) + " (" + declaredList(decls) + ")");

  // 2. The required columns are there: all inputs; all targets in train, all or none in eval.
  const ir::InputDecl* givenTarget = nullptr;
  const ir::InputDecl* missingTarget = nullptr;
  for (const auto& decl : decls) {
    bool given = json.contains(decl.name);
    if (!decl.isTarget && !given)
      fail(path, splitName + " has no " + describe(decl) + "; expected a key \"" + decl.name +
                     "\" with one entry per example");
    if (decl.isTarget && isTrain && !given)
      fail(path, "train has no " + describe(decl) + "; expected a key \"" + decl.name +
                     "\" with one entry per example");
    if (decl.isTarget && given) givenTarget = &decl;
    if (decl.isTarget && !given) missingTarget = &decl;
  }
  if (givenTarget && missingTarget)
    fail(path, splitName + " gives " + describe(*givenTarget) + " but not " +
                   describe(*missingTarget) + "; give all targets or none");

  // 3. Each column is a non-empty array, all of one length, of well-shaped entries.
  DataSplit split;
  std::string firstName;
  for (const auto& decl : decls) {
    if (!json.contains(decl.name)) continue;
    const Json& column = json.at(decl.name);
    std::string where = splitName + "." + decl.name;
    if (!column.is_array())
      fail(path, where + " is " + kindOf(column) + ", expected an array with one entry per example (" +
                     describe(decl) + ")");
    if (column.empty()) fail(path, where + " is empty; expected at least one example");
    if (firstName.empty()) {
      firstName = where;
      split.count = column.size();
    } else if (column.size() != split.count) {
      fail(path, firstName + " has " + std::to_string(split.count) + " examples but " + where +
                     " has " + std::to_string(column.size()));
    }
    auto& values = split.columns[decl.name];
    for (size_t i = 0; i < column.size(); ++i)
      values.push_back(readEntry(column[i], decl, where + "[" + std::to_string(i) + "]", path));
  }
  return split;
}

}  // namespace

bool DataSplit::has(const std::string& name) const { return columns.count(name) > 0; }

const std::vector<double>& DataSplit::value(const std::string& name, size_t example) const {
  auto it = columns.find(name);
  TP_ASSERT(it != columns.end(), "data split has no column '" + name + "'");
  TP_ASSERT(example < it->second.size(), "example index out of range for '" + name + "'");
  return it->second[example];
}

Dataset parseDataset(const std::string& text, const std::string& pathForMessages,
                     const std::vector<ir::InputDecl>& decls) {
  const std::string& path = pathForMessages;
  Json json = parseStrictJson(text, path,
                              "the data file is empty; expected a JSON object "
                              "{\"train\": {...}, \"eval\": {...}} (\"eval\" optional)");
  if (!json.is_object())
    fail(path, "the top level is " + kindOf(json) +
                   ", expected an object {\"train\": {...}, \"eval\": {...}} (\"eval\" optional)");
  for (const auto& [key, value] : json.items())
    if (key != "train" && key != "eval")
      fail(path, "unknown top-level key \"" + key + "\"" + suggestion(key, {"train", "eval"}) +
                     " (the allowed keys are \"train\" and \"eval\")");
  if (!json.contains("train"))
    fail(path, "no \"train\" key; expected {\"train\": {...}, \"eval\": {...}} with the training "
               "examples under \"train\"");

  Dataset data;
  data.train = readSplit(json.at("train"), "train", true, decls, path);
  data.evalGiven = json.contains("eval");
  if (data.evalGiven) {
    data.eval = readSplit(json.at("eval"), "eval", false, decls, path);
  } else {
    // The default evaluation set is the training inputs (LANGUAGE.md, "Data").
    data.eval.count = data.train.count;
    for (const auto& decl : decls)
      if (!decl.isTarget) data.eval.columns[decl.name] = data.train.columns.at(decl.name);
  }
  return data;
}

Dataset readDataset(const std::string& path, const std::vector<ir::InputDecl>& decls) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    fail(path, "cannot read the data file: it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open the data file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail(path, std::string("cannot read the data file: ") + std::strerror(errno));
  return parseDataset(text.str(), path, decls);
}

}  // namespace tp
