//===- FormKernels.cpp - Partition functions into iolite.kernel regions ---===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// The partition starts with one group per op and merges groups in phases,
// each merge checked for convexity (no path leaves the group and comes
// back, so the kernels form a DAG), for the kernel shapes the generators
// handle, and against the target's on-chip limits (FusionPolicy.cpp):
//
//   1. matmuls sharing their LHS;
//   2. a norm whose every use is that shared LHS (norm prologue);
//   3. attention and scans take their cheap producers (RoPE, reshapes,
//      transposes, softplus of delta, conv1d + SiLU of Mamba-2);
//   4. expensive ops, last first, take their pointwise consumers with cheap
//      side inputs (bias, activation, residual, gating, casts) and, after a
//      matmul whose output rows fit on chip, row-wise ops (softmax, top-k);
//   5. expensive ops take the cheap producers only they use (views of their
//      operands);
//   6. leftover cheap ops join a neighbouring group or form elementwise
//      kernels.
//
// Each op belongs to one group, so nothing is computed twice: a value that
// several kernels read is the result of the one kernel that computes it.
//
//===----------------------------------------------------------------------===//

#include "iolite/Dialect/Iolite/Transforms/Fusion.h"
#include "iolite/Dialect/Iolite/Transforms/Passes.h"

#include "MatchUtils.h"

#include "mlir/Analysis/TopologicalSortUtils.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir {
namespace iolite {
#define GEN_PASS_DEF_IOLITEFORMKERNELSPASS
#include "iolite/Dialect/Iolite/Transforms/Passes.h.inc"
} // namespace iolite
} // namespace mlir

using namespace mlir;
using namespace mlir::iolite;
using raising::locStr;

namespace {

bool isHeavyClass(FusionOpClass c) {
  return !isCheapFusionClass(c) && c != FusionOpClass::Constant &&
         c != FusionOpClass::Opaque;
}

std::string describe(Operation *op) {
  return ("'" + op->getName().getStringRef() + "' (" + locStr(op->getLoc()) +
          ")")
      .str();
}

/// A fusion decision, reported once kernel names are known.
struct Decision {
  Operation *op;
  Operation *anchor;
  std::string role;
};

class Partitioner {
public:
  Partitioner(Block &block, const FormKernelsOptions &options)
      : block(block), options(options) {
    for (Operation &op : block) {
      pos[&op] = order.size();
      order.push_back(&op);
      classes.push_back(classifyForFusion(&op));
    }
    groupOf.resize(order.size());
    members.resize(order.size());
    for (unsigned i = 0; i < order.size(); ++i) {
      groupOf[i] = i;
      if (isGrouped(i))
        members[i].push_back(i);
    }
  }

  void run() {
    if (!options.fuse)
      return;
    fuseSharedLhsMatmuls();
    fuseNormPrologues();
    fuseProducers({FusionOpClass::Attention, FusionOpClass::Scan}, "prologue");
    // Contractions, attention, scans and MoE ops first, so that a row-wise
    // op after a matmul joins the matmul before it gathers its own
    // epilogue.
    fuseEpilogues({FusionOpClass::Matmul, FusionOpClass::GroupedMatmul,
                   FusionOpClass::Attention, FusionOpClass::Scan,
                   FusionOpClass::MoERouting});
    fuseEpilogues({FusionOpClass::RowReduction});
    fuseProducers({FusionOpClass::Matmul, FusionOpClass::GroupedMatmul,
                   FusionOpClass::Attention, FusionOpClass::RowReduction,
                   FusionOpClass::Scan, FusionOpClass::MoERouting},
                  "prologue");
    fuseLeftovers();
  }

  /// The final groups, each in program order, ordered by first op.
  SmallVector<SmallVector<Operation *>> getGroups() const {
    SmallVector<SmallVector<Operation *>> out;
    for (unsigned i = 0; i < order.size(); ++i) {
      if (!isGrouped(i) || groupOf[i] != i)
        continue;
      SmallVector<Operation *> ops;
      for (unsigned p : members[i])
        ops.push_back(order[p]);
      out.push_back(std::move(ops));
    }
    llvm::sort(out, [&](const auto &a, const auto &b) {
      return pos.lookup(a.front()) < pos.lookup(b.front());
    });
    return out;
  }

  ArrayRef<Decision> getDecisions() const { return decisions; }
  ArrayRef<std::pair<Operation *, std::string>> getMisses() const {
    return misses;
  }

private:
  Block &block;
  const FormKernelsOptions &options;
  SmallVector<Operation *> order;
  SmallVector<FusionOpClass> classes;
  DenseMap<Operation *, unsigned> pos;
  /// Group id of each op (the position of its leader).
  SmallVector<unsigned> groupOf;
  /// Member positions of each leader, sorted.
  SmallVector<SmallVector<unsigned>> members;
  SmallVector<Decision> decisions;
  SmallVector<std::pair<Operation *, std::string>> misses;
  llvm::DenseSet<std::pair<Operation *, Operation *>> reportedPairs;
  llvm::DenseSet<Operation *> explained;

  /// Ops that go into kernels: everything but constants and opaque ops.
  bool isGrouped(unsigned p) const {
    return classes[p] != FusionOpClass::Constant &&
           classes[p] != FusionOpClass::Opaque;
  }
  FusionOpClass cls(Operation *op) const { return classes[pos.lookup(op)]; }
  bool isCheap(Operation *op) const { return isCheapFusionClass(cls(op)); }
  bool isHeavy(Operation *op) const { return isHeavyClass(cls(op)); }
  unsigned gid(Operation *op) const { return groupOf[pos.lookup(op)]; }
  bool grouped(Operation *op) const {
    auto it = pos.find(op);
    return it != pos.end() && isGrouped(it->second);
  }
  bool isSingleton(Operation *op) const { return members[gid(op)].size() == 1; }

  /// The op of this block that holds `user` (users may be nested).
  Operation *ancestor(Operation *user) const {
    return block.findAncestorOpInBlock(*user);
  }

  /// Users of `op`'s results, as ops of this block.
  SmallVector<Operation *> usersOf(Operation *op) const {
    SmallVector<Operation *> out;
    for (Operation *u : op->getUsers())
      if (Operation *a = ancestor(u))
        if (!llvm::is_contained(out, a))
          out.push_back(a);
    return out;
  }

  /// The producer of `v` in this block that belongs to a group, or null.
  Operation *groupedProducer(Value v) const {
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &block || !grouped(def))
      return nullptr;
    return def;
  }

  SmallVector<Operation *> heavyOf(ArrayRef<unsigned> gids) const {
    SmallVector<Operation *> out;
    for (unsigned g : gids)
      for (unsigned p : members[g])
        if (isHeavyClass(classes[p]))
          out.push_back(order[p]);
    llvm::sort(out, [&](Operation *a, Operation *b) {
      return pos.lookup(a) < pos.lookup(b);
    });
    return out;
  }

  unsigned maxPos(unsigned g) const { return members[g].back(); }

  /// The op a group is known by: its contraction, attention or scan, else
  /// its first expensive op, else its first op.
  Operation *representative(unsigned g) const {
    SmallVector<Operation *> heavy = heavyOf({g});
    for (Operation *h : heavy) {
      FusionOpClass c = cls(h);
      if (c == FusionOpClass::Matmul || c == FusionOpClass::GroupedMatmul ||
          c == FusionOpClass::Attention || c == FusionOpClass::Scan)
        return h;
    }
    return heavy.empty() ? order[members[g].front()] : heavy.front();
  }

  /// True when some op outside groups `gs` lies on a path from them back
  /// into them; `through` names it.
  bool createsCycle(ArrayRef<unsigned> gs, Operation *&through) const {
    auto inside = [&](unsigned p) {
      return llvm::is_contained(gs, groupOf[p]);
    };
    unsigned limit = 0;
    for (unsigned g : gs)
      limit = std::max(limit, maxPos(g));
    SmallVector<unsigned> stack;
    llvm::DenseSet<unsigned> seen;
    auto push = [&](Operation *op) {
      for (Operation *u : usersOf(op)) {
        unsigned q = pos.lookup(u);
        if (!inside(q) && q < limit && seen.insert(q).second)
          stack.push_back(q);
      }
    };
    for (unsigned g : gs)
      for (unsigned p : members[g])
        push(order[p]);
    while (!stack.empty()) {
      unsigned x = stack.pop_back_val();
      for (Operation *u : usersOf(order[x]))
        if (inside(pos.lookup(u))) {
          through = order[x];
          return true;
        }
      push(order[x]);
    }
    return false;
  }

  /// Checks that groups `gs` may form one kernel.
  bool canMerge(ArrayRef<unsigned> gs, std::string &why) const {
    Operation *through = nullptr;
    if (createsCycle(gs, through)) {
      why = "it would create a cycle between kernels through " +
            describe(through);
      return false;
    }
    SmallVector<Operation *> heavy = heavyOf(gs);
    if (heavy.size() < 2)
      return true;
    SmallVector<Operation *> ops;
    for (unsigned g : gs)
      for (unsigned p : members[g])
        ops.push_back(order[p]);
    // The kernel must fit every target the graph is compiled for.
    for (const TargetDescription *target : options.targets) {
      FailureOr<KernelFootprint> fp =
          estimateKernelFootprint(ops, heavy, *target, why);
      if (failed(fp) || !footprintFits(*fp, *target, why))
        return false;
    }
    return true;
  }

  void merge(ArrayRef<unsigned> gs) {
    unsigned into = gs.front();
    for (unsigned g : gs.drop_front()) {
      if (g == into)
        continue;
      for (unsigned p : members[g]) {
        groupOf[p] = into;
        members[into].push_back(p);
      }
      members[g].clear();
    }
    llvm::sort(members[into]);
  }

  /// Merges the groups of `ops` into group `g` if allowed; records the
  /// decision with `role` and `anchor`, or the miss when `reportMiss`.
  bool tryMerge(ArrayRef<Operation *> ops, unsigned g, StringRef role,
                Operation *anchor, bool reportMiss,
                std::string *whyOut = nullptr) {
    SmallVector<unsigned> gs{g};
    for (Operation *op : ops)
      if (!llvm::is_contained(gs, gid(op)))
        gs.push_back(gid(op));
    std::string why;
    if (!canMerge(gs, why)) {
      if (whyOut)
        *whyOut = why;
      if (reportMiss)
        miss(ops.front(), anchor, why);
      return false;
    }
    for (Operation *op : ops)
      decisions.push_back({op, anchor, role.str()});
    merge(gs);
    return true;
  }

  void miss(Operation *op, Operation *anchor, const Twine &why) {
    // One remark per op and kernel: name the kernel by its first expensive
    // op (or its first op).
    anchor = representative(gid(anchor));
    if (!reportedPairs.insert({op, anchor}).second)
      return;
    misses.push_back(
        {op, ("not fused with " + describe(anchor) + ": " + why).str()});
  }

  //===--------------------------------------------------------------------===//
  // Phase 1: matmuls sharing their LHS
  //===--------------------------------------------------------------------===//

  void fuseSharedLhsMatmuls() {
    for (Operation *op : order) {
      FusionOpClass c = cls(op);
      if (c != FusionOpClass::Matmul && c != FusionOpClass::GroupedMatmul)
        continue;
      if (auto mm = dyn_cast<MatmulOp>(op); mm && mm.getTransposeLhs())
        continue;
      Value lhs = op->getOperand(0);
      // Later matmuls on the same LHS, in program order.
      SmallVector<Operation *> partners;
      for (OpOperand &use : lhs.getUses()) {
        Operation *other = use.getOwner();
        if (other->getBlock() != &block || other == op ||
            use.getOperandNumber() != 0 || cls(other) != c ||
            pos.lookup(other) < pos.lookup(op) || gid(other) == gid(op) ||
            llvm::is_contained(partners, other))
          continue;
        if (auto mm = dyn_cast<MatmulOp>(other); mm && mm.getTransposeLhs())
          continue;
        partners.push_back(other);
      }
      llvm::sort(partners, [&](Operation *a, Operation *b) {
        return pos.lookup(a) < pos.lookup(b);
      });
      for (Operation *other : partners)
        if (gid(other) != gid(op))
          tryMerge({other}, gid(op), "matmul sharing the LHS", op,
                   /*reportMiss=*/true);
    }
  }

  //===--------------------------------------------------------------------===//
  // Phase 2: norm prologues
  //===--------------------------------------------------------------------===//

  void fuseNormPrologues() {
    for (Operation *norm : order) {
      if (!isa<RmsNormOp, LayerNormOp>(norm) || !isSingleton(norm))
        continue;
      // The pointwise ops between the norm and the matmuls' LHS, and the
      // matmul groups reached.
      SmallVector<Operation *> chain;
      llvm::SetVector<unsigned> targets;
      SmallVector<Operation *> stack{norm};
      Operation *blocker = nullptr;
      while (!stack.empty()) {
        Operation *cur = stack.pop_back_val();
        for (OpOperand &use : cur->getUses()) {
          Operation *user = ancestor(use.getOwner());
          if (!user || !grouped(user)) {
            if (!blocker)
              blocker = user ? user : use.getOwner();
            continue;
          }
          FusionOpClass c = cls(user);
          if ((c == FusionOpClass::Matmul ||
               c == FusionOpClass::GroupedMatmul) &&
              use.getOperandNumber() == 0 && user == use.getOwner()) {
            targets.insert(gid(user));
            continue;
          }
          if (c == FusionOpClass::Pointwise && isSingleton(user)) {
            if (!llvm::is_contained(chain, user)) {
              chain.push_back(user);
              stack.push_back(user);
            }
            continue;
          }
          if (!blocker)
            blocker = user;
        }
      }
      if (targets.empty())
        continue;
      Operation *anchor = order[targets.front()];
      if (blocker) {
        miss(norm, anchor,
             "the norm's result is also used by " + describe(blocker) +
                 "; a norm is a reduction and is computed once");
        continue;
      }
      if (targets.size() > 1) {
        miss(norm, anchor,
             llvm::formatv("the norm feeds matmuls in {0} kernels; a norm is "
                           "a reduction and is computed once",
                           targets.size())
                 .str());
        continue;
      }
      SmallVector<Operation *> batch{norm};
      batch.append(chain);
      tryMerge(batch, targets.front(), "norm prologue", anchor,
               /*reportMiss=*/true);
    }
  }

  //===--------------------------------------------------------------------===//
  // Phases 3 and 5: cheap producers used only inside
  //===--------------------------------------------------------------------===//

  /// True when every user of `op` is in group `g`.
  bool allUsersIn(Operation *op, unsigned g, Operation *&outside) const {
    for (Operation *u : usersOf(op))
      if (!grouped(u) || gid(u) != g) {
        outside = u;
        return false;
      }
    return true;
  }

  void fuseProducers(ArrayRef<FusionOpClass> rootClasses, StringRef role) {
    for (Operation *root : llvm::reverse(order)) {
      if (!llvm::is_contained(rootClasses, cls(root)))
        continue;
      bool changed = true;
      while (changed) {
        changed = false;
        unsigned g = gid(root);
        SmallVector<Operation *> candidates;
        for (unsigned p : members[g])
          for (Value v : order[p]->getOperands())
            if (Operation *def = groupedProducer(v))
              if (gid(def) != g && isCheap(def) && isSingleton(def) &&
                  !llvm::is_contained(candidates, def))
                candidates.push_back(def);
        // Closest producers first.
        llvm::sort(candidates, [&](Operation *a, Operation *b) {
          return pos.lookup(a) > pos.lookup(b);
        });
        for (Operation *def : candidates) {
          Operation *outside = nullptr;
          if (!allUsersIn(def, gid(root), outside)) {
            // Views read by several kernels are copied into each of them
            // (duplicateViews), so they are not materialised either.
            if (isHeavy(root) && outside && grouped(outside) &&
                !isCheap(outside) && cls(def) != FusionOpClass::View)
              miss(def, root,
                   "its result is also used by " + describe(outside) +
                       ", so it is materialised for both");
            continue;
          }
          if (tryMerge({def}, gid(root), role, root, /*reportMiss=*/true)) {
            changed = true;
            break;
          }
        }
      }
    }
  }

  //===--------------------------------------------------------------------===//
  // Phase 4: epilogues
  //===--------------------------------------------------------------------===//

  /// Cheap single-use producers of `user`'s other operands that can come
  /// along into group `g` (bias, residual, the silu(z) of a gate, D * u).
  void collectSideInputs(Operation *user, unsigned g,
                         SmallVectorImpl<Operation *> &side, unsigned depth) {
    if (depth == 0)
      return;
    for (Value v : user->getOperands()) {
      Operation *def = groupedProducer(v);
      if (!def || gid(def) == g || !isCheap(def) || !isSingleton(def) ||
          llvm::is_contained(side, def))
        continue;
      bool onlyHere = llvm::all_of(usersOf(def), [&](Operation *u) {
        return u == user || llvm::is_contained(side, u) ||
               (grouped(u) && gid(u) == g);
      });
      if (!onlyHere)
        continue;
      side.push_back(def);
      collectSideInputs(def, g, side, depth - 1);
    }
  }

  /// True when `user` computes each element from the same element of the
  /// group's value it reads (no widening of that value), or is a reshape.
  bool isPointwiseEpilogue(Operation *user, unsigned g) const {
    // A reshape relabels the linear index: the epilogue stores the same
    // element under another shape.
    if (isa<ReshapeOp>(user))
      return true;
    FusionOpClass c = cls(user);
    if (c != FusionOpClass::Pointwise)
      return false;
    // Some value of the group must have the result's shape: the epilogue
    // runs over the group's elements; other group values (a row statistic)
    // may broadcast.
    auto resultShape =
        cast<RankedTensorType>(user->getResult(0).getType()).getShape();
    for (Value v : user->getOperands()) {
      Operation *def = groupedProducer(v);
      if (def && gid(def) == g &&
          cast<RankedTensorType>(v.getType()).getShape() == resultShape)
        return true;
    }
    return false;
  }

  void fuseEpilogues(ArrayRef<FusionOpClass> rootClasses) {
    for (Operation *root : llvm::reverse(order)) {
      if (!llvm::is_contained(rootClasses, cls(root)))
        continue;
      bool changed = true;
      while (changed) {
        changed = false;
        unsigned g = gid(root);
        SmallVector<Operation *> users;
        for (unsigned p : members[g])
          for (Operation *u : usersOf(order[p]))
            if (grouped(u) && gid(u) != g && !llvm::is_contained(users, u))
              users.push_back(u);
        llvm::sort(users, [&](Operation *a, Operation *b) {
          return pos.lookup(a) < pos.lookup(b);
        });
        for (Operation *user : users) {
          if (!isSingleton(user)) {
            if (isHeavy(user))
              explainBoundary(user, root);
            continue;
          }
          if (isPointwiseEpilogue(user, g)) {
            SmallVector<Operation *> side;
            collectSideInputs(user, g, side, /*depth=*/4);
            SmallVector<Operation *> batch{user};
            batch.append(side);
            std::string why;
            if (tryMerge(batch, g, "epilogue", root, /*reportMiss=*/false,
                         &why) ||
                (!side.empty() && tryMerge({user}, g, "epilogue", root,
                                           /*reportMiss=*/false, &why))) {
              changed = true;
              break;
            }
            miss(user, root, why);
            continue;
          }
          if (cls(user) == FusionOpClass::RowReduction &&
              !isa<RmsNormOp, LayerNormOp>(user) &&
              llvm::any_of(heavyOf({g}),
                           [&](Operation *h) { return isa<MatmulOp>(h); })) {
            if (tryMerge({user}, g, "row-wise epilogue", root,
                         /*reportMiss=*/true)) {
              changed = true;
              break;
            }
            continue;
          }
          if (isHeavy(user))
            explainBoundary(user, root);
        }
      }
    }
  }

  /// Reports why the expensive `user` starts a kernel of its own after
  /// `root`'s.
  void explainBoundary(Operation *user, Operation *root) {
    // One explanation per expensive op: from its nearest producer kernel,
    // which the reverse walk over roots reaches first.
    if (!explained.insert(user).second)
      return;
    if (isa<RmsNormOp, LayerNormOp>(user)) {
      miss(user, root,
           "a norm joins the kernel of the matmuls that read it, as their "
           "prologue");
      return;
    }
    SmallVector<Operation *> heavy = heavyOf({gid(root)});
    SmallVector<Operation *> ops;
    for (unsigned p : members[gid(root)])
      ops.push_back(order[p]);
    heavy.push_back(user);
    ops.push_back(user);
    std::string why;
    if (failed(
            estimateKernelFootprint(ops, heavy, *options.targets.front(), why)))
      miss(user, root, why);
  }

  //===--------------------------------------------------------------------===//
  // Phase 6: leftovers
  //===--------------------------------------------------------------------===//

  void fuseLeftovers() {
    bool changed = true;
    while (changed) {
      changed = false;
      for (Operation *op : order) {
        if (!grouped(op) || !isCheap(op) || !isSingleton(op))
          continue;
        // Into the one group that reads it (a prologue) ...
        SmallVector<unsigned> userGroups;
        bool onlyGrouped = true;
        for (Operation *u : usersOf(op)) {
          if (!grouped(u)) {
            onlyGrouped = false;
            continue;
          }
          if (!llvm::is_contained(userGroups, gid(u)))
            userGroups.push_back(gid(u));
        }
        if (onlyGrouped && userGroups.size() == 1 &&
            tryMerge({op}, userGroups.front(), "prologue",
                     order[userGroups.front()], /*reportMiss=*/false)) {
          changed = true;
          continue;
        }
        // ... or into a producer's group: an elementwise chain, or a
        // pointwise epilogue of an expensive op.
        for (Value v : op->getOperands()) {
          Operation *def = groupedProducer(v);
          if (!def)
            continue;
          unsigned g = gid(def);
          bool cheapGroup = heavyOf({g}).empty();
          if (!cheapGroup && !isPointwiseEpilogue(op, g))
            continue;
          if (tryMerge({op}, g, cheapGroup ? "elementwise chain" : "epilogue",
                       def, /*reportMiss=*/false)) {
            changed = true;
            break;
          }
        }
      }
    }
  }
};

/// A C identifier from `s`.
std::string sanitize(StringRef s) {
  std::string out;
  for (char c : s)
    out.push_back(llvm::isAlnum(c) ? c : '_');
  if (out.empty() || llvm::isDigit(out.front()))
    out.insert(out.begin(), '_');
  return out;
}

/// What a kernel is named after: its expensive op, its conv1d, or
/// "elementwise".
std::string kernelKind(ArrayRef<Operation *> ops) {
  Operation *first = nullptr;
  for (Operation *op : ops) {
    FusionOpClass c = classifyForFusion(op);
    if (c == FusionOpClass::Matmul || c == FusionOpClass::GroupedMatmul ||
        c == FusionOpClass::Attention || c == FusionOpClass::Scan)
      return op->getName().stripDialect().str();
    if (!first && isHeavyClass(c))
      first = op;
  }
  if (first)
    return first->getName().stripDialect().str();
  // A cheap-only kernel is elementwise, unless it runs a convolution window.
  for (Operation *op : ops)
    if (isa<Conv1dOp>(op))
      return "conv1d";
  return "elementwise";
}

/// "attention, rotary x2, transpose x3" for summaries.
std::string summarizeOps(ArrayRef<Operation *> ops) {
  llvm::MapVector<StringRef, unsigned> counts;
  for (Operation *op : ops)
    ++counts[op->getName().stripDialect()];
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(counts, os, [&](const auto &kv) {
    os << kv.first;
    if (kv.second > 1)
      os << " x" << kv.second;
  });
  return s;
}

bool isSmallConstant(ConstantOp c, int64_t maxElements) {
  ElementsAttr value = c.getValue();
  if (auto dense = dyn_cast<DenseElementsAttr>(value); dense && dense.isSplat())
    return true;
  return value.getNumElements() <= maxElements;
}

/// Builds the kernel of `ops` (a convex group in program order).
KernelOp buildKernel(RewriterBase &rewriter, ArrayRef<Operation *> ops,
                     const FormKernelsOptions &options) {
  llvm::SmallPtrSet<Operation *, 32> inGroup(ops.begin(), ops.end());
  llvm::SetVector<Value> inputs;
  for (Operation *op : ops)
    for (Value v : op->getOperands()) {
      Operation *def = v.getDefiningOp();
      if (def && inGroup.contains(def))
        continue;
      if (auto c = dyn_cast_or_null<ConstantOp>(def);
          c && isSmallConstant(c, options.maxClonedConstantElements))
        continue;
      inputs.insert(v);
    }
  SmallVector<Value> results;
  for (Operation *op : ops)
    for (Value r : op->getResults())
      if (llvm::any_of(r.getUsers(), [&](Operation *u) {
            Operation *a = op->getBlock()->findAncestorOpInBlock(*u);
            return !a || !inGroup.contains(a);
          }))
        results.push_back(r);

  Operation *root = ops.front();
  for (Operation *op : ops)
    if (isHeavyClass(classifyForFusion(op))) {
      root = op;
      break;
    }
  rewriter.setInsertionPoint(ops.back());
  SmallVector<Type> resultTypes;
  for (Value r : results)
    resultTypes.push_back(r.getType());
  auto kernel = KernelOp::create(rewriter, root->getLoc(), "", resultTypes,
                                 inputs.getArrayRef());
  Block &body = kernel.getBody().front();
  IRMapping map;
  for (auto [in, arg] : llvm::zip(inputs, body.getArguments()))
    map.map(in, arg);
  OpBuilder inner = OpBuilder::atBlockEnd(&body);
  for (Operation *op : ops) {
    for (Value v : op->getOperands())
      if (!map.contains(v))
        if (auto c = v.getDefiningOp<ConstantOp>())
          map.map(v, inner.clone(*c)->getResult(0));
    inner.clone(*op, map);
  }
  SmallVector<Value> yielded;
  for (Value r : results)
    yielded.push_back(map.lookup(r));
  YieldOp::create(inner, root->getLoc(), yielded);
  for (auto [r, k] : llvm::zip(results, kernel.getResults()))
    rewriter.replaceUsesWithIf(r, k, [&](OpOperand &use) {
      Operation *a = kernel->getBlock()->findAncestorOpInBlock(*use.getOwner());
      return !a || !inGroup.contains(a);
    });
  for (Operation *op : llvm::reverse(ops))
    rewriter.eraseOp(op);
  return kernel;
}

/// A compiled model's outputs are written by its kernels. A returned value
/// no kernel computes (an argument or a constant returned as is), or a
/// kernel result returned a second time, gets a kernel of its own that
/// copies it (or writes the constant) into that output.
void addCopyKernels(RewriterBase &rewriter, Block &block,
                    SmallVectorImpl<KernelOp> &kernels,
                    SmallVectorImpl<std::string> &summaries) {
  auto ret =
      dyn_cast_or_null<func::ReturnOp>(block.empty() ? nullptr : &block.back());
  if (!ret)
    return;
  llvm::SmallPtrSet<Value, 8> seen;
  for (OpOperand &operand : ret->getOpOperands()) {
    Value v = operand.get();
    bool fromKernel = static_cast<bool>(v.getDefiningOp<KernelOp>());
    if (seen.insert(v).second && fromKernel)
      continue;
    auto type = dyn_cast<RankedTensorType>(v.getType());
    auto constant = v.getDefiningOp<ConstantOp>();
    if (!type || (!fromKernel && !constant && !isa<BlockArgument>(v)))
      continue;
    rewriter.setInsertionPoint(ret);
    SmallVector<Value> inputs;
    if (!constant)
      inputs.push_back(v);
    auto copy =
        KernelOp::create(rewriter, ret.getLoc(), "", TypeRange{type}, inputs);
    Block &body = copy.getBody().front();
    OpBuilder inner = OpBuilder::atBlockEnd(&body);
    Value result = constant ? Value(inner.clone(*constant)->getResult(0))
                            : Value(body.getArgument(0));
    YieldOp::create(inner, ret.getLoc(), ValueRange{result});
    rewriter.modifyOpInPlace(ret, [&] { operand.set(copy.getResult(0)); });
    kernels.push_back(copy);
    summaries.push_back(constant ? "writes a returned constant"
                                 : "copies a value returned as is or twice");
  }
}

/// A group of views only (reshape, transpose, slice, broadcast, concat)
/// read by several other groups costs a kernel that copies a tensor and a
/// round trip of it through memory, where reading through the views costs
/// nothing: give each reading group its own copy of the views. Returns,
/// per emptied group, the groups that received its views.
DenseMap<unsigned, SmallVector<unsigned>>
duplicateViews(RewriterBase &rewriter,
               SmallVectorImpl<SmallVector<Operation *>> &groups) {
  DenseMap<Operation *, unsigned> groupOf;
  for (auto [i, ops] : llvm::enumerate(groups))
    for (Operation *op : ops)
      groupOf[op] = i;
  DenseMap<unsigned, SmallVector<unsigned>> moved;
  for (unsigned g = 0; g < groups.size(); ++g) {
    ArrayRef<Operation *> ops = groups[g];
    if (ops.empty() || !llvm::all_of(ops, [](Operation *op) {
          return classifyForFusion(op) == FusionOpClass::View;
        }))
      continue;
    Block *block = ops.front()->getBlock();
    llvm::SmallPtrSet<Operation *, 8> inGroup(ops.begin(), ops.end());
    llvm::SetVector<unsigned> readers;
    bool onlyGroups = true;
    for (Operation *op : ops)
      for (Operation *u : op->getUsers()) {
        Operation *a = block->findAncestorOpInBlock(*u);
        if (a && inGroup.contains(a))
          continue;
        auto it = a ? groupOf.find(a) : groupOf.end();
        if (it == groupOf.end()) {
          onlyGroups = false;
          break;
        }
        readers.insert(it->second);
      }
    if (!onlyGroups || readers.size() < 2)
      continue;
    for (unsigned r : readers) {
      rewriter.setInsertionPointAfter(ops.back());
      IRMapping map;
      SmallVector<Operation *> clones;
      for (Operation *op : ops)
        clones.push_back(rewriter.clone(*op, map));
      for (Operation *op : ops)
        for (auto [from, to] :
             llvm::zip(op->getResults(), map.lookup(op)->getResults()))
          rewriter.replaceUsesWithIf(from, to, [&](OpOperand &use) {
            Operation *a = block->findAncestorOpInBlock(*use.getOwner());
            return a && !inGroup.contains(a) && groupOf.lookup(a) == r &&
                   !llvm::is_contained(clones, a);
          });
      for (Operation *c : clones)
        groupOf[c] = r;
      groups[r].append(clones);
      llvm::sort(groups[r], [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
    }
    for (Operation *op : llvm::reverse(ops))
      rewriter.eraseOp(op);
    groups[g].clear();
    moved[g] = readers.takeVector();
  }
  return moved;
}

} // namespace

FailureOr<SmallVector<KernelOp>>
mlir::iolite::formKernels(RewriterBase &rewriter, func::FuncOp func,
                          const FormKernelsOptions &options,
                          RemarkCollector *remarks) {
  assert(!options.targets.empty() && "formKernels needs a target");
  SmallVector<KernelOp> all;
  std::string funcName = sanitize(func.getSymName());
  for (Block &block : func.getBody()) {
    // A kernel computing only dead values would still be launched.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
      if (isa<IoliteDialect>(op.getDialect()) && !isa<KernelOp>(op) &&
          isOpTriviallyDead(&op))
        rewriter.eraseOp(&op);
    Partitioner partitioner(block, options);
    partitioner.run();
    SmallVector<SmallVector<Operation *>> groups = partitioner.getGroups();
    // The remarks name kernels, which are named once built and sorted; take
    // what they say about the ops now, before the ops move into kernels.
    DenseMap<Operation *, unsigned> groupOfOp;
    for (auto [i, ops] : llvm::enumerate(groups))
      for (Operation *op : ops)
        groupOfOp[op] = i;
    struct Pending {
      RemarkKind kind;
      Location loc;
      unsigned group;
      std::string text;
    };
    SmallVector<Pending> pending;
    for (const Decision &d : partitioner.getDecisions())
      pending.push_back({RemarkKind::Passed, d.op->getLoc(),
                         groupOfOp.lookup(d.op),
                         "fused into kernel '%K' as " + d.role + " of " +
                             describe(d.anchor)});
    for (const auto &[op, message] : partitioner.getMisses())
      pending.push_back({RemarkKind::Missed, op->getLoc(), groupOfOp.lookup(op),
                         "kept in kernel '%K', " + message});
    SmallVector<std::pair<Location, unsigned>> duplicatedAt;
    for (auto [i, ops] : llvm::enumerate(groups))
      if (!ops.empty())
        duplicatedAt.push_back({ops.front()->getLoc(), i});
    DenseMap<unsigned, SmallVector<unsigned>> moved =
        options.fuse ? duplicateViews(rewriter, groups)
                     : DenseMap<unsigned, SmallVector<unsigned>>();
    SmallVector<KernelOp> kernels(groups.size());
    SmallVector<std::string> summaries(groups.size());
    for (auto [i, ops] : llvm::enumerate(groups)) {
      if (ops.empty())
        continue;
      summaries[i] = summarizeOps(ops);
      kernels[i] = buildKernel(rewriter, ops, options);
    }
    addCopyKernels(rewriter, block, kernels, summaries);
    // Remarks about a duplicated view group speak of its first reader.
    for (Pending &p : pending)
      if (auto it = moved.find(p.group); it != moved.end())
        p.group = it->second.front();
    for (auto [loc, g] : duplicatedAt)
      if (auto it = moved.find(g); it != moved.end())
        for (unsigned r : it->second)
          pending.push_back({RemarkKind::Passed, loc, r,
                             "copied into kernel '%K', which reads it: a view "
                             "costs no work, a kernel of its own would copy "
                             "the tensor"});
    if (!sortTopologically(&block))
      return func.emitError(
          "iolite-form-kernels produced kernels that depend on each other in "
          "a cycle");
    // Name kernels in program order; drop constants nothing uses now.
    unsigned index = all.size();
    SmallVector<KernelOp> ordered;
    for (Operation &op : block)
      if (auto k = dyn_cast<KernelOp>(&op); k && llvm::is_contained(kernels, k))
        ordered.push_back(k);
    for (KernelOp k : ordered) {
      SmallVector<Operation *> bodyOps;
      for (Operation &op : k.getBody().front().without_terminator())
        if (!isa<ConstantOp>(op))
          bodyOps.push_back(&op);
      std::string name = llvm::formatv("{0}_k{1}_{2}", funcName, index++,
                                       sanitize(kernelKind(bodyOps)))
                             .str();
      rewriter.modifyOpInPlace(
          k, [&] { k.setNameAttr(rewriter.getStringAttr(name)); });
      all.push_back(k);
    }
    for (Operation &op : llvm::make_early_inc_range(block))
      if (isa<ConstantOp>(op) && op.use_empty())
        rewriter.eraseOp(&op);
    if (!remarks)
      continue;
    for (const Pending &p : pending) {
      std::string text = p.text;
      size_t at = text.find("%K");
      if (at != std::string::npos)
        text.replace(at, 2, kernels[p.group].getName().str());
      remarks->report(p.kind, p.loc,
                      p.kind == RemarkKind::Passed ? "fused" : "not-fused",
                      text);
    }
    for (KernelOp k : ordered) {
      unsigned i = llvm::find(kernels, k) - kernels.begin();
      SmallVector<Operation *> heavy, ops;
      for (Operation &op : k.getBody().front().without_terminator()) {
        ops.push_back(&op);
        if (isHeavyClass(classifyForFusion(&op)))
          heavy.push_back(&op);
      }
      std::string why, extra;
      for (const TargetDescription *target : options.targets) {
        FailureOr<KernelFootprint> fp =
            estimateKernelFootprint(ops, heavy, *target, why);
        if (succeeded(fp) && !footprintFits(*fp, *target, why)) {
          extra = "; exceeds the target: " + why;
          break;
        }
      }
      remarks->analysis(k.getLoc(), "kernel",
                        llvm::formatv("kernel '{0}': {1} ({2} inputs, {3} "
                                      "results){4}",
                                      k.getName(), summaries[i],
                                      k.getInputs().size(), k.getNumResults(),
                                      extra)
                            .str());
    }
  }
  for (Operation &op : func.getBody().getOps())
    if (classifyForFusion(&op) == FusionOpClass::Opaque && remarks &&
        !isa<func::ReturnOp, KernelOp>(op))
      remarks->missed(op.getLoc(), "not-fused",
                      "'" + op.getName().getStringRef() +
                          "' stays outside the kernels: not an iolite op");
  return all;
}

namespace {
struct IoliteFormKernelsPass
    : iolite::impl::IoliteFormKernelsPassBase<IoliteFormKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    std::string error;
    auto targets = parseTargetList(target, error);
    if (!targets) {
      func.emitError() << "iolite-form-kernels: " << error;
      return signalPassFailure();
    }
    FormKernelsOptions options;
    options.targets.assign(targets->begin(), targets->end());
    options.fuse = !noFusion;
    RemarkCollector collector(getArgument(), remarks);
    IRRewriter rewriter(&getContext());
    if (failed(formKernels(rewriter, func, options, &collector)))
      return signalPassFailure();
  }
};
} // namespace
