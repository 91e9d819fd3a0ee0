// Resolution of abc-parametrizations (TP4 §3; the table of LANGUAGE.md).
#include "compiler/ir/Parametrization.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tp::ir {

namespace {

struct NamedRow {
  Rational a, b;
};
struct Named {
  std::string name;
  NamedRow inputBias, hidden, output;
  Rational c;
  bool hiddenAllowed = true;
};

const std::vector<Named>& namedTable() {
  static const std::vector<Named> table = {
      {"sp", {0, 0}, {0, Rational(1, 2)}, {0, Rational(1, 2)}, 0, true},
      {"ntk", {0, 0}, {Rational(1, 2), 0}, {Rational(1, 2), 0}, 0, true},
      {"mup", {Rational(-1, 2), Rational(1, 2)}, {0, Rational(1, 2)}, {Rational(1, 2), Rational(1, 2)}, 0, true},
      {"mf", {0, 0}, {0, 0}, {1, 0}, -1, false},
  };
  return table;
}

Rational readExponent(const nlohmann::json& v, const std::string& where, const std::string& path) {
  std::string text;
  if (v.is_string()) text = v.get<std::string>();
  else if (v.is_number()) text = v.dump();  // shortest round-trip text: 0.5 → "0.5" → 1/2
  else throw UserError(path + ": " + where + " must be a number or a string like \"-1/2\"");
  auto r = parseRational(text);
  if (!r) throw UserError(path + ": " + where + " is '" + text + "', not a number like -1/2 or 0.5");
  return *r;
}

}  // namespace

const std::vector<std::string>& namedParametrizations() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& row : namedTable()) n.push_back(row.name);
    return n;
  }();
  return names;
}

ParametrizationBlock parseParametrizationJson(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw UserError(path + ": a parametrization file is a JSON object {\"c\": ..., \"params\": {...}}");
  ParametrizationBlock block;
  block.name = std::filesystem::path(path).stem().string();
  for (const auto& [key, value] : j.items()) {
    if (key == "c") {
      block.c = readExponent(value, "\"c\"", path);
    } else if (key == "name") {
      if (!value.is_string()) throw UserError(path + ": \"name\" must be a string");
      block.name = value.get<std::string>();
    } else if (key == "params") {
      if (!value.is_object()) throw UserError(path + ": \"params\" must be an object mapping param names to {a, b, c}");
      for (const auto& [param, ex] : value.items()) {
        if (!ex.is_object()) throw UserError(path + ": params." + param + " must be an object like {\"a\": \"0\", \"b\": \"1/2\"}");
        ParamExponents pe;
        for (const auto& [k, v] : ex.items()) {
          std::string where = "params." + param + "." + k;
          if (k == "a") pe.a = readExponent(v, where, path);
          else if (k == "b") pe.b = readExponent(v, where, path);
          else if (k == "c") pe.c = readExponent(v, where, path);
          else throw UserError(path + ": unknown exponent " + where + " (expected a, b or c)");
        }
        block.params[param] = pe;
      }
    } else {
      throw UserError(path + ": unknown key \"" + key + "\" (expected \"c\", \"params\" and optionally \"name\")");
    }
  }
  return block;
}

Parametrization resolveParametrization(const Program& program, const std::string& spec,
                                       const std::optional<Rational>& cOverride) {
  Parametrization out;
  // 1. A block of the program.
  const ParametrizationBlock* block = nullptr;
  for (const auto& b : program.parametrizations)
    if (b.name == spec) block = &b;
  // 2. A named parametrization, by role.
  const Named* named = nullptr;
  for (const auto& row : namedTable())
    if (row.name == spec) named = &row;
  // 3. A JSON file.
  ParametrizationBlock fromFile;
  if (!block && !named) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(spec, ec)) {
      std::string choices = "sp, ntk, mup, mf";
      for (const auto& b : program.parametrizations) choices += ", " + b.name;
      throw UserError("unknown parametrization '" + spec + "': expected one of " + choices + ", or a JSON file");
    }
    std::ifstream in(spec);
    std::ostringstream text;
    text << in.rdbuf();
    fromFile = parseParametrizationJson(text.str(), spec);
    block = &fromFile;
  }
  if (named) {
    if (!named->hiddenAllowed && program.hasHiddenMatrix())
      throw UserError("the parametrization '" + named->name +
                      "' is defined only for programs without a hidden [n, n] matrix");
    out.name = named->name;
    out.c = named->c;
    for (const auto& p : program.params) {
      const NamedRow& row = p.role == Role::Hidden ? named->hidden : p.role == Role::Output ? named->output : named->inputBias;
      out.params[p.name] = {row.a, row.b, out.c};
    }
  } else {
    out.name = block->name;
    out.c = block->c.value_or(0);
    for (const auto& [name, ex] : block->params)
      if (!program.findParam(name)) throw UserError("parametrization '" + block->name + "' names '" + name + "', which is not a param of the program");
    for (const auto& p : program.params) {
      auto it = block->params.find(p.name);
      if (it == block->params.end() || !it->second.a || !it->second.b)
        throw UserError("parametrization '" + block->name + "' gives no " +
                        (it == block->params.end() ? "exponents" : !it->second.a ? "'a'" : "'b'") + " for param '" +
                        p.name + "'");
      out.params[p.name] = {*it->second.a, *it->second.b, it->second.c.value_or(out.c)};
    }
  }
  // 4. The command line's global c replaces the global c (params with their own c keep it).
  if (cOverride) {
    for (auto& [name, ex] : out.params) {
      bool ownC = block && block->params.count(name) && block->params.at(name).c;
      if (!ownC) ex.c = *cOverride;
    }
    out.c = *cOverride;
  }
  return out;
}

nlohmann::json toJson(const Parametrization& p, const Program& program) {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& decl : program.params) {
    const Exponents& e = p.params.at(decl.name);
    params[decl.name] = {{"a", toString(e.a)}, {"b", toString(e.b)}, {"c", toString(e.c)}};
  }
  return {{"name", p.name}, {"c", toString(p.c)}, {"params", params}};
}

}  // namespace tp::ir
