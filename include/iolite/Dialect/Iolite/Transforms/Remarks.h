//===- Remarks.h - Remarks of the graph passes ------------------*- C++ -*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The graph passes explain their decisions ("fused into ...", "not fused
// because ...", near misses of the raising patterns) through one collector.
// Each remark goes to MLIR's optimization-remark engine (mlir::remark, active
// when a tool enables it, e.g. iolite-opt --remarks-filter=iolite) and, when
// the pass's `remarks` option is set, to the diagnostic engine as a
// `remark:` at the op's source location. Pattern drivers may try the same
// rewrite several times; the collector reports each distinct remark once.
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_DIALECT_IOLITE_TRANSFORMS_REMARKS_H
#define IOLITE_DIALECT_IOLITE_TRANSFORMS_REMARKS_H

#include "mlir/IR/Location.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/Twine.h"
#include <set>
#include <string>

namespace mlir {
namespace iolite {

/// What a remark reports.
enum class RemarkKind {
  /// A rewrite or fusion that was done.
  Passed,
  /// A candidate left alone, with the reason.
  Missed,
  /// A measurement (kernel summaries, memory plan numbers).
  Analysis,
};

/// Collects the remarks of one pass run and emits each distinct one once.
class RemarkCollector {
public:
  /// `category` names the pass (the remark engine filters on it);
  /// `asDiagnostics` also emits every remark as a diagnostic.
  RemarkCollector(StringRef category, bool asDiagnostics);
  RemarkCollector(const RemarkCollector &) = delete;
  RemarkCollector &operator=(const RemarkCollector &) = delete;
  ~RemarkCollector();

  /// Records a remark called `name` (a short identifier such as
  /// "attention") at `loc`.
  void report(RemarkKind kind, Location loc, StringRef name,
              const Twine &message);
  void passed(Location loc, StringRef name, const Twine &message) {
    report(RemarkKind::Passed, loc, name, message);
  }
  void missed(Location loc, StringRef name, const Twine &message) {
    report(RemarkKind::Missed, loc, name, message);
  }
  void analysis(Location loc, StringRef name, const Twine &message) {
    report(RemarkKind::Analysis, loc, name, message);
  }

  /// Emits the remarks recorded so far, in the order they were first
  /// recorded. Also done by the destructor.
  void flush();

private:
  struct Entry {
    RemarkKind kind;
    Location loc;
    std::string name;
    std::string message;
  };
  std::string category;
  bool asDiagnostics;
  SmallVector<Entry> entries;
  std::set<std::string> seen;
};

} // namespace iolite
} // namespace mlir

#endif // IOLITE_DIALECT_IOLITE_TRANSFORMS_REMARKS_H
