// Recursive-descent parser of the .tp language. Each function names the rule it parses.
#include "frontend/Parser.h"

#include <set>

namespace tp::frontend {

namespace {

const std::set<std::string> kDeclKeywords = {"width", "input", "target", "param", "hyper", "output"};
const std::set<std::string> kSectionKeywords = {"forward", "backward", "update", "parametrization"};

/// Thrown to abandon the current line after a syntax error has been reported.
struct LineError {};

class Parser {
public:
  Parser(std::vector<Token> tokens, Diagnostics& diags) : toks_(std::move(tokens)), diags_(diags) {}

  // file := { line NEWLINE } END
  File parseFile(const std::string& path) {
    File file;
    file.path = path;
    while (peek().kind != Tok::End) {
      if (peek().kind == Tok::Newline) {
        next();
        continue;
      }
      try {
        parseLine(file);
      } catch (const LineError&) {
        while (peek().kind != Tok::Newline && peek().kind != Tok::End) next();
      }
    }
    return file;
  }

private:
  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) pos_++;
    return t;
  }
  bool accept(Tok kind) {
    if (peek().kind != kind) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(const Token& at, const std::string& message) {
    diags_.error(at.loc, "syntax", message);
    throw LineError{};
  }
  static std::string describe(const Token& t) {
    if (t.kind == Tok::Ident) return "'" + t.text + "'";
    if (t.kind == Tok::Number) return "number " + t.text;
    return tokName(t.kind);
  }
  const Token& expect(Tok kind, const std::string& context) {
    if (peek().kind != kind) fail(peek(), "expected " + std::string(tokName(kind)) + " " + context + ", found " + describe(peek()));
    return next();
  }
  void expectEndOfLine(const std::string& context) {
    if (peek().kind != Tok::Newline && peek().kind != Tok::End)
      fail(peek(), "unexpected " + describe(peek()) + " " + context);
    accept(Tok::Newline);
  }

  // line := header | decl | statement | exponentLine
  void parseLine(File& file) {
    const Token& first = peek();
    Section* current = file.sections.empty() ? nullptr : &file.sections.back();
    bool inParametrization = current && current->kind == Section::Kind::Parametrization;
    if (first.kind == Tok::Ident) {
      bool colonNext = peek(1).kind == Tok::Colon;
      bool isHeaderWord = kSectionKeywords.count(first.text) > 0;
      if (isHeaderWord && (colonNext || (first.text == "parametrization" && peek(1).kind == Tok::Ident))) {
        parseHeader(file);
        return;
      }
      if (colonNext && !inParametrization)
        fail(first, "unknown section '" + first.text + "' (expected forward, backward, update or parametrization)");
      if (!current) {
        if (kDeclKeywords.count(first.text)) {
          file.decls.push_back(parseDecl());
          return;
        }
        if (peek(1).kind == Tok::Assign || peek(1).kind == Tok::MinusAssign)
          fail(first, "statement outside a section: put it under 'forward:', 'backward:' or 'update:'");
        fail(first, "unknown declaration '" + first.text + "' (expected width, input, target, param, hyper, output, or a section header)");
      }
      if (kDeclKeywords.count(first.text) && peek(1).kind == Tok::Ident)
        fail(first, "declarations must come before the first section");
    }
    if (!current) fail(first, "expected a declaration or a section header, found " + describe(first));
    if (inParametrization) {
      current->exponents.push_back(parseExponentLine());
      return;
    }
    if ((current->kind == Section::Kind::Backward && current->autoBackward) ||
        (current->kind == Section::Kind::Update && current->sgdHyper))
      fail(first, std::string("the section '") + (current->autoBackward ? "backward: auto" : "update: sgd(...)") +
                      "' takes no statements");
    current->statements.push_back(parseStatement(current->kind == Section::Kind::Update));
  }

  // header := ('forward' | 'backward' ['auto'] | 'update' ['sgd' '(' IDENT ')']) ':' ...
  //         | 'parametrization' IDENT ':'
  void parseHeader(File& file) {
    const Token& word = next();
    Section s;
    s.loc = word.loc;
    if (word.text == "parametrization") {
      s.kind = Section::Kind::Parametrization;
      s.name = expect(Tok::Ident, "(the parametrization's name)").text;
      expect(Tok::Colon, "after the parametrization's name");
      expectEndOfLine("after 'parametrization " + s.name + ":'");
      file.sections.push_back(std::move(s));
      return;
    }
    next();  // ':'
    if (word.text == "forward") {
      s.kind = Section::Kind::Forward;
    } else if (word.text == "backward") {
      s.kind = Section::Kind::Backward;
      if (peek().kind == Tok::Ident) {
        if (peek().text != "auto") fail(peek(), "expected 'auto' or the end of the line after 'backward:', found " + describe(peek()));
        next();
        s.autoBackward = true;
      }
    } else {
      s.kind = Section::Kind::Update;
      if (peek().kind == Tok::Ident) {
        if (peek().text != "sgd") fail(peek(), "expected 'sgd(h)' or the end of the line after 'update:', found " + describe(peek()));
        next();
        expect(Tok::LParen, "after 'sgd'");
        const Token& h = expect(Tok::Ident, "(a hyper, the learning rate) in 'sgd(...)'");
        s.sgdHyper = h.text;
        s.sgdLoc = h.loc;
        expect(Tok::RParen, "to close 'sgd('");
      }
    }
    expectEndOfLine("after the section header");
    file.sections.push_back(std::move(s));
  }

  // dims := '[' dim { ',' dim } ']'      dim := IDENT | NUMBER
  void parseDims(Decl& d) {
    expect(Tok::LBracket, "");
    d.hasShape = true;
    do {
      const Token& t = peek();
      if (t.kind != Tok::Ident && t.kind != Tok::Number)
        fail(t, "expected a dimension (the width's name or a number), found " + describe(t));
      next();
      d.dims.push_back({t.text, t.kind == Tok::Number, t.loc});
    } while (accept(Tok::Comma));
    expect(Tok::RBracket, "to close the shape");
  }

  // decl := 'width' IDENT
  //       | ('input' | 'target') IDENT [dims]
  //       | 'param' IDENT dims ['~' ('N' '(' expr ',' expr ')' | '0')]
  //       | 'hyper' IDENT '=' expr
  //       | 'output' IDENT { ',' IDENT }
  Decl parseDecl() {
    const Token& kw = next();
    Decl d;
    d.loc = kw.loc;
    auto name = [&]() {
      const Token& t = expect(Tok::Ident, "after '" + kw.text + "'");
      d.names.push_back(t.text);
      d.nameLocs.push_back(t.loc);
    };
    if (kw.text == "width") {
      d.kind = Decl::Kind::Width;
      name();
    } else if (kw.text == "input" || kw.text == "target") {
      d.kind = kw.text == "input" ? Decl::Kind::Input : Decl::Kind::Target;
      name();
      if (peek().kind == Tok::LBracket) parseDims(d);
    } else if (kw.text == "param") {
      d.kind = Decl::Kind::Param;
      name();
      if (peek().kind != Tok::LBracket) fail(peek(), "expected a shape like [n, 3] after 'param " + d.names[0] + "'");
      parseDims(d);
      if (accept(Tok::Tilde)) {
        d.initLoc = peek().loc;
        if (peek().kind == Tok::Number) {
          if (next().text != "0") fail(toks_[pos_ - 1], "expected '~ 0' or '~ N(0, v)'");
          d.init = Decl::Init::Zero;
        } else {
          const Token& n = expect(Tok::Ident, "after '~' (expected N(0, v) or 0)");
          if (n.text != "N") fail(n, "unknown distribution '" + n.text + "' (expected N(0, v) or 0)");
          expect(Tok::LParen, "after 'N'");
          d.mean = parseExpr();
          expect(Tok::Comma, "between the mean and the variance of N(mean, variance)");
          d.variance = parseExpr();
          expect(Tok::RParen, "to close 'N('");
          d.init = Decl::Init::Normal;
        }
      }
    } else if (kw.text == "hyper") {
      d.kind = Decl::Kind::Hyper;
      name();
      expect(Tok::Assign, "after the hyper's name (hyper lr = 0.5)");
      d.value = parseExpr();
    } else {
      d.kind = Decl::Kind::Output;
      do name();
      while (accept(Tok::Comma));
    }
    expectEndOfLine("at the end of the declaration");
    return d;
  }

  // statement := IDENT '=' expr        (forward, backward)
  //            | IDENT '-=' expr       (update)
  Statement parseStatement(bool update) {
    Statement s;
    const Token& target = peek();
    if (target.kind != Tok::Ident) fail(target, "expected a statement 'name = expression', found " + describe(target));
    next();
    s.target = target.text;
    s.targetLoc = target.loc;
    s.loc = target.loc;
    const Token& op = peek();
    if (update) {
      if (op.kind == Tok::Assign) fail(op, "an update is written '" + s.target + " -= expression'");
      expect(Tok::MinusAssign, "after '" + s.target + "' (an update is 'P -= expression')");
      s.minusAssign = true;
    } else {
      if (op.kind == Tok::MinusAssign) fail(op, "'-=' is only allowed in the update section; write '" + s.target + " = ...'");
      expect(Tok::Assign, "after '" + s.target + "'");
    }
    s.value = parseExpr();
    expectEndOfLine("after the expression");
    return s;
  }

  // exponentLine := IDENT ':' key '=' expr { ',' key '=' expr }  |  'c' '=' expr
  ExponentLine parseExponentLine() {
    ExponentLine line;
    const Token& first = expect(Tok::Ident, "(a param name, or 'c = ...') in the parametrization block");
    line.loc = first.loc;
    if (peek().kind == Tok::Assign) {
      next();
      line.entries.push_back({first.text, parseExpr(), first.loc});
    } else {
      line.param = first.text;
      expect(Tok::Colon, "after the param name (W1: a = 0, b = 1/2)");
      do {
        const Token& key = expect(Tok::Ident, "(a, b or c)");
        expect(Tok::Assign, "after '" + key.text + "'");
        line.entries.push_back({key.text, parseExpr(), key.loc});
      } while (accept(Tok::Comma));
    }
    expectEndOfLine("in the parametrization block");
    return line;
  }

  ExprPtr make(Expr::Kind kind, SourceLoc loc, std::string text = "", char op = 0) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc;
    e->text = std::move(text);
    e->op = op;
    return e;
  }

  // expr := term { ('+' | '-') term }
  ExprPtr parseExpr() {
    ExprPtr left = parseTerm();
    while (peek().kind == Tok::Plus || peek().kind == Tok::Minus) {
      const Token& op = next();
      auto e = make(Expr::Kind::Binary, op.loc, "", op.kind == Tok::Plus ? '+' : '-');
      e->args.push_back(std::move(left));
      e->args.push_back(parseTerm());
      left = std::move(e);
    }
    return left;
  }

  // term := unary { ('*' | '/' | '@') unary }
  ExprPtr parseTerm() {
    ExprPtr left = parseUnary();
    while (peek().kind == Tok::Star || peek().kind == Tok::Slash || peek().kind == Tok::At) {
      const Token& op = next();
      char c = op.kind == Tok::Star ? '*' : op.kind == Tok::Slash ? '/' : '@';
      auto e = make(Expr::Kind::Binary, op.loc, "", c);
      e->args.push_back(std::move(left));
      e->args.push_back(parseUnary());
      left = std::move(e);
    }
    return left;
  }

  // unary := '-' unary | power
  ExprPtr parseUnary() {
    if (peek().kind == Tok::Minus) {
      const Token& op = next();
      auto e = make(Expr::Kind::Unary, op.loc, "", '-');
      e->args.push_back(parseUnary());
      return e;
    }
    return parsePower();
  }

  // power := postfix [ '**' unary ]
  ExprPtr parsePower() {
    ExprPtr base = parsePostfix();
    if (peek().kind == Tok::StarStar) {
      const Token& op = next();
      auto e = make(Expr::Kind::Binary, op.loc, "", '^');
      e->args.push_back(std::move(base));
      e->args.push_back(parseUnary());
      return e;
    }
    return base;
  }

  // postfix := primary [ '.' 'T' ]
  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    if (peek().kind == Tok::Dot) {
      const Token& dot = next();
      const Token& t = peek();
      if (t.kind != Tok::Ident || t.text != "T") fail(t, "expected 'T' after '.' (as in W.T @ v), found " + describe(t));
      next();
      auto tr = make(Expr::Kind::Transpose, dot.loc);
      tr->args.push_back(std::move(e));
      return tr;
    }
    return e;
  }

  // primary := NUMBER | IDENT | IDENT '(' [expr { ',' expr }] ')' | '(' expr ')'
  ExprPtr parsePrimary() {
    const Token& t = peek();
    if (t.kind == Tok::Number) {
      next();
      return make(Expr::Kind::Number, t.loc, t.text);
    }
    if (t.kind == Tok::Ident) {
      next();
      if (peek().kind != Tok::LParen) return make(Expr::Kind::Name, t.loc, t.text);
      next();
      auto call = make(Expr::Kind::Call, t.loc, t.text);
      if (peek().kind != Tok::RParen) {
        do call->args.push_back(parseExpr());
        while (accept(Tok::Comma));
      }
      expect(Tok::RParen, "to close the call of '" + t.text + "'");
      return call;
    }
    if (t.kind == Tok::LParen) {
      next();
      ExprPtr inner = parseExpr();
      expect(Tok::RParen, "to close '('");
      return inner;
    }
    fail(t, "expected an expression, found " + describe(t));
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  Diagnostics& diags_;
};

}  // namespace

File parse(std::string_view source, const std::string& path, Diagnostics& diags) {
  return Parser(lex(source, diags), diags).parseFile(path);
}

}  // namespace tp::frontend
