// Stability, nontriviality and the regime of a program, with the reasons behind each verdict.
#include "compiler/passes/Classify.h"

#include <set>

namespace tp::passes {

using ir::Op;
using ir::Program;
using ir::Value;
using ir::ValueId;

namespace {

/// "n^(1/2)", "Θ(1)", "exactly zero".
std::string power(const Exponent& e) {
  if (e.isZero()) return "0 (exactly, or faster than any power)";
  if (e.isInfinite()) return "faster than any power of n";
  if (e.value() == 0) return "Θ(1)";
  return "n^(" + e.str() + ")";
}

/// A named value at one step: where it is, and its exponents.
struct Site {
  std::string name;
  int t = 0;
  int line = 0;
  ValueExponents e;
};

std::string at(const Site& s) {
  return s.name + " at step " + std::to_string(s.t) + (s.line > 0 ? " (line " + std::to_string(s.line) + ")" : "");
}

class Classifier {
public:
  Classifier(const Program& p, const std::vector<ValueExponents>& e) : p_(p), e_(e) {}

  Classification run() {
    collectSites();
    c_.steps = p_.steps;
    bool blowsUp = checkInitialisation();
    blowsUp = checkTraining() || blowsUp;
    c_.stable = !blowsUp;
    checkOutputMoves();
    checkFeaturesMove();
    c_.regime = !c_.stable ? "unstable" : !c_.nontrivial ? "trivial" : c_.r == Exponent::of(0) ? "feature_learning" : "kernel";
    layers();
    return c_;
  }

private:
  /// Per named value and step, the largest exponents over examples; the
  /// forward width vectors and the outputs are remembered for the verdicts.
  void collectSites() {
    std::map<std::pair<std::string, int>, size_t> index;
    std::set<ValueId> outputs;
    for (const auto& r : p_.results)
      if (r.kind == ir::Result::Kind::Output) outputs.insert(r.value);
    for (size_t i = 0; i < p_.values.size(); ++i) {
      const Value& v = p_.values[i];
      bool output = outputs.count(static_cast<ValueId>(i)) > 0;
      if (v.label.empty() && !output) continue;
      std::string name = v.label.empty() ? "output" : v.label;
      auto key = std::make_pair(name, v.step);
      auto [it, fresh] = index.emplace(key, sites_.size());
      if (fresh) {
        sites_.push_back({name, v.step, v.loc.line, e_[i]});
        forward_.push_back(v.section == ir::Section::Forward && v.type.isWidth());
        output_.push_back(output);
      } else {
        Site& s = sites_[it->second];
        s.e.init = maxOf(s.e.init, e_[i].init);
        s.e.update = maxOf(s.e.update, e_[i].update);
        output_[it->second] = output_[it->second] || output;
      }
    }
    std::map<std::string, size_t> order;
    for (const auto& s : sites_) {
      auto [it, fresh] = order.emplace(s.name, c_.values.size());
      if (fresh) c_.values.push_back({s.name, {}});
      c_.values[it->second].second.push_back({s.t, s.e});
    }
  }

  /// Forward width vectors exactly Θ(1) and outputs O(1) at initialisation. True when violated.
  bool checkInitialisation() {
    bool bad = false;
    for (size_t k = 0; k < sites_.size(); ++k) {
      const Site& s = sites_[k];
      if (s.t != 0) continue;
      const Exponent& e = s.e.init;
      if (forward_[k] && !(e == Exponent::of(0))) {
        c_.reasons.push_back("unstable: " + at(s) + " is " + power(e) + " at initialisation, not Θ(1)");
        bad = true;
      } else if (output_[k] && e > Exponent::of(0)) {
        c_.reasons.push_back("unstable: the output " + at(s) + " grows like " + power(e) + " at initialisation");
        bad = true;
      }
    }
    return bad;
  }

  /// No forward vector or output moves by more than Θ(1). True when violated (first step per value).
  bool checkTraining() {
    bool bad = false;
    std::set<std::string> reported;
    for (size_t k = 0; k < sites_.size(); ++k) {
      const Site& s = sites_[k];
      if (s.t == 0 || !(forward_[k] || output_[k]) || !(s.e.update > Exponent::of(0))) continue;
      bad = true;
      if (reported.insert(s.name).second)
        c_.reasons.push_back("unstable: " + at(s) + " moves by " + power(s.e.update) + " during training");
    }
    return bad;
  }

  void checkOutputMoves() {
    const Site* largest = nullptr;
    for (size_t k = 0; k < sites_.size(); ++k)
      if (output_[k] && sites_[k].t > 0 && (!largest || sites_[k].e.update > largest->e.update)) largest = &sites_[k];
    c_.nontrivial = largest && largest->e.update >= Exponent::of(0);
    if (!largest) {
      c_.reasons.push_back("trivial: no output is reported after a training step");
    } else if (c_.nontrivial && c_.stable) {
      c_.reasons.push_back("nontrivial: the output " + at(*largest) + " moves by Θ(1)");
    } else if (!c_.nontrivial) {
      c_.reasons.push_back("trivial: the largest change of an output, " + at(*largest) + ", is " +
                           power(largest->e.update));
    }
  }

  void checkFeaturesMove() {
    const Site* largest = nullptr;
    for (size_t k = 0; k < sites_.size(); ++k)
      if (forward_[k] && sites_[k].t > 0 && (!largest || sites_[k].e.update > largest->e.update)) largest = &sites_[k];
    c_.r = largest ? largest->e.update.times(-1) : Exponent::infinite();
    if (!c_.stable || !c_.nontrivial || !largest) return;
    if (c_.r == Exponent::of(0))
      c_.reasons.push_back("feature learning: " + at(*largest) + " moves by Θ(1)");
    else
      c_.reasons.push_back("kernel regime: the largest change of a forward vector, " + at(*largest) + ", is " +
                           power(largest->e.update));
  }

  /// Per param: r_l from its correction terms (values `Scale(P) · …` in the
  /// forward pass and in vector updates), feature learning from the width
  /// vectors its products make.
  void layers() {
    for (const auto& param : p_.params) {
      LayerVerdict l;
      l.param = param.name;
      Exponent largestTerm = Exponent::zero();
      for (size_t i = 0; i < p_.values.size(); ++i) {
        const Value& v = p_.values[i];
        if (v.section == ir::Section::Backward || v.step < 1) continue;
        if (isCorrection(v, param.name)) largestTerm = maxOf(largestTerm, e_[i].total());
        if (v.type.isWidth() && madeBy(v, param.name) && e_[i].update == Exponent::of(0)) l.featureLearning = true;
      }
      l.r = largestTerm.times(-1);
      c_.layers.push_back(l);
    }
  }

  /// `Scale(P) · E`: a term an update of P adds.
  bool isCorrection(const Value& v, const std::string& param) const {
    return v.op == Op::Mul && p_.at(v.operands[0]).op == Op::Scale && p_.at(v.operands[0]).name == param;
  }

  /// A product with P, or an initial value minus P's correction terms.
  bool madeBy(const Value& v, const std::string& param) const {
    if (v.op == Op::MatVec || v.op == Op::MatTVec) return p_.at(v.operands[0]).name == param;
    return v.op == Op::Sub && isCorrection(p_.at(v.operands[1]), param);
  }

  const Program& p_;
  const std::vector<ValueExponents>& e_;
  std::vector<Site> sites_;
  std::vector<bool> forward_, output_;
  Classification c_;
};

}  // namespace

Classification classify(const Program& netsor, const std::vector<ValueExponents>& exponents) {
  TP_ASSERT(exponents.size() == netsor.values.size(), "classify: one exponent entry per value");
  return Classifier(netsor, exponents).run();
}

}  // namespace tp::passes
