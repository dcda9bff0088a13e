//===- EmuFiber.h - Stackful coroutines for emulated GPU threads -*- C++
//-*-===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Each emulated GPU thread runs on its own stack as a fiber; a scheduler on a
// host thread switches between the fibers of one block. On x86-64 the switch
// is a few instructions of hand-written assembly (callee-saved registers,
// stack pointer, MXCSR and the x87 control word); elsewhere, or when built
// with IOLITE_EMU_USE_UCONTEXT, it uses POSIX ucontext (slower: it saves the
// signal mask with a system call per switch).
//
//===----------------------------------------------------------------------===//

#ifndef IOLITE_LIB_RUNTIME_EMUFIBER_H
#define IOLITE_LIB_RUNTIME_EMUFIBER_H

#include <cstddef>

#if !defined(__x86_64__) && !defined(IOLITE_EMU_USE_UCONTEXT)
#define IOLITE_EMU_USE_UCONTEXT 1
#endif

#ifdef IOLITE_EMU_USE_UCONTEXT
#include <ucontext.h>
#endif

// AddressSanitizer must be told about every stack switch (EmuFiber.cpp);
// without it, a fiber's frames look like a stack overflow of the thread.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOLITE_EMU_ASAN 1
#endif
#endif
#if !defined(IOLITE_EMU_ASAN) && defined(__SANITIZE_ADDRESS__)
#define IOLITE_EMU_ASAN 1
#endif

namespace iolite::runtime::emu {

using FiberFunction = void (*)(void *);

/// A machine context: where a suspended fiber (or the scheduler) resumes.
struct Context {
#ifdef IOLITE_EMU_USE_UCONTEXT
  ucontext_t uc;
#else
  void *sp = nullptr;
#endif
  FiberFunction function = nullptr;
  void *argument = nullptr;
  /// The stack this context runs on (what AddressSanitizer is told on a
  /// switch); a thread's own context learns it on its first switch.
  const void *stackBottom = nullptr;
  size_t stackSize = 0;
};

/// A stack from mmap, with an inaccessible guard page below it so an
/// overflow faults instead of corrupting a neighbour.
class FiberStack {
public:
  FiberStack() = default;
  FiberStack(const FiberStack &) = delete;
  FiberStack &operator=(const FiberStack &) = delete;
  FiberStack(FiberStack &&other) noexcept;
  FiberStack &operator=(FiberStack &&other) noexcept;
  ~FiberStack();

  /// Maps `bytes` of stack (rounded up to pages); false if mmap fails.
  bool allocate(size_t bytes);
  void *base() const { return low; }
  size_t size() const { return bytes; }

private:
  void *mapping = nullptr;
  size_t mappingBytes = 0;
  void *low = nullptr;
  size_t bytes = 0;
};

/// Prepares `context` so that switching to it runs `function(argument)` on
/// `stack`. `function` must never return: it ends by switching away.
void makeContext(Context &context, FiberStack &stack, FiberFunction function,
                 void *argument);

/// Saves the running context into `from` and resumes `to`.
void switchContext(Context &from, Context &to);

} // namespace iolite::runtime::emu

#endif // IOLITE_LIB_RUNTIME_EMUFIBER_H
