// abc-parametrizations: the named ones, program blocks, JSON files, and their resolution per param.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "compiler/ir/IR.h"

namespace tp::ir {

/// The exponents of one param: W = n^(−a)·w, w_ij ~ N(0, v·n^(−2b)), learning rate lr·n^(−c).
struct Exponents {
  Rational a = 0, b = 0, c = 0;
};

/// A parametrization resolved for one program: every param has all three exponents.
struct Parametrization {
  std::string name;
  Rational c = 0;  // the global learning-rate exponent
  std::map<std::string, Exponents> params;
};

/// Resolves `spec` for `program`: a `parametrization` block of the program, a
/// named one (sp, ntk, mup, mf: by role, LANGUAGE.md), or a JSON file. The
/// global `c` defaults to 0 when a block or file gives none; `cOverride`
/// replaces the global `c` (a param's own `c` is kept). Throws UserError with
/// the choices when the spec names nothing, or a param lacks `a` or `b`.
Parametrization resolveParametrization(const Program& program, const std::string& spec,
                                       const std::optional<Rational>& cOverride);

/// Reads a JSON parametrization (`{"c": "0", "params": {"W1": {"a": "-1/2", ...}}}`).
ParametrizationBlock parseParametrizationJson(const std::string& text, const std::string& pathForMessages);

/// The report form: {"name", "c", "params": {"W1": {"a", "b", "c"}}}, exponents as strings.
nlohmann::json toJson(const Parametrization& p, const Program& program);

/// The names of the built-in parametrizations.
const std::vector<std::string>& namedParametrizations();

}  // namespace tp::ir
