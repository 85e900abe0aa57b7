#include "core/inline_execution.h"

namespace inferd {
namespace {
thread_local InlineExecutionBudget* t_budget = nullptr;
}  // namespace

InlineExecutionScope::InlineExecutionScope(InlineExecutionBudget* budget) : previous_(t_budget) {
  t_budget = budget;
}

InlineExecutionScope::~InlineExecutionScope() { t_budget = previous_; }

InlineExecutionBudget* InlineExecutionScope::Current() { return t_budget; }

}  // namespace inferd
