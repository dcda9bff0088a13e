//===- EmuFiber.cpp - Stackful coroutines for emulated GPU threads --------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//

#include "EmuFiber.h"

#include <cstdint>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

#ifdef IOLITE_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

using namespace iolite::runtime::emu;

namespace {
#ifdef IOLITE_EMU_ASAN
/// The context the running one was resumed from: it learns its stack bounds
/// from AddressSanitizer when the switch completes (see switchContext).
thread_local Context *switchedFrom = nullptr;
#endif

/// Tells AddressSanitizer that execution moves to `to`'s stack.
inline void startSwitch(Context &from, Context &to, void **fakeStack) {
#ifdef IOLITE_EMU_ASAN
  switchedFrom = &from;
  __sanitizer_start_switch_fiber(fakeStack, to.stackBottom, to.stackSize);
#endif
}

/// Completes a switch on the new stack; records the old stack's bounds in
/// the context it belongs to (how a thread's own context learns them).
inline void finishSwitch(void *fakeStack) {
#ifdef IOLITE_EMU_ASAN
  Context *from = switchedFrom;
  __sanitizer_finish_switch_fiber(fakeStack, &from->stackBottom,
                                  &from->stackSize);
#endif
}

/// Where every fiber starts: completes the switch, then runs the function.
[[noreturn]] void fiberEntry(Context *context) {
  finishSwitch(nullptr);
  context->function(context->argument);
  __builtin_trap(); // fibers never return
}

/// A reused stack holds the poisoned redzones of the frames an abandoned
/// fiber left; clear them, and before the pages go back to the system.
inline void unpoisonStack(void *base, size_t bytes) {
#ifdef IOLITE_EMU_ASAN
  if (base)
    __asan_unpoison_memory_region(base, bytes);
#endif
}
} // namespace

FiberStack::FiberStack(FiberStack &&other) noexcept {
  *this = std::move(other);
}

FiberStack &FiberStack::operator=(FiberStack &&other) noexcept {
  std::swap(mapping, other.mapping);
  std::swap(mappingBytes, other.mappingBytes);
  std::swap(low, other.low);
  std::swap(bytes, other.bytes);
  return *this;
}

FiberStack::~FiberStack() {
  unpoisonStack(low, bytes);
  if (mapping)
    munmap(mapping, mappingBytes);
}

bool FiberStack::allocate(size_t requested) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t usable = (requested + page - 1) / page * page;
  // MAP_NORESERVE: pages are committed only when a fiber touches them, so
  // a thousand 256 KiB stacks cost little more than what they use.
  void *m = mmap(nullptr, usable + page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    return false;
  if (mprotect(m, page, PROT_NONE) != 0) {
    munmap(m, usable + page);
    return false;
  }
  this->~FiberStack();
  mapping = m;
  mappingBytes = usable + page;
  low = static_cast<char *>(m) + page;
  bytes = usable;
  return true;
}

#ifdef IOLITE_EMU_USE_UCONTEXT

namespace {
// makecontext passes int arguments only: hand over the Context (which holds
// the function and its argument) as two 32-bit halves.
void trampoline(unsigned high, unsigned low) {
  fiberEntry(reinterpret_cast<Context *>((static_cast<uintptr_t>(high) << 32) |
                                         static_cast<uintptr_t>(low)));
}
} // namespace

void iolite::runtime::emu::makeContext(Context &context, FiberStack &stack,
                                       FiberFunction function, void *argument) {
  unpoisonStack(stack.base(), stack.size());
  context.function = function;
  context.argument = argument;
  context.stackBottom = stack.base();
  context.stackSize = stack.size();
  getcontext(&context.uc);
  context.uc.uc_stack.ss_sp = stack.base();
  context.uc.uc_stack.ss_size = stack.size();
  context.uc.uc_link = nullptr;
  auto bits = reinterpret_cast<uintptr_t>(&context);
  makecontext(&context.uc, reinterpret_cast<void (*)()>(trampoline), 2,
              static_cast<unsigned>(bits >> 32),
              static_cast<unsigned>(bits & 0xffffffffu));
}

void iolite::runtime::emu::switchContext(Context &from, Context &to) {
  void *fakeStack = nullptr;
  startSwitch(from, to, &fakeStack);
  swapcontext(&from.uc, &to.uc);
  finishSwitch(fakeStack);
}

#else // x86-64 assembly

// iolite_emu_switch(void **saveSp, void *loadSp): pushes the callee-saved
// registers and the floating-point control state, stores the stack pointer,
// loads the other one and pops the same frame from it.
// iolite_emu_start: where a fresh context "returns" to; calls r13(r12)
// (fiberEntry(context)).
asm(R"(
  .text
  .p2align 4
  .globl iolite_emu_switch
  .hidden iolite_emu_switch
  .type iolite_emu_switch,@function
iolite_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size iolite_emu_switch, .-iolite_emu_switch

  .p2align 4
  .globl iolite_emu_start
  .hidden iolite_emu_start
  .type iolite_emu_start,@function
iolite_emu_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size iolite_emu_start, .-iolite_emu_start
)");

extern "C" void iolite_emu_switch(void **saveSp, void *loadSp);
extern "C" void iolite_emu_start();

void iolite::runtime::emu::makeContext(Context &context, FiberStack &stack,
                                       FiberFunction function, void *argument) {
  unpoisonStack(stack.base(), stack.size());
  context.function = function;
  context.argument = argument;
  context.stackBottom = stack.base();
  context.stackSize = stack.size();
  auto top = reinterpret_cast<uintptr_t>(stack.base()) + stack.size();
  top &= ~uintptr_t(15);
  // The return address sits at top-24 so that after `ret` pops it the stack
  // pointer is 16-byte aligned, as the ABI wants before the `call`.
  auto *frame = reinterpret_cast<uint64_t *>(top - 24);
  frame[0] = reinterpret_cast<uint64_t>(&iolite_emu_start); // ret address
  frame[-1] = 0;                                            // rbp
  frame[-2] = 0;                                            // rbx
  frame[-3] = reinterpret_cast<uint64_t>(&context);         // r12
  frame[-4] = reinterpret_cast<uint64_t>(&fiberEntry);      // r13
  frame[-5] = 0;                                            // r14
  frame[-6] = 0;                                            // r15
  // Floating-point control: x87 control word at sp, MXCSR at sp+8; the
  // defaults every process starts with (round to nearest, all masked).
  frame[-8] = 0x037F;
  frame[-7] = 0x1F80;
  context.sp = &frame[-8];
}

void iolite::runtime::emu::switchContext(Context &from, Context &to) {
  void *fakeStack = nullptr;
  startSwitch(from, to, &fakeStack);
  iolite_emu_switch(&from.sp, to.sp);
  finishSwitch(fakeStack);
}

#endif
