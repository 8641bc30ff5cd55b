// Works around a wabt 1.0.32 interpreter bug that would otherwise make a deep recursion
// through function pointers silently wrong (and can corrupt the host heap):
//
// Thread::DoCall, used by call_indirect, does
//     if (PushCall(*defined_func, out_trap) == RunResult::Trap) return RunResult::Ok;
// so when the call stack is full, a call_indirect to a wasm function is skipped instead of
// trapping: the caller runs on with the callee's arguments where its results should be, and a
// value-stack underflow can follow. A direct `call` checks the same limit correctly.
//
// The fix: before every call_indirect, insert `call $probe`, a new empty function of type
// [] -> []. The probe is stack-neutral, so the module validates and behaves as before, but it
// needs one free frame, exactly what the call_indirect right after it needs: if the stack is
// full the probe traps ("call stack exhausted") and the buggy path is never reached.
//
// It is done on wabt's IR (ReadBinaryIr → edit → WriteBinaryModule), after the original bytes
// were validated, so error messages still point into the user's file.
#include <memory>

#include "wabt/binary-reader-ir.h"
#include "wabt/binary-reader.h"
#include "wabt/binary-writer.h"
#include "wabt/cast.h"
#include "wabt/ir.h"
#include "wabt/stream.h"
#include "wasm/runtime_wabt.h"

namespace nnb::wasm::wabt_engine {
namespace {

size_t guard_list(wabt::ExprList& exprs, wabt::Index probe) {
  size_t n = 0;
  for (auto it = exprs.begin(); it != exprs.end(); ++it) {
    switch (it->type()) {
      case wabt::ExprType::CallIndirect:
        exprs.insert(it, std::make_unique<wabt::CallExpr>(wabt::Var(probe, it->loc), it->loc));
        ++n;
        break;
      case wabt::ExprType::Block:
        n += guard_list(wabt::cast<wabt::BlockExpr>(&*it)->block.exprs, probe);
        break;
      case wabt::ExprType::Loop:
        n += guard_list(wabt::cast<wabt::LoopExpr>(&*it)->block.exprs, probe);
        break;
      case wabt::ExprType::If: {
        auto* e = wabt::cast<wabt::IfExpr>(&*it);
        n += guard_list(e->true_.exprs, probe);
        n += guard_list(e->false_, probe);
        break;
      }
      case wabt::ExprType::Try: {
        auto* e = wabt::cast<wabt::TryExpr>(&*it);
        n += guard_list(e->block.exprs, probe);
        for (auto& c : e->catches) n += guard_list(c.exprs, probe);
        break;
      }
      default:
        break;
    }
  }
  return n;
}

}  // namespace

bool guard_indirect_calls(const uint8_t* wasm, size_t size, const wabt::Features& features,
                          std::vector<uint8_t>* out) {
  wabt::Module module;
  wabt::Errors errors;
  const wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                        /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/false);
  if (wabt::Failed(wabt::ReadBinaryIr("module", wasm, size, options, &errors, &module)))
    throw LoadError("cannot re-read the module to guard its indirect calls");

  // The probe: a new type [] -> [] and a new function, both appended so that no existing index
  // changes.
  const wabt::Index type_index = wabt::Index(module.types.size());
  auto type_field = std::make_unique<wabt::TypeModuleField>();
  type_field->type = std::make_unique<wabt::FuncType>();
  module.AppendField(std::move(type_field));
  const wabt::Index probe_index = wabt::Index(module.funcs.size());

  size_t guarded = 0;
  for (wabt::Func* f : module.funcs) guarded += guard_list(f->exprs, probe_index);
  if (guarded == 0) return false;

  auto probe = std::make_unique<wabt::FuncModuleField>();
  probe->func.decl.has_func_type = true;
  probe->func.decl.type_var = wabt::Var(type_index, wabt::Location());
  module.AppendField(std::move(probe));

  wabt::MemoryStream stream;
  wabt::WriteBinaryOptions wopts(features, /*canonicalize_lebs=*/true, /*relocatable=*/false,
                                 /*write_debug_names=*/false);
  if (wabt::Failed(wabt::WriteBinaryModule(&stream, &module, wopts)))
    throw LoadError("cannot re-encode the module after guarding its indirect calls");
  *out = std::move(stream.ReleaseOutputBuffer()->data);
  return true;
}

}  // namespace nnb::wasm::wabt_engine
