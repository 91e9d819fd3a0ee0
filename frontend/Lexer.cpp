// Lexer of the .tp language.
#include "frontend/Lexer.h"

#include <cctype>

namespace tp::frontend {

const char* tokName(Tok t) {
  switch (t) {
    case Tok::Ident: return "a name";
    case Tok::Number: return "a number";
    case Tok::Newline: return "end of line";
    case Tok::End: return "end of file";
    case Tok::LParen: return "'('";
    case Tok::RParen: return "')'";
    case Tok::LBracket: return "'['";
    case Tok::RBracket: return "']'";
    case Tok::Comma: return "','";
    case Tok::Colon: return "':'";
    case Tok::Tilde: return "'~'";
    case Tok::Dot: return "'.'";
    case Tok::Assign: return "'='";
    case Tok::MinusAssign: return "'-='";
    case Tok::Plus: return "'+'";
    case Tok::Minus: return "'-'";
    case Tok::Star: return "'*'";
    case Tok::Slash: return "'/'";
    case Tok::StarStar: return "'**'";
    case Tok::At: return "'@'";
  }
  return "?";
}

namespace {

bool isIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool isDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)); }

class Lexer {
public:
  Lexer(std::string_view src, Diagnostics& diags) : src_(src), diags_(diags) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      SourceLoc loc{line_, col_};
      if (c == '\n') {
        push(Tok::Newline, "\n", loc);
        advance();
        line_++;
        col_ = 1;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        advance();
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') advance();
      } else if (isIdentStart(c)) {
        size_t start = pos_;
        while (pos_ < src_.size() && isIdentChar(src_[pos_])) advance();
        while (pos_ < src_.size() && src_[pos_] == '\'') advance();
        push(Tok::Ident, std::string(src_.substr(start, pos_ - start)), loc);
      } else if (isDigit(c) || (c == '.' && pos_ + 1 < src_.size() && isDigit(src_[pos_ + 1]))) {
        number(loc);
      } else {
        punctuation(c, loc);
      }
    }
    SourceLoc end{line_, col_};
    if (tokens_.empty() || tokens_.back().kind != Tok::Newline) push(Tok::Newline, "\n", end);
    push(Tok::End, "", end);
    return std::move(tokens_);
  }

private:
  void advance() {
    pos_++;
    col_++;
  }
  void push(Tok kind, std::string text, SourceLoc loc) { tokens_.push_back({kind, std::move(text), loc}); }

  /// digits [. digits] [e [+-] digits]; anything glued on makes it malformed.
  void number(SourceLoc loc) {
    size_t start = pos_;
    bool bad = false;
    while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
    if (pos_ < src_.size() && src_[pos_] == '.') {
      advance();
      while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      advance();
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) advance();
      if (pos_ >= src_.size() || !isDigit(src_[pos_])) bad = true;
      while (pos_ < src_.size() && isDigit(src_[pos_])) advance();
    }
    // A number directly followed by a letter, digit or dot ("1.2.3", "3x") is one malformed token.
    while (pos_ < src_.size() && (isIdentChar(src_[pos_]) || src_[pos_] == '.')) {
      bad = true;
      advance();
    }
    std::string text(src_.substr(start, pos_ - start));
    if (bad) {
      diags_.error(loc, "malformed-number", "malformed number '" + text + "'");
      push(Tok::Number, "0", loc);  // keep parsing the rest of the line
      return;
    }
    push(Tok::Number, text, loc);
  }

  void punctuation(char c, SourceLoc loc) {
    char next = pos_ + 1 < src_.size() ? src_[pos_ + 1] : '\0';
    auto one = [&](Tok t) {
      push(t, std::string(1, c), loc);
      advance();
    };
    auto two = [&](Tok t) {
      push(t, std::string{c, next}, loc);
      advance();
      advance();
    };
    switch (c) {
      case '(': return one(Tok::LParen);
      case ')': return one(Tok::RParen);
      case '[': return one(Tok::LBracket);
      case ']': return one(Tok::RBracket);
      case ',': return one(Tok::Comma);
      case ':': return one(Tok::Colon);
      case '~': return one(Tok::Tilde);
      case '.': return one(Tok::Dot);
      case '=': return one(Tok::Assign);
      case '+': return one(Tok::Plus);
      case '/': return one(Tok::Slash);
      case '@': return one(Tok::At);
      case '-': return next == '=' ? two(Tok::MinusAssign) : one(Tok::Minus);
      case '*': return next == '*' ? two(Tok::StarStar) : one(Tok::Star);
      default: break;
    }
    std::string shown = std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "\\x" + hex(c);
    diags_.error(loc, "unexpected-character", "unexpected character '" + shown + "'");
    advance();
  }

  static std::string hex(char c) {
    const char* digits = "0123456789abcdef";
    unsigned char u = static_cast<unsigned char>(c);
    return {digits[u >> 4], digits[u & 15]};
  }

  std::string_view src_;
  Diagnostics& diags_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

}  // namespace

std::vector<Token> lex(std::string_view source, Diagnostics& diags) { return Lexer(source, diags).run(); }

}  // namespace tp::frontend
