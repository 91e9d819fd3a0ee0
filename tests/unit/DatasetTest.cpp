// Unit tests for the data-file reader: valid forms and the message of every error class.
#include "runtime/Dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace tp {
namespace {

ir::InputDecl decl(const std::string& name, int size, bool isTarget = false) {
  ir::InputDecl d;
  d.name = name;
  d.size = size;
  d.isTarget = isTarget;
  return d;
}

/// The program of LANGUAGE.md's example: input x[3], target y (a scalar).
std::vector<ir::InputDecl> exampleDecls() { return {decl("x", 3), decl("y", 0, true)}; }

/// The message of the UserError that parsing `text` raises, or "" (and a
/// test failure) when it raises none.
std::string errorOf(const std::string& text,
                    const std::vector<ir::InputDecl>& decls = exampleDecls()) {
  try {
    parseDataset(text, "data.json", decls);
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text;
  return "";
}

/// Passes when `message` contains every one of `parts`; otherwise shows it.
testing::AssertionResult containsAll(const std::string& message,
                                     std::initializer_list<std::string> parts) {
  for (const auto& part : parts)
    if (message.find(part) == std::string::npos)
      return testing::AssertionFailure() << "\"" << message << "\" lacks \"" << part << "\"";
  return testing::AssertionSuccess();
}

// ---- Valid files ----------------------------------------------------------

TEST(Dataset, ReadsTheSpecExampleWithEval) {
  Dataset data = parseDataset(
      R"({"train": {"x": [[0.1, 0.2, 0.3], [1, 0, -1]], "y": [1.0, -1.0]},
          "eval":  {"x": [[0.5, 0.5, 0.5]]}})",
      "data.json", exampleDecls());
  EXPECT_EQ(data.train.count, 2u);
  EXPECT_EQ(data.train.value("x", 1), (std::vector<double>{1, 0, -1}));
  EXPECT_EQ(data.train.value("y", 0), (std::vector<double>{1.0}));
  EXPECT_TRUE(data.evalGiven);
  EXPECT_EQ(data.eval.count, 1u);
  EXPECT_EQ(data.eval.value("x", 0), (std::vector<double>{0.5, 0.5, 0.5}));
  EXPECT_FALSE(data.eval.has("y"));  // targets are optional in eval
}

TEST(Dataset, EvalDefaultsToTheTrainingInputs) {
  Dataset data = parseDataset(R"({"train": {"x": [[1, 2, 3], [4, 5, 6]], "y": [7, 8]}})",
                              "data.json", exampleDecls());
  EXPECT_FALSE(data.evalGiven);
  EXPECT_EQ(data.eval.count, 2u);
  EXPECT_EQ(data.eval.columns.at("x"), data.train.columns.at("x"));
  EXPECT_FALSE(data.eval.has("y"));
  EXPECT_TRUE(data.train.has("y"));
}

TEST(Dataset, EvalMayGiveTheTargets) {
  Dataset data = parseDataset(
      R"({"train": {"x": [[1, 2, 3]], "y": [7]}, "eval": {"x": [[0, 0, 0]], "y": [-2.5]}})",
      "data.json", exampleDecls());
  EXPECT_TRUE(data.eval.has("y"));
  EXPECT_EQ(data.eval.value("y", 0), (std::vector<double>{-2.5}));
}

TEST(Dataset, ScalarAcceptsANumberOrAOneElementArray) {
  Dataset data = parseDataset(R"({"train": {"s": [1, [2], -3e2, [4.5]]}})", "data.json",
                              {decl("s", 0)});
  ASSERT_EQ(data.train.count, 4u);
  EXPECT_EQ(data.train.columns.at("s"),
            (std::vector<std::vector<double>>{{1}, {2}, {-300}, {4.5}}));
}

TEST(Dataset, SizeOneVectorAcceptsABareNumber) {
  Dataset data =
      parseDataset(R"({"train": {"u": [[1], 2]}})", "data.json", {decl("u", 1)});
  EXPECT_EQ(data.train.columns.at("u"), (std::vector<std::vector<double>>{{1}, {2}}));
}

TEST(Dataset, LargeIntegersAndExponentsBecomeDoubles) {
  Dataset data = parseDataset(
      R"({"train": {"x": [[18446744073709551615, -9223372036854775808, 1e300]], "y": [0]}})",
      "data.json", exampleDecls());
  EXPECT_DOUBLE_EQ(data.train.value("x", 0)[0], 18446744073709551615.0);
  EXPECT_DOUBLE_EQ(data.train.value("x", 0)[1], -9223372036854775808.0);
  EXPECT_DOUBLE_EQ(data.train.value("x", 0)[2], 1e300);
}

TEST(Dataset, ReadsAFile) {
  auto path = std::filesystem::temp_directory_path() / "tpc_dataset_test_valid.json";
  {
    std::ofstream out(path);
    out << R"({"train": {"x": [[1, 2, 3]], "y": [1]}})";
  }
  Dataset data = readDataset(path.string(), exampleDecls());
  std::filesystem::remove(path);
  EXPECT_EQ(data.train.count, 1u);
}

// ---- JSON syntax ----------------------------------------------------------

TEST(Dataset, SyntaxErrorGivesLineAndColumn) {
  // The stray `]` is on line 3, column 15.
  std::string message = errorOf("{\"train\": {\n"
                                "  \"x\": [[1, 2, 3]],\n"
                                "  \"y\": [1, 2 ]]\n"
                                "}}");
  EXPECT_EQ(message.rfind("data.json:3:15: ", 0), 0u) << message;
  EXPECT_TRUE(containsAll(message, {"unexpected ']'"}));
}

TEST(Dataset, SyntaxErrorColumnsCountCharactersNotBytes) {
  // "é" is two bytes but one column: the `x` is the 7th character (8th byte).
  std::string message = errorOf("{\"é\": x}");
  EXPECT_EQ(message.rfind("data.json:1:7: ", 0), 0u) << message;
}

TEST(Dataset, UnexpectedEndAndTrailingText) {
  EXPECT_EQ(errorOf("{\"train\": {\"x\": [[1,2,3]]").rfind("data.json:1:26: ", 0), 0u);
  std::string trailing = errorOf("{\"train\": {}}\n  oops");
  EXPECT_EQ(trailing.rfind("data.json:2:3: ", 0), 0u) << trailing;
  EXPECT_TRUE(containsAll(trailing, {"expected end of input"}));
}

TEST(Dataset, EmptyFileIsAClearError) {
  for (const char* text : {"", "  \n\t "}) {
    std::string message = errorOf(text);
    EXPECT_TRUE(containsAll(message, {"data.json: ", "empty", "\"train\""}));
  }
}

TEST(Dataset, OutOfRangeNumberNamesTheEntry) {
  std::string message = errorOf("{\"train\": {\"x\": [[1, 2, 3],\n   [1e999, 0, 0]], \"y\": [1, 2]}}");
  EXPECT_EQ(message.rfind("data.json:2:5: ", 0), 0u) << message;  // the number's first character
  EXPECT_TRUE(containsAll(message, {"train.x[1][0]", "1e999", "finite"}));
  // A negative one inside a scalar column.
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": [-1e400]}})"),
                          {"train.y[0]", "-1e400"}));
}

TEST(Dataset, RepeatedKeyIsAnError) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": [1], "x": [[4,5,6]]}})"),
                          {"data.json: ", "train", "\"x\" twice"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {}, "train": {}})"),
                          {"the top level", "\"train\" twice"}));
}

// ---- Top level ------------------------------------------------------------

TEST(Dataset, TopLevelMustBeAnObject) {
  EXPECT_TRUE(containsAll(errorOf("[1, 2]"), {"data.json: ", "top level is an array",
                                              "expected an object"}));
}

TEST(Dataset, UnknownTopLevelKeyNamesTheAllowedOnes) {
  std::string message = errorOf(R"({"train": {"x": [[1,2,3]], "y": [1]}, "evl": {}})");
  EXPECT_TRUE(containsAll(message, {"data.json: ", "\"evl\"", "did you mean \"eval\"",
                                    "\"train\" and \"eval\""}));
}

TEST(Dataset, TrainIsRequired) {
  EXPECT_TRUE(containsAll(errorOf(R"({"eval": {"x": [[1,2,3]]}})"),
                          {"data.json: ", "no \"train\""}));
}

TEST(Dataset, SplitMustBeAnObject) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": [[1,2,3]]})"),
                          {"data.json: ", "train is an array", "expected an object"}));
}

// ---- Columns --------------------------------------------------------------

TEST(Dataset, UnknownColumnListsTheDeclaredNames) {
  std::string message = errorOf(R"({"train": {"xx": [[1,2,3]], "y": [1]}})");
  EXPECT_TRUE(containsAll(message, {"data.json: ", "train.xx", "did you mean \"x\"",
                                    "input x[3]", "target y"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": [1]}, "eval": {"z": [1]}})"),
                          {"eval.z", "not a declared input or target"}));
}

TEST(Dataset, TrainNeedsEveryInputAndTarget) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"y": [1]}})"),
                          {"data.json: ", "train has no input x[3]"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]]}})"),
                          {"data.json: ", "train has no target y"}));
}

TEST(Dataset, EvalNeedsEveryInput) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": [1]}, "eval": {"y": [1]}})"),
                          {"data.json: ", "eval has no input x[3]"}));
}

TEST(Dataset, EvalTargetsAreAllOrNone) {
  std::vector<ir::InputDecl> decls = {decl("x", 0), decl("y1", 0, true), decl("y2", 2, true)};
  std::string message =
      errorOf(R"({"train": {"x": [1], "y1": [1], "y2": [[1, 2]]}, "eval": {"x": [1], "y1": [2]}})",
              decls);
  EXPECT_TRUE(containsAll(message, {"data.json: ", "eval gives target y1 but not target y2[2]",
                                    "all targets or none"}));
}

TEST(Dataset, ColumnMustBeANonEmptyArray) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": {"a": 1}, "y": [1]}})"),
                          {"data.json: ", "train.x is an object",
                           "expected an array with one entry per example"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [], "y": []}})"),
                          {"data.json: ", "train.x is empty", "at least one example"}));
}

TEST(Dataset, ColumnsOfASplitHaveOneLength) {
  std::string message = errorOf(
      R"({"train": {"x": [[1,2,3], [1,2,3], [1,2,3], [1,2,3]], "y": [1, 2, 3]}})");
  EXPECT_TRUE(containsAll(message, {"data.json: train.x has 4 examples but train.y has 3"}));
}

// ---- Entries --------------------------------------------------------------

TEST(Dataset, VectorEntryNeedsExactlyKNumbers) {
  std::string message = errorOf(R"({"train": {"x": [[1,2,3], [1,2,3], [1,2]], "y": [1, 2, 3]}})");
  EXPECT_EQ(message, "data.json: train.x[2] has 2 numbers, expected 3 (input x[3])");
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[]], "y": [1]}})"),
                          {"train.x[0] has 0 numbers", "expected 3"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [5], "y": [1]}})"),
                          {"train.x[0] is a number", "expected an array of 3 numbers"}));
}

TEST(Dataset, ScalarEntryNeedsOneNumber) {
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": [[1, 2]]}})"),
                          {"data.json: ", "train.y[0] has 2 numbers", "expected 1",
                           "target y is a scalar"}));
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [[1,2,3]], "y": ["1"]}})"),
                          {"train.y[0] is a string", "expected a number"}));
}

TEST(Dataset, NonNumbersNameTheExactEntry) {
  struct Case {
    const char* entry;
    const char* kind;
  };
  for (Case c : {Case{"\"0.5\"", "a string"}, Case{"null", "null"}, Case{"true", "a boolean"},
                 Case{"[1]", "an array"}, Case{"{}", "an object"}}) {
    std::string text = std::string(R"({"train": {"x": [[1,2,3], [)") + c.entry +
                       R"(, 2, 3]], "y": [1, 2]}})";
    EXPECT_TRUE(containsAll(errorOf(text), {"data.json: train.x[1][0] is " + std::string(c.kind),
                                            "expected a number"}));
  }
  EXPECT_TRUE(containsAll(errorOf(R"({"train": {"x": [null], "y": [1]}})"),
                          {"train.x[0] is null", "expected an array of 3 numbers"}));
}

// ---- Files ----------------------------------------------------------------

TEST(Dataset, UnreadableFileIsAClearError) {
  auto missing = std::filesystem::temp_directory_path() / "tpc_dataset_test_no_such_file.json";
  try {
    readDataset(missing.string(), exampleDecls());
    ADD_FAILURE() << "no error for a missing file";
  } catch (const UserError& e) {
    EXPECT_TRUE(containsAll(e.what(), {missing.string() + ": ", "cannot open",
                                       "No such file"}));
  }
  auto directory = std::filesystem::temp_directory_path();
  try {
    readDataset(directory.string(), exampleDecls());
    ADD_FAILURE() << "no error for a directory";
  } catch (const UserError& e) {
    EXPECT_TRUE(containsAll(e.what(), {directory.string() + ": ", "directory"}));
  }
}

TEST(Dataset, ErrorsFromAFileNameTheFile) {
  auto path = std::filesystem::temp_directory_path() / "tpc_dataset_test_invalid.json";
  {
    std::ofstream out(path);
    out << "{\"train\": {\n  \"x\": [[1, 2, 3]],\n  \"y\": [tru]}}";
  }
  try {
    readDataset(path.string(), exampleDecls());
    ADD_FAILURE() << "no error for an invalid file";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path.string() + ":3:", 0), 0u) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace tp
