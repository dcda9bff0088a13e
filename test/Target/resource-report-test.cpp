//===- resource-report-test.cpp - ptxas reports fail closed ---------------===//
//
// Part of the Iolite project.
//
//===----------------------------------------------------------------------===//
//
// parsePtxasReport and checkResourceReports (lib/Target/Serialization.cpp)
// on a real `ptxas -v` report of CUDA 13 and on reports that must not read
// as "0 spills": a truncated one, one without a kernel, lines whose numbers
// cannot be read, and an AMD report without its SGPRs. Exits non-zero on
// any disagreement.
//
//===----------------------------------------------------------------------===//

#include "iolite/Target/Serialization.h"

#include <cstdio>
#include <string>

using namespace mlir;
using namespace mlir::iolite;

namespace {

int failures = 0;

void expect(bool ok, const std::string &what) {
  if (ok)
    return;
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  ++failures;
}

// ptxas 13.0 on test/Driver/bundle.mlir under --max-registers=16, with a
// device function's properties (not a kernel's) in between.
constexpr const char *kGood =
    "ptxas warning : For entry mm adjusting per thread register count of 16 "
    "to lower bound of 24\n"
    "ptxas info    : 0 bytes gmem\n"
    "ptxas info    : Compiling entry function 'scale' for 'sm_90a'\n"
    "ptxas info    : Function properties for scale\n"
    "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
    "ptxas info    : Used 14 registers, used 0 barriers\n"
    "ptxas info    : Compile time = 7.936 ms\n"
    "ptxas info    : Function properties for helper\n"
    "    64 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads\n"
    "ptxas info    : Compiling entry function 'mm' for 'sm_90a'\n"
    "ptxas info    : Function properties for mm\n"
    "    112 bytes stack frame, 256 bytes spill stores, 248 bytes spill "
    "loads\n"
    "ptxas info    : Used 24 registers, used 1 barriers, 112 bytes "
    "cumulative stack size, 1024 bytes smem\n"
    "ptxas info    : Compile time = 139.257 ms\n";

const std::vector<std::string> kKernels = {"mm", "scale"};

void testGood() {
  std::string error;
  auto reports = parsePtxasReport(kGood, error);
  expect(succeeded(reports), "good report parses: " + error);
  if (failed(reports))
    return;
  expect(reports->size() == 2, "two kernels");
  expect(succeeded(checkResourceReports(*reports, kKernels, false, error)),
         "good report is complete: " + error);
  const KernelResources &scale = (*reports)[0], &mm = (*reports)[1];
  expect(scale.kernel == "scale" && scale.registers == 14 &&
             scale.spills == 0 && scale.stackBytes == 0 &&
             scale.staticSharedBytes == 0,
         "scale: 14 registers, no spills, no shared memory");
  expect(mm.kernel == "mm" && mm.registers == 24 && mm.spills == 504 &&
             mm.stackBytes == 112 && mm.staticSharedBytes == 1024,
         "mm: 24 registers, 504 spill bytes, 112 stack, 1024 smem (not the "
         "device function's frame)");
  expect(!scale.scalarRegisters && !scale.scalarSpills, "no SGPRs on NVIDIA");
}

void testTruncated() {
  // Cut after mm's stack frame: its register line never came.
  std::string text = kGood;
  text = text.substr(0, text.find("ptxas info    : Used 24"));
  std::string error;
  auto reports = parsePtxasReport(text, error);
  expect(succeeded(reports), "a truncated report parses");
  if (failed(reports))
    return;
  expect(!reports->back().registers && !reports->back().staticSharedBytes,
         "mm's registers and shared memory are unknown, not 0");
  expect(failed(checkResourceReports(*reports, kKernels, false, error)),
         "a truncated report is incomplete");
  expect(error == "'mm' has no registers, shared memory",
         "the error names the kernel and fields: " + error);

  // Cut before mm's frame: spills unknown.
  text = text.substr(0, text.find("    112 bytes"));
  reports = parsePtxasReport(text, error);
  expect(succeeded(reports) && !reports->back().spills,
         "mm's spills are unknown, not 0");
  expect(failed(checkResourceReports(*reports, kKernels, false, error)) &&
             error == "'mm' has no registers, spills, stack, shared memory",
         "spills missing: " + error);
}

void testMissingKernel() {
  std::string text = kGood;
  size_t from = text.find("ptxas info    : Compiling entry function 'scale'");
  size_t to = text.find("ptxas info    : Function properties for helper");
  text.erase(from, to - from);
  std::string error;
  auto reports = parsePtxasReport(text, error);
  expect(succeeded(reports) && reports->size() == 1, "one kernel reported");
  expect(failed(checkResourceReports(*reports, kKernels, false, error)) &&
             error == "'scale' has no reports",
         "a kernel without a report: " + error);
  // Twice the same kernel is no better.
  reports = parsePtxasReport(std::string(kGood) + kGood, error);
  expect(failed(checkResourceReports(*reports, kKernels, false, error)) &&
             error == "'mm' has 2 reports; 'scale' has 2 reports",
         "duplicate reports: " + error);
}

void testUnparsable() {
  for (const char *line :
       {"ptxas info    : Used ?? registers, used 1 barriers\n",
        "    ?? bytes stack frame, 0 bytes spill stores, 0 bytes spill "
        "loads\n",
        "    0 bytes stack frame, 99999999999999999999 bytes spill stores, 0 "
        "bytes spill loads\n",
        "ptxas info    : Used 24 registers, used 1 barriers, ? bytes smem\n"}) {
    std::string text = kGood;
    text.insert(text.find("ptxas info    : Compile time = 139"), line);
    std::string error;
    expect(failed(parsePtxasReport(text, error)),
           std::string("unparsable line fails: ") + line);
    expect(error.find("cannot read") == 0 &&
               error.find(StringRef(line).trim().str()) != std::string::npos,
           "the error quotes the line: " + error);
  }
}

void testAmd() {
  KernelResources r;
  r.kernel = "mm";
  r.registers = 32;
  r.spills = 9;
  r.stackBytes = 40;
  r.staticSharedBytes = 0;
  std::string error;
  std::vector<std::string> kernels = {"mm"};
  expect(succeeded(checkResourceReports({r}, kernels, false, error)),
         "complete for NVIDIA");
  expect(failed(checkResourceReports({r}, kernels, true, error)) &&
             error == "'mm' has no SGPRs, SGPR spills",
         "AMD needs SGPRs: " + error);
  r.scalarRegisters = 24;
  r.scalarSpills = 0;
  expect(succeeded(checkResourceReports({r}, kernels, true, error)),
         "complete for AMD");
}

} // namespace

int main() {
  testGood();
  testTruncated();
  testMissingKernel();
  testUnparsable();
  testAmd();
  if (failures)
    return 1;
  std::printf("resource reports: all checks passed\n");
  return 0;
}
