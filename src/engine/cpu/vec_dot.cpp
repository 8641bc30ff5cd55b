// Kernel selection: which ISA this CPU can run, and the kernel table of each ISA.
//
// The best ISA is picked once, on first use, from the CPU's features:
//   AVX-512  needs AVX512 F/BW/VL/DQ/VNNI/BF16 (plus AVX2/FMA/F16C),
//   AVX2     needs AVX2, FMA and F16C,
//   scalar   otherwise (and on every non-x86 build).
// Environment variable NNB_ISA=scalar|avx2|avx512 forces a lower path than the best one, for
// benchmarking and debugging; asking for a path the CPU lacks is ignored (the best one is used).
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif

#include "engine/cpu/vec_dot_impl.h"

namespace nnb {
namespace {

#if defined(__x86_64__) || defined(_M_X64)
// CPUID + XGETBV directly (not __builtin_cpu_supports, whose feature names differ between GCC
// and Clang versions): the CPU must have the instructions and the OS must save the registers.
struct X86Features {
  bool avx2 = false;    // AVX2 + FMA + F16C, YMM state enabled
  bool avx512 = false;  // AVX512 F/BW/VL/DQ/VNNI/BF16, ZMM state enabled
};

X86Features detect_x86() {
  X86Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x06) == 0x06;  // SSE + AVX state
  const bool zmm_state = (xcr0_lo & 0xE6) == 0xE6;  // + opmask, ZMM0-15 upper halves, ZMM16-31
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  const bool avx512vnni = c & (1u << 11);
  const unsigned max_sub = a;
  bool avx512bf16 = false;
  if (max_sub >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    avx512bf16 = a & (1u << 5);
  }
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni && avx512bf16;
  return f;
}

const X86Features& x86_features() {
  static const X86Features f = detect_x86();
  return f;
}
bool cpu_has_avx2() { return x86_features().avx2; }
bool cpu_has_avx512() { return x86_features().avx512; }
#else
bool cpu_has_avx2() { return false; }
bool cpu_has_avx512() { return false; }
#endif

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return cpu_has_avx2();
    case Isa::Avx512: return cpu_has_avx512();
  }
  return false;
}

Isa pick_isa() {
  Isa best = cpu_supports(Isa::Avx512) ? Isa::Avx512 : cpu_supports(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar;
  if (const char* env = std::getenv("NNB_ISA")) {
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      if (std::strcmp(env, isa_name(isa)) == 0 && int(isa) < int(best)) best = isa;
    }
  }
  return best;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

Isa active_isa() {
  static const Isa isa = pick_isa();
  return isa;
}

const DotKernel* dot_kernel_for(GgmlType t, Isa isa) {
  if (!cpu_supports(isa)) return nullptr;
  switch (isa) {
    case Isa::Scalar: return kern::scalar_kernel(t);
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx512:
      // Types without an AVX-512 kernel of their own run the AVX2 one.
      if (const DotKernel* k = kern::avx512_kernel(t)) return k;
      return kern::avx2_kernel(t);
    case Isa::Avx2: return kern::avx2_kernel(t);
#else
    default: return nullptr;
#endif
  }
  return nullptr;
}

const DotKernel* dot_kernel(GgmlType t) { return dot_kernel_for(t, active_isa()); }

}  // namespace nnb
