// Reading and validating the JSON data file of training and evaluation examples.
//
// The file format (LANGUAGE.md, "Data"):
//
//   {"train": {"x": [[0.1, 0.2, 0.3], [1, 0, -1]], "y": [1.0, -1.0]},
//    "eval":  {"x": [[0.5, 0.5, 0.5]]}}
//
// Rules, checked in this order; the first violation is reported as a
// tp::UserError whose message starts with `PATH:` (`PATH:LINE:COL:` when the
// position is known, i.e. for JSON syntax errors and out-of-range numbers) and
// says what was expected.
// 1. The text is strict JSON (no comments, nothing after the top-level value).
//    A number that does not fit a double (e.g. `1e999`) is an error naming the
//    entry, e.g. `train.x[1][0]`, rather than silently becoming infinity. A key
//    repeated inside one object is an error (JSON would keep only the last).
// 2. The top level is an object with the key "train" (required) and "eval"
//    (optional); any other key is an error naming the allowed ones.
// 3. Each split is an object whose keys are the program's declared input and
//    target names. A key that names nothing declared is an error that lists
//    the declared names (and suggests the closest one), so typos are caught.
//    "train" must give every input and every target. "eval" must give every
//    input; its targets are optional, but all of them or none.
// 4. Each column is a non-empty array with one entry per example, and all the
//    columns of a split have the same length (the split's `count`).
// 5. An entry of a scalar input (`size == 0`) is a number or a one-element
//    array; an entry of a vector input of size k is an array of exactly k
//    numbers (for k = 1 a bare number is also accepted). Strings, null,
//    booleans, objects and nested arrays are errors naming the exact entry.
// When "eval" is absent, `eval` is a copy of train's inputs (no targets) and
// `evalGiven` is false: the default evaluation set is the training inputs.
// A program with no declared inputs or targets accepts only empty splits
// (`{"train": {}}`), with `count == 0`.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiler/ir/IR.h"

namespace tp {

/// One split (train or eval) of a data file: for each input/target name, the
/// examples' values (a scalar is a vector of size 1).
struct DataSplit {
  /// Number of examples; every column has this many entries.
  size_t count = 0;
  /// name -> [example][coordinate]; scalars have one coordinate.
  std::map<std::string, std::vector<std::vector<double>>> columns;

  /// Whether this split has a column for `name` (eval may lack the targets).
  bool has(const std::string& name) const;
  /// The value of `name` in example `example`; asserts both exist (a caller
  /// asking for a missing column is a compiler bug, not a user error).
  const std::vector<double>& value(const std::string& name, size_t example) const;
};

/// The train and eval splits of a data file.
struct Dataset {
  DataSplit train;
  /// The "eval" split, or a copy of train's inputs when the file has none.
  DataSplit eval;
  /// Whether the file had an "eval" split.
  bool evalGiven = false;
};

/// Reads the data file at `path` and validates it against the program's
/// declared inputs and targets (rules at the top of this file). Throws
/// tp::UserError, whose message starts with `path:`, when the file cannot be
/// read or is invalid.
Dataset readDataset(const std::string& path, const std::vector<ir::InputDecl>& decls);

/// JSON nested deeper than this is refused: nothing tpc reads needs more, and printing or
/// walking a deeper tree recursively could exhaust the stack.
inline constexpr size_t kMaxJsonDepth = 64;

/// Parses strict JSON (no repeated keys, finite numbers, at most kMaxJsonDepth levels) or
/// throws a UserError "PATH:LINE:COL: message" naming the offending entry; `emptyMessage`
/// follows "PATH: " for a file without any JSON.
nlohmann::json parseStrictJson(const std::string& text, const std::string& path, const std::string& emptyMessage);

/// Parses and validates data-file text; `pathForMessages` starts every error
/// message. Throws tp::UserError like readDataset.
Dataset parseDataset(const std::string& text, const std::string& pathForMessages,
                     const std::vector<ir::InputDecl>& decls);

}  // namespace tp
