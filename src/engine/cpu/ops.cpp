// Dispatch of the ops table by the active ISA, and the scalar instance.
#include "engine/cpu/ops.h"

#include "engine/cpu/ops_impl.h"
#include "engine/cpu/vec_dot.h"

namespace nnb {
namespace ops_detail {

const OpsTable* scalar_ops() {
  static constexpr OpsTable t = Ops<ScalarS>::table();
  return &t;
}

}  // namespace ops_detail

const OpsTable& ops() {
  static const OpsTable* t = [] {
#if defined(__x86_64__) || defined(_M_X64)
    switch (active_isa()) {
      case Isa::Avx512: return ops_detail::avx512_ops();
      case Isa::Avx2: return ops_detail::avx2_ops();
      default: break;
    }
#endif
    return ops_detail::scalar_ops();
  }();
  return *t;
}

}  // namespace nnb
