//===- EmuCommon.cpp - Helpers shared by the emu passes -------------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "EmuCommon.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::iolite::emu;

func::FuncOp mlir::iolite::emu::getOrDeclareHook(Operation *module,
                                                 StringRef symbol,
                                                 TypeRange inputs,
                                                 TypeRange results) {
  if (auto existing = dyn_cast_or_null<func::FuncOp>(
          SymbolTable::lookupSymbolIn(module, symbol)))
    return existing;
  OpBuilder b(module->getContext());
  b.setInsertionPointToStart(&module->getRegion(0).front());
  auto func = func::FuncOp::create(b, module->getLoc(), symbol,
                                   b.getFunctionType(inputs, results));
  func.setPrivate();
  return func;
}

std::string mlir::iolite::emu::locationText(Location loc) {
  std::string text;
  llvm::raw_string_ostream os(text);
  if (auto file = loc->findInstanceOf<FileLineColLoc>())
    os << file.getFilename().getValue() << ":" << file.getLine() << ":"
       << file.getColumn();
  else
    loc.print(os);
  return text;
}

SiteTable::SiteTable(Operation *module) : module(module) {
  if (auto existing = module->getAttrOfType<ArrayAttr>(kSitesAttrName))
    sites.append(existing.begin(), existing.end());
}

uint32_t SiteTable::add(StringRef text) {
  sites.push_back(StringAttr::get(module->getContext(), text));
  return static_cast<uint32_t>(sites.size() - 1);
}

uint32_t SiteTable::add(Operation *op) {
  return add(locationText(op->getLoc()) + " " +
             op->getName().getStringRef().str());
}

void SiteTable::save() {
  module->setAttr(kSitesAttrName, ArrayAttr::get(module->getContext(), sites));
}

Value mlir::iolite::emu::emitElementAddress(OpBuilder &b, Location loc,
                                            Value memref, ValueRange indices,
                                            int64_t elementBytes) {
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value offset = metadata.getOffset();
  for (auto [index, stride] : llvm::zip(indices, metadata.getStrides()))
    offset = arith::AddIOp::create(
        b, loc, offset, arith::MulIOp::create(b, loc, index, stride));
  Value size = arith::ConstantIndexOp::create(b, loc, elementBytes);
  return arith::AddIOp::create(b, loc, base,
                               arith::MulIOp::create(b, loc, offset, size));
}
