// docs/tutorial.md shows what tpc really prints: every command of the tutorial is run and its
// output compared with the page, and the files the page shows are the files in docs/tutorial/.
//
// What this test reads in docs/tutorial.md:
//  - A block fenced ```console holds commands and their output. A command is a line
//    `$ tpc ARGS`; a line ending in `\` continues on the next one. Its output (stdout and
//    stderr, as a terminal shows them) is every line up to the next `$ ` line or the fence.
//    Only `tpc` commands may appear there, and each must exit 0; commands the test should not
//    run (building, mkdir, opening a browser) go in ```sh blocks.
//  - /tmp/tut is the tutorial's scratch directory. The test runs the commands in a fresh
//    directory of its own instead (the path is replaced in commands and outputs), so two runs
//    never collide and nothing is written to the source tree.
//  - An output line that ends in `# varies` (a timing, say) is not compared; only its place is.
//    The tutorial avoids such lines; the marker is for when one cannot be avoided.
//  - A block fenced ```LANG title="PATH" shows the file PATH (relative to the repository root)
//    in full; it must be that file, byte for byte.
// TPC_UPDATE_GOLDEN=1 rewrites the outputs in docs/tutorial.md from the runs (review the diff).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

#include "TestUtil.h"

namespace tp {
namespace {

namespace fs = std::filesystem;

const char* const kTutorial = "docs/tutorial.md";
const std::string kScratch = "/tmp/tut";
const std::string kVaries = "# varies";

/// One `$ tpc ...` command of a console block and the output the page shows for it.
struct Command {
  std::string args;                  // after `tpc `, continuation lines joined
  int line = 0;                      // 1-based line of the `$` in the page
  size_t outBegin = 0, outEnd = 0;   // the output's lines in the page: [outBegin, outEnd), 0-based
};

/// A block that shows a file: its path and content.
struct ShownFile {
  std::string path, content;
  int line = 0;
};

struct Tutorial {
  std::vector<std::string> lines;
  std::vector<Command> commands;
  std::vector<ShownFile> files;
  std::vector<std::string> errors;  // malformed blocks
};

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

bool endsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

/// Reads the console blocks and the file blocks of the page (conventions at the top).
Tutorial readTutorial(const std::string& text) {
  Tutorial t;
  t.lines = splitLines(text);
  const std::regex fileFence(R"re(^```\w*\s+title="([^"]+)"\s*$)re");
  for (size_t i = 0; i < t.lines.size(); ++i) {
    const std::string& open = t.lines[i];
    if (open.rfind("```", 0) != 0) continue;
    size_t close = i + 1;
    while (close < t.lines.size() && t.lines[close].rfind("```", 0) != 0) ++close;
    if (close == t.lines.size()) {
      t.errors.push_back("line " + std::to_string(i + 1) + ": a fenced block that is never closed");
      break;
    }
    std::smatch m;
    if (std::regex_match(open, m, fileFence)) {
      ShownFile f{m[1], "", static_cast<int>(i + 1)};
      for (size_t k = i + 1; k < close; ++k) f.content += t.lines[k] + "\n";
      t.files.push_back(f);
    } else if (open == "```console") {
      for (size_t k = i + 1; k < close;) {
        if (t.lines[k].rfind("$ ", 0) != 0) {
          t.errors.push_back("line " + std::to_string(k + 1) + ": output before any command in a console block");
          ++k;
          continue;
        }
        Command c;
        c.line = static_cast<int>(k + 1);
        std::string text = t.lines[k].substr(2);
        while (endsWith(text, "\\") && k + 1 < close) {
          text.pop_back();
          text += " " + t.lines[++k];
        }
        text = std::regex_replace(text, std::regex(R"(\s+)"), " ");
        if (text.rfind("tpc ", 0) != 0)
          t.errors.push_back("line " + std::to_string(c.line) + ": only tpc commands belong in console blocks: " + text);
        c.args = text.substr(std::min<size_t>(4, text.size()));
        c.outBegin = ++k;
        while (k < close && t.lines[k].rfind("$ ", 0) != 0) ++k;
        c.outEnd = k;
        t.commands.push_back(c);
      }
    }
    i = close;
  }
  return t;
}

/// A number as the tables print it: `3`, `-0.25`, `.5`, `1.2e+06`.
const std::regex& numberPattern() {
  static const std::regex number(R"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)");
  return number;
}

/// Splits a whitespace-separated token into numbers and the text between them.
std::vector<std::string> pieces(const std::string& token) {
  std::vector<std::string> out;
  size_t last = 0;
  for (auto it = std::sregex_iterator(token.begin(), token.end(), numberPattern()); it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) > last) out.push_back(token.substr(last, it->position() - last));
    out.push_back(it->str());
    last = it->position() + it->length();
  }
  if (last < token.size()) out.push_back(token.substr(last));
  return out;
}

bool isNumber(const std::string& piece) { return std::regex_match(piece, numberPattern()); }

/// Whether two printed numbers are the same result. Every computation tpc runs in the tutorial
/// is seeded and deterministic (the same IEEE operations in the same order, independent of
/// --threads), and tables print at most 6 significant digits; on another CPU's vector unit or
/// C library only the last printed digit may round the other way. So two numbers agree when they
/// differ by at most one unit in the sixth significant digit: a relative 1e-6 of the leading
/// digit's decade, i.e. 1e-6 to 1e-5 of the value. Numbers printed with fewer digits (standard
/// errors with 2, fitted slopes with 3 decimals) get no more room than that: they flip only
/// when a value sits within that distance of a rounding boundary. Integers (widths, counts,
/// instruction counts, exponents such as 1/2) are not rounded, so they must be equal.
bool sameNumber(const std::string& expected, const std::string& actual) {
  const double a = std::strtod(expected.c_str(), nullptr), b = std::strtod(actual.c_str(), nullptr);
  if (a == b) return true;
  const auto integer = [](const std::string& t) { return t.find_first_of(".eE") == std::string::npos; };
  if (integer(expected) && integer(actual)) return false;
  const double largest = std::max(std::fabs(a), std::fabs(b));
  const double unitOfSixthDigit = std::pow(10.0, std::floor(std::log10(largest)) - 5);
  return std::fabs(a - b) <= unitOfSixthDigit * (1 + 1e-9);
}

/// Compares one output line, token by token; returns why they differ, or "".
std::string compareLine(const std::string& expected, const std::string& actual) {
  std::istringstream e(expected), a(actual);
  std::vector<std::string> et{std::istream_iterator<std::string>(e), {}}, at{std::istream_iterator<std::string>(a), {}};
  if (et.size() != at.size()) return "different number of tokens";
  for (size_t k = 0; k < et.size(); ++k) {
    std::vector<std::string> ep = pieces(et[k]), ap = pieces(at[k]);
    if (ep.size() != ap.size()) return "token " + std::to_string(k + 1) + ": '" + et[k] + "' vs '" + at[k] + "'";
    for (size_t p = 0; p < ep.size(); ++p) {
      const bool numbers = isNumber(ep[p]) && isNumber(ap[p]);
      if (numbers ? !sameNumber(ep[p], ap[p]) : ep[p] != ap[p])
        return "token " + std::to_string(k + 1) + ": '" + et[k] + "' vs '" + at[k] + "'";
    }
  }
  return "";
}

std::string rightTrimmed(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

bool updating() { return std::getenv("TPC_UPDATE_GOLDEN") != nullptr; }

/// A fresh scratch directory, removed when the test ends.
struct ScratchDir {
  std::string path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "tpc_tutorial_XXXXXX").string();
    if (char* made = mkdtemp(pattern.data())) path = made;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

TEST(Tutorial, EveryCommandPrintsWhatTheTutorialShows) {
#ifdef TPC_SANITIZED
  // The commands take ~15 s in the ordinary build (where ctest runs this test) and minutes
  // under the sanitizers' Debug build, which the other Cli tests already take through the same
  // code; the shown files and the comparison rules are still checked there.
  GTEST_SKIP() << "the tutorial's runs are checked in the ordinary build";
#endif
  const std::string page = test::readText(test::sourcePath(kTutorial));
  ASSERT_FALSE(page.empty()) << kTutorial << " is missing";
  Tutorial t = readTutorial(page);
  for (const auto& e : t.errors) ADD_FAILURE() << kTutorial << ": " << e;
  // The walk-through runs check, classify, limit, simulate, coordcheck and report: a page that
  // lost its blocks must not pass by having nothing to compare.
  ASSERT_GE(t.commands.size(), 15u);
  for (const char* sub : {"check ", "classify ", "limit ", "simulate ", "coordcheck ", "report "})
    EXPECT_TRUE(std::any_of(t.commands.begin(), t.commands.end(), [&](const Command& c) { return c.args.rfind(sub, 0) == 0; }))
        << "no `tpc " << sub << "` in " << kTutorial;

  ScratchDir scratch;
  ASSERT_FALSE(scratch.path.empty()) << "cannot create a scratch directory";
  std::vector<std::vector<std::string>> outputs;  // per command, for TPC_UPDATE_GOLDEN
  for (const Command& c : t.commands) {
    SCOPED_TRACE(std::string(kTutorial) + ":" + std::to_string(c.line) + ": $ tpc " + c.args);
    auto start = std::chrono::steady_clock::now();
    test::CommandResult r = test::runTpc(replaceAll(c.args, kScratch, scratch.path));
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.exitCode, 0) << r.out;
    std::vector<std::string> actual = splitLines(replaceAll(r.out, scratch.path, kScratch));
    for (auto& line : actual) line = rightTrimmed(line);
    outputs.push_back(actual);
    if (seconds > 30) std::cerr << "note: " << seconds << " s for `tpc " << c.args << "` (the tutorial promises ~15 s)\n";
    if (updating()) continue;
    std::vector<std::string> expected(t.lines.begin() + static_cast<long>(c.outBegin), t.lines.begin() + static_cast<long>(c.outEnd));
    while (!expected.empty() && rightTrimmed(expected.back()).empty()) expected.pop_back();  // the blank line before a next `$`
    if (expected.size() != actual.size()) {  // the later commands still run: they may need this one's files
      ADD_FAILURE() << "the output has " << actual.size() << " lines, the tutorial shows " << expected.size() << ":\n"
                    << r.out;
      continue;
    }
    for (size_t k = 0; k < expected.size(); ++k) {
      if (endsWith(rightTrimmed(expected[k]), kVaries)) continue;
      std::string why = compareLine(expected[k], actual[k]);
      EXPECT_EQ(why, "") << "output line " << k + 1 << " (" << kTutorial << ":" << c.outBegin + k + 1 << ")\n  tutorial: "
                         << expected[k] << "\n  actual:   " << actual[k];
    }
  }
  if (updating()) {  // replace every command's output, last first so earlier line numbers hold
    std::vector<std::string> lines = t.lines;
    for (size_t i = t.commands.size(); i-- > 0;) {
      const Command& c = t.commands[i];
      std::vector<std::string> fresh = outputs[i];
      for (size_t k = 0; k < fresh.size() && c.outBegin + k < c.outEnd; ++k)
        if (endsWith(rightTrimmed(lines[c.outBegin + k]), kVaries)) fresh[k] += "  " + kVaries;
      for (size_t k = c.outEnd; k > c.outBegin && rightTrimmed(lines[k - 1]).empty(); --k) fresh.push_back("");
      lines.erase(lines.begin() + static_cast<long>(c.outBegin), lines.begin() + static_cast<long>(c.outEnd));
      lines.insert(lines.begin() + static_cast<long>(c.outBegin), fresh.begin(), fresh.end());
    }
    std::ofstream out(test::sourcePath(kTutorial), std::ios::binary);
    for (const auto& line : lines) out << line << "\n";
  }
}

TEST(Tutorial, TheFilesItShowsAreTheFilesInTheRepository) {
  Tutorial t = readTutorial(test::readText(test::sourcePath(kTutorial)));
  std::vector<std::string> shown;
  for (const ShownFile& f : t.files) {
    SCOPED_TRACE(std::string(kTutorial) + ":" + std::to_string(f.line) + ": " + f.path);
    ASSERT_TRUE(fs::exists(test::sourcePath(f.path))) << "the tutorial shows a file that does not exist";
    EXPECT_EQ(f.content, test::readText(test::sourcePath(f.path)));
    shown.push_back(f.path);
  }
  // The program and the data the commands use are shown in full.
  for (const char* path : {"docs/tutorial/mlp2.tp", "docs/tutorial/data.json"})
    EXPECT_NE(std::find(shown.begin(), shown.end(), path), shown.end()) << kTutorial << " does not show " << path;
}

TEST(Tutorial, OutputsAreComparedTokenByTokenWithinTheLastDigit) {
  EXPECT_EQ(compareLine("   1     0.20148 (0.000835661)", "1 0.20148 (0.000835661)"), "");  // alignment is free
  EXPECT_EQ(compareLine("0.354958", "0.354959"), "");                                      // the 6th digit may flip
  EXPECT_EQ(compareLine("1.2711e+06 ± 6.3e+05", "1.27111e+06 ± 6.3e+05"), "");
  EXPECT_NE(compareLine("0.354958", "0.354960"), "");  // two units: a different result
  EXPECT_NE(compareLine("0.44", "0.45"), "");
  EXPECT_NE(compareLine("r = 1/2", "r = 1/3"), "");    // exponents and counts are exact
  EXPECT_NE(compareLine("width 1024", "width 1025"), "");
  EXPECT_NE(compareLine("regime: kernel", "regime: feature_learning"), "");
  EXPECT_NE(compareLine("0 (0)", "0 (0) extra"), "");
  EXPECT_NE(compareLine("-0.007", "0.007"), "");
}

}  // namespace
}  // namespace tp
