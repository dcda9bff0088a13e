//===- runtime-unittests.cpp - Unit tests of the runtime's internals ------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// Tests what the C API cannot reach without a GPU: which binaries a CUDA
// or HIP device accepts, finding the gfx name in any hipDeviceProp_t
// layout, and the fibers the emulator runs GPU threads on (built once with
// the x86-64 switch and once with ucontext).
//
//===----------------------------------------------------------------------===//

#include "../../lib/Runtime/EmuFiber.h"
#include "../../lib/Runtime/RuntimeImpl.h"

#include <cstdio>
#include <cstring>
#include <vector>

#ifdef IOLITE_HAVE_HIP_HEADERS
#define __HIP_PLATFORM_AMD__
#include <hip/hip_runtime_api.h>
#endif

using namespace iolite::runtime;
using namespace iolite::runtime::emu;

static int failures = 0;
#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::printf("FAILED: %s (line %d)\n", #cond, __LINE__);                  \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

static void testNvidiaCompatibility() {
  EXPECT(nvidiaTargetRunsOn("sm_90a", 9, 0));
  EXPECT(nvidiaTargetRunsOn("sm_90", 9, 0));
  EXPECT(!nvidiaTargetRunsOn("sm_90a", 10, 0));
  EXPECT(!nvidiaTargetRunsOn("sm_90", 10, 0)); // SASS does not cross majors
  EXPECT(nvidiaTargetRunsOn("sm_80", 8, 6));   // but runs on later minors
  EXPECT(!nvidiaTargetRunsOn("sm_86", 8, 0));
  EXPECT(!nvidiaTargetRunsOn("sm_86a", 8, 9));
  EXPECT(nvidiaTargetRunsOn("sm_100f", 10, 3));
  EXPECT(nvidiaTargetRunsOn("sm_120", 12, 0));
  EXPECT(!nvidiaTargetRunsOn("gfx942", 9, 0));
  EXPECT(!nvidiaTargetRunsOn("sm_9", 9, 0));
  EXPECT(!nvidiaTargetRunsOn("sm_90b", 9, 0));
}

static void testAmdNames() {
  EXPECT(amdBaseArch("gfx942:sramecc+:xnack-") == "gfx942");
  EXPECT(amdBaseArch("gfx90a") == "gfx90a");
  std::vector<char> buffer(4096, '\0');
  std::strcpy(buffer.data(), "AMD Instinct MI300X");
  std::strcpy(buffer.data() + 1000, "gfx942:sramecc+:xnack-");
  EXPECT(findGcnArchName(buffer.data(), buffer.size()) == "gfx942");
  std::vector<char> none(512, '\0');
  std::strcpy(none.data(), "no gfx name here");
  EXPECT(findGcnArchName(none.data(), none.size()).empty());
#ifdef IOLITE_HAVE_HIP_HEADERS
  // The layout of the installed HIP headers.
  hipDeviceProp_t props;
  std::memset(&props, 0, sizeof(props));
  std::strcpy(props.name, "Radeon gfx-like marketing name");
  std::strcpy(props.gcnArchName, "gfx90a:sramecc-:xnack+");
  props.totalGlobalMem = 0x786667; // the bytes "gfx" alone are no name
  EXPECT(findGcnArchName(reinterpret_cast<const char *>(&props),
                         sizeof(props)) == "gfx90a");
#endif
}

// Ping-pong between a scheduler and fibers; each fiber counts and checks
// that its locals survive the switches.
struct PingPong {
  Context scheduler;
  Context fiber;
  int steps = 0;
  double checksum = 0;
};

static void fiberBody(void *argument) {
  auto *p = static_cast<PingPong *>(argument);
  double local = 1.5;
  for (int i = 0; i < 1000; ++i) {
    local += i;
    ++p->steps;
    switchContext(p->fiber, p->scheduler);
  }
  p->checksum = local;
  switchContext(p->fiber, p->scheduler);
  __builtin_trap();
}

static void testFibers() {
  std::vector<PingPong> states(64);
  std::vector<FiberStack> stacks(states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    EXPECT(stacks[i].allocate(64 * 1024));
    makeContext(states[i].fiber, stacks[i], fiberBody, &states[i]);
  }
  for (int round = 0; round <= 1000; ++round)
    for (PingPong &p : states)
      switchContext(p.scheduler, p.fiber);
  for (PingPong &p : states) {
    EXPECT(p.steps == 1000);
    EXPECT(p.checksum == 1.5 + 999.0 * 1000.0 / 2.0);
  }
}

int main() {
  testNvidiaCompatibility();
  testAmdNames();
  testFibers();
  std::printf("%d failures\n", failures);
  return failures ? 1 : 0;
}
