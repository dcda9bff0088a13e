//===- Remarks.cpp - Remarks of the graph passes --------------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Remarks.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Remarks.h"

using namespace mlir;
using namespace mlir::iolite;

RemarkCollector::RemarkCollector(StringRef category, bool asDiagnostics)
    : category(category.str()), asDiagnostics(asDiagnostics) {}

RemarkCollector::~RemarkCollector() { flush(); }

void RemarkCollector::report(RemarkKind kind, Location loc, StringRef name,
                             const Twine &message) {
  std::string text = message.str();
  // The same location, kind and text is one remark however often a pattern
  // driver revisits the op.
  std::string key =
      std::to_string(reinterpret_cast<uintptr_t>(loc.getAsOpaquePointer())) +
      "|" + std::to_string(static_cast<int>(kind)) + "|" + text;
  if (!seen.insert(key).second)
    return;
  entries.push_back({kind, loc, name.str(), std::move(text)});
}

void RemarkCollector::flush() {
  for (const Entry &e : entries) {
    auto opts = remark::RemarkOpts::name(e.name).category(category);
    switch (e.kind) {
    case RemarkKind::Passed:
      remark::passed(e.loc, opts) << StringRef(e.message);
      break;
    case RemarkKind::Missed:
      remark::missed(e.loc, opts) << StringRef(e.message);
      break;
    case RemarkKind::Analysis:
      remark::analysis(e.loc, opts) << StringRef(e.message);
      break;
    }
    if (asDiagnostics)
      emitRemark(e.loc) << e.message;
  }
  entries.clear();
}
