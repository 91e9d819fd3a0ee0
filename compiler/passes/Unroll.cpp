// Unrolling of the per-step program over steps, batch examples and eval examples.
#include "compiler/passes/Unroll.h"

#include <map>

#include "compiler/ir/Builder.h"

namespace tp::passes {

using ir::Op;
using ir::OpAttrs;
using ir::Program;
using ir::Value;
using ir::ValueId;

int effectiveBatch(const Schedule& s) { return s.batch > 0 ? s.batch : s.trainCount; }

namespace {

class Unroller {
public:
  Unroller(const Program& step, const Schedule& s) : step_(step), s_(s), b_(out_) {
    out_ = step;
    out_.values.clear();
    out_.names.clear();
    out_.updates.clear();
    out_.loss = ir::kNoValue;
    out_.stage = ir::Stage::Unrolled;
    out_.steps = s.steps;
    out_.batch = effectiveBatch(s);
    // Which per-step values the eval forward needs: the outputs' dependencies.
    std::vector<ValueId> outputs;
    for (const auto& name : step.outputs) outputs.push_back(step.names.at(name));
    evalNeeded_ = ir::liveValues(step, outputs);
    trainNeeded_.assign(step.values.size(), false);
    for (size_t i = 0; i < step.values.size(); ++i) trainNeeded_[i] = step.values[i].op != Op::Update;
    for (size_t i = 0; i < step.values.size(); ++i)
      if (evalNeeded_[i] && step.values[i].op == Op::Input && step.findInput(step.values[i].name)->isTarget &&
          !s.evalHasTargets)
        throw UserError("an output depends on target '" + step.values[i].name +
                        "', but the data's eval split gives no targets: add them to \"eval\"");
  }

  Program run() {
    // 1. Initial params.
    for (const auto& p : step_.params) {
      OpAttrs a;
      a.name = p.name;
      current_[p.name] = b_.add(Op::Param, {}, a, p.loc);
    }
    int batch = out_.batch;
    for (int t = 0; t <= s_.steps; ++t) {
      b_.step = t;
      // 2. Forward and backward on each example of the batch.
      std::vector<std::vector<ValueId>> perExample;
      for (int slot = 0; slot < batch; ++slot) {
        int example = (t * batch + slot) % s_.trainCount;
        std::vector<ValueId> clone = cloneStep(trainNeeded_, ir::Split::Train, example);
        if (step_.loss != ir::kNoValue)
          out_.results.push_back({ir::Result::Kind::Loss, "loss", t, slot, clone[static_cast<size_t>(step_.loss)]});
        perExample.push_back(std::move(clone));
      }
      // 3. Outputs on the eval examples.
      for (int e = 0; e < s_.evalCount; ++e) {
        std::vector<ValueId> clone = cloneStep(evalNeeded_, ir::Split::Eval, e);
        for (const auto& name : step_.outputs)
          out_.results.push_back({ir::Result::Kind::Output, name, t, e, clone[static_cast<size_t>(step_.names.at(name))]});
      }
      if (t == s_.steps) break;
      // 4. Updates from the batch mean of each update expression, all from pre-step values.
      b_.example = -1;
      b_.split = ir::Split::None;
      std::map<std::string, ValueId> next = current_;
      for (const auto& [name, updateId] : step_.updates) {
        const Value& u = step_.at(updateId);
        std::vector<ValueId> terms;
        for (const auto& clone : perExample) terms.push_back(clone[static_cast<size_t>(u.operands[1])]);
        b_.section = ir::Section::Update;
        ValueId mean = b_.add(Op::BatchMean, terms, {}, u.loc);
        OpAttrs a;
        a.name = name;
        next[name] = b_.add(Op::Update, {current_.at(name), mean}, a, u.loc);
        out_.values.back().label = name;
      }
      current_ = next;
    }
    std::vector<ValueId> roots;
    for (const auto& r : out_.results) roots.push_back(r.value);
    return ir::compact(out_, ir::liveValues(out_, roots));
  }

private:
  /// Copies the needed per-step values for one example; returns old → new ids.
  std::vector<ValueId> cloneStep(const std::vector<bool>& needed, ir::Split split, int example) {
    b_.split = split;
    b_.example = example;
    std::vector<ValueId> map(step_.values.size(), ir::kNoValue);
    for (size_t i = 0; i < step_.values.size(); ++i) {
      if (!needed[i]) continue;
      const Value& v = step_.values[i];
      b_.section = v.section;
      if (v.op == Op::Param) {
        map[i] = current_.at(v.name);
        continue;
      }
      std::vector<ValueId> ops;
      for (ValueId op : v.operands) ops.push_back(map[static_cast<size_t>(op)]);
      map[i] = b_.add(v.op, ops, ir::attrsOf(v), v.loc);
      out_.values.back().label = v.label;
    }
    return map;
  }

  const Program& step_;
  Schedule s_;
  Program out_;
  ir::Builder b_;
  std::vector<bool> evalNeeded_, trainNeeded_;
  std::map<std::string, ValueId> current_;
};

}  // namespace

Program unroll(const Program& differentiated, const Schedule& schedule) {
  TP_ASSERT(differentiated.stage == ir::Stage::Differentiated, "unroll expects a differentiated program");
  TP_ASSERT(schedule.trainCount > 0 && schedule.evalCount > 0 && schedule.steps >= 0, "bad schedule");
  return Unroller(differentiated, schedule).run();
}

}  // namespace tp::passes
