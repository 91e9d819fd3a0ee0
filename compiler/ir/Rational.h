// Exact rationals for width exponents and constants: parsing, printing, conversion.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tp {

using Rational = boost::multiprecision::cpp_rational;

/// Reads a decimal or fraction exactly: "3", "-1/2", "0.25", "1e-3", "2.5E2".
/// Returns nothing when the text is not such a number.
std::optional<Rational> parseRational(std::string_view text);

/// Prints as "p/q" or "p" (what the JSON reports use for exponents).
std::string toString(const Rational& r);

double toDouble(const Rational& r);

}  // namespace tp
