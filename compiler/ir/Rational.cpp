// Exact rationals: a decimal literal such as 0.5 is read as 1/2, never via a double.
#include "compiler/ir/Rational.h"

#include <cctype>

namespace tp {

namespace {

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

Rational pow10(long e) {
  boost::multiprecision::cpp_int p = 1;
  for (long i = 0; i < (e < 0 ? -e : e); ++i) p *= 10;
  return e < 0 ? Rational(1, p) : Rational(p);
}

/// A decimal without sign: digits [ '.' digits ] [ e [+-] digits ].
std::optional<Rational> parseDecimal(std::string_view s) {
  size_t ePos = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, ePos);
  long exponent = 0;
  if (ePos != std::string_view::npos) {
    std::string_view e = s.substr(ePos + 1);
    bool negative = false;
    if (!e.empty() && (e[0] == '+' || e[0] == '-')) {
      negative = e[0] == '-';
      e.remove_prefix(1);
    }
    if (!allDigits(e) || e.size() > 6) return std::nullopt;
    exponent = std::stol(std::string(e));
    if (negative) exponent = -exponent;
  }
  size_t dot = mantissa.find('.');
  std::string digits(mantissa.substr(0, dot));
  std::string fraction;
  if (dot != std::string_view::npos) fraction = std::string(mantissa.substr(dot + 1));
  if (digits.empty() && fraction.empty()) return std::nullopt;
  if ((!digits.empty() && !allDigits(digits)) || (!fraction.empty() && !allDigits(fraction)))
    return std::nullopt;
  // Strip leading zeros: cpp_int reads a leading 0 as an octal prefix.
  std::string all = digits + fraction;
  size_t first = all.find_first_not_of('0');
  boost::multiprecision::cpp_int whole(first == std::string::npos ? std::string("0") : all.substr(first));
  return Rational(whole) * pow10(exponent - static_cast<long>(fraction.size()));
}

}  // namespace

std::optional<Rational> parseRational(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  std::optional<Rational> value;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    auto num = parseDecimal(text.substr(0, slash));
    auto den = parseDecimal(text.substr(slash + 1));
    if (!num || !den || *den == 0) return std::nullopt;
    value = *num / *den;
  } else {
    value = parseDecimal(text);
  }
  if (value && negative) *value = -*value;
  return value;
}

std::string toString(const Rational& r) {
  if (denominator(r) == 1) return numerator(r).str();
  return numerator(r).str() + "/" + denominator(r).str();
}

double toDouble(const Rational& r) { return r.convert_to<double>(); }

}  // namespace tp
