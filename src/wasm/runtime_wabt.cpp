// The wabt 1.0.32 interpreter behind runtime_wabt.h: decode + validate (ReadBinaryInterp runs
// wabt's full validator), apply the memory page limit, link imports to host functions,
// instantiate, run the start function and `_start` metered (runtime_wabt_limits.h).
#include <cstring>
#include <optional>
#include <sstream>
#include <utility>

#include "wabt/binary-reader.h"
#include "wabt/error.h"
#include "wabt/feature.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"
#include "wasm/runtime_wabt.h"
#include "wasm/runtime_wabt_limits.h"

namespace nnb::wasm::wabt_engine {
namespace wi = wabt::interp;

namespace {

wabt::Features engine_features() {
  wabt::Features f;
  // What real WASI apps use (COMPAT §6) plus wabt's other stable defaults; set explicitly so
  // a wabt with different defaults behaves the same.
  f.enable_bulk_memory();
  f.enable_sign_extension();
  f.enable_reference_types();
  f.enable_sat_float_to_int();
  f.enable_mutable_globals();
  f.enable_multi_value();
  f.enable_simd();
  return f;
}

std::optional<Kind> kind_of(wabt::Type t) {
  switch (t) {
    case wabt::Type::I32: return Kind::I32;
    case wabt::Type::I64: return Kind::I64;
    case wabt::Type::F32: return Kind::F32;
    case wabt::Type::F64: return Kind::F64;
    default: return std::nullopt;
  }
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::I32: return "i32";
    case Kind::I64: return "i64";
    case Kind::F32: return "f32";
    case Kind::F64: return "f64";
  }
  return "?";
}

std::string signature(const wi::ValueTypes& params, const wi::ValueTypes& results) {
  std::string s = "(";
  for (size_t i = 0; i < params.size(); ++i) s += (i ? ", " : "") + wi::GetName(params[i]);
  s += ") -> (";
  for (size_t i = 0; i < results.size(); ++i) s += (i ? ", " : "") + wi::GetName(results[i]);
  return s + ")";
}

std::string signature(const HostImport& h) {
  std::string s = "(";
  for (size_t i = 0; i < h.params.size(); ++i) s += std::string(i ? ", " : "") + kind_name(h.params[i]);
  s += ") -> (";
  for (size_t i = 0; i < h.results.size(); ++i) s += std::string(i ? ", " : "") + kind_name(h.results[i]);
  return s + ")";
}

bool same_types(const std::vector<Kind>& host, const wi::ValueTypes& guest) {
  if (host.size() != guest.size()) return false;
  for (size_t i = 0; i < host.size(); ++i) {
    auto k = kind_of(guest[i]);
    if (!k || *k != host[i]) return false;
  }
  return true;
}

// wabt's binary errors carry the byte offset; say it the way a user can look up (hex dump).
std::string format_errors(const wabt::Errors& errors) {
  std::ostringstream out;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) out << "; ";
    const auto& e = errors[i];
    if (e.loc.offset != wabt::kInvalidOffset) out << "at byte 0x" << std::hex << e.loc.offset << std::dec << ": ";
    out << e.message;
  }
  return errors.empty() ? std::string("unknown decoding error") : out.str();
}

uint64_t bits_of(const wi::Value& v, Kind k) {
  switch (k) {
    case Kind::I32: return v.Get<wi::u32>();
    case Kind::I64: return v.Get<wi::u64>();
    case Kind::F32: {
      uint32_t b;
      const float f = v.Get<wi::f32>();
      std::memcpy(&b, &f, 4);
      return b;
    }
    case Kind::F64: {
      uint64_t b;
      const double d = v.Get<wi::f64>();
      std::memcpy(&b, &d, 8);
      return b;
    }
  }
  return 0;
}

wi::Value value_of(uint64_t bits, Kind k) {
  switch (k) {
    case Kind::I32: return wi::Value::Make(wi::u32(bits));
    case Kind::I64: return wi::Value::Make(wi::u64(bits));
    case Kind::F32: {
      float f;
      const uint32_t b = uint32_t(bits);
      std::memcpy(&f, &b, 4);
      return wi::Value::Make(f);
    }
    case Kind::F64: {
      double d;
      std::memcpy(&d, &bits, 8);
      return wi::Value::Make(d);
    }
  }
  return wi::Value::Make(wi::u32(0));
}

// The exported "memory" of the instance. Bound lazily: host calls made by a start function
// run before Instantiate() returns, so the first call binds through the calling instance.
class WabtMemory final : public MemoryAccess {
 public:
  explicit WabtMemory(wi::Store& store) : store_(store) {}

  void bind(wi::Instance& inst) {
    if (bound_) return;
    bound_ = true;
    wi::Module::Ptr mod{store_, inst.module()};
    const auto& exports = mod->export_types();
    for (size_t i = 0; i < exports.size() && i < inst.exports().size(); ++i) {
      if (exports[i].name == "memory" && exports[i].type->kind == wabt::ExternalKind::Memory) {
        memory_ = wi::Memory::Ptr{store_, inst.exports()[i]};
        return;
      }
    }
  }
  uint8_t* data() override { return memory_ ? memory_->UnsafeData() : nullptr; }
  uint64_t size() override { return memory_ ? memory_->ByteSize() : 0; }

 private:
  wi::Store& store_;
  bool bound_ = false;
  wi::Memory::Ptr memory_;
};

class WabtInstance final : public EngineInstance {
 public:
  WabtInstance(const uint8_t* wasm, size_t size, const std::vector<HostImport>& imports, HostDispatch& dispatch,
               const EngineLimits& limits, const std::string& name)
      : store_(engine_features()),
        memory_(store_),
        dispatch_(dispatch),
        call_depth_(limits.call_depth),
        meter_(limits),
        name_(name) {
    decode(wasm, size, limits.memory_pages);
    link(imports);
    instantiate();
  }

  RunOutcome run_start() override {
    wi::Func::Ptr start;
    const auto& exports = module_->export_types();
    for (size_t i = 0; i < exports.size(); ++i) {
      if (exports[i].name == "_start" && exports[i].type->kind == wabt::ExternalKind::Func)
        start = wi::Func::Ptr{store_, instance_->exports()[i]};
    }
    if (!start) throw LoadError(name_ + ": no exported function `_start` (not a WASI command module)");
    if (!start->type().params.empty() || !start->type().results.empty())
      throw LoadError(name_ + ": `_start` has type " + signature(start->type().params, start->type().results) +
                      ", expected () -> ()");

    return execute(start.ref());
  }

  MemoryAccess& memory() override { return memory_; }

 private:
  void decode(const uint8_t* wasm, size_t size, uint32_t page_limit) {
    wabt::Errors errors;
    wi::ModuleDesc desc;
    // Custom sections (names, producers, debug info) never stop a run, as in WasmEdge.
    const wabt::ReadBinaryOptions options(engine_features(), nullptr, /*read_debug_names=*/false,
                                          /*stop_on_first_error=*/true, /*fail_on_custom_section_error=*/false);
    if (wabt::Failed(wi::ReadBinaryInterp(name_, wasm, size, options, &errors, &desc)))
      throw LoadError(name_ + ": invalid WebAssembly module: " + format_errors(errors));
    // Validated: now make deep indirect recursion trap cleanly (see runtime_wabt_guard.cpp).
    std::vector<uint8_t> guarded;
    if (guard_indirect_calls(wasm, size, options.features, &guarded)) {
      wi::ModuleDesc gdesc;
      wabt::Errors gerrors;
      if (wabt::Failed(wi::ReadBinaryInterp(name_, guarded.data(), guarded.size(), options, &gerrors, &gdesc)))
        throw LoadError(name_ + ": internal error: the guarded module does not validate: " + format_errors(gerrors));
      desc = std::move(gdesc);
    }
    limit_memories(desc, page_limit, name_);
    // wabt would run the start function inside Instantiate, unmetered; instantiate() runs it
    // right after, at the same point of the spec's order (after the segments are initialised).
    for (const auto& s : desc.starts) start_funcs_.push_back(s.func_index);
    desc.starts.clear();
    module_ = wi::Module::New(store_, std::move(desc));
  }

  void link(const std::vector<HostImport>& imports) {
    host_ = imports;  // the callbacks below hold references into this copy
    const auto& host = host_;
    std::vector<std::string> problems;
    for (const auto& imp : module_->import_types()) {
      const std::string qual = imp.module + "." + imp.name;
      if (imp.type->kind != wabt::ExternalKind::Func) {
        problems.push_back("import " + qual + " is a " + wi::GetName(imp.type->kind) +
                           "; only function imports can be provided");
        continue;
      }
      const auto& ft = *wabt::cast<wi::FuncType>(imp.type.get());
      size_t found = host.size();
      for (size_t i = 0; i < host.size(); ++i)
        if (host[i].module == imp.module && host[i].name == imp.name) found = i;
      if (found == host.size()) {
        problems.push_back("unknown import " + qual + " " + signature(ft.params, ft.results));
        continue;
      }
      const HostImport& h = host[found];
      if (!same_types(h.params, ft.params) || !same_types(h.results, ft.results)) {
        problems.push_back("import " + qual + " has type " + signature(ft.params, ft.results) +
                           " but the host provides " + signature(h));
        continue;
      }
      auto fn = wi::HostFunc::New(store_, wi::FuncType(ft.params, ft.results),
                                  [this, found, &h](wi::Thread& thread, const wi::Values& params,
                                                    wi::Values& results, wi::Trap::Ptr* out_trap) {
                                    return call_host(found, h, thread, params, results, out_trap);
                                  });
      import_refs_.push_back(fn.ref());
      host_funcs_.push_back(std::move(fn));
    }
    if (!problems.empty()) {
      std::string msg = name_ + ": cannot link module: ";
      for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
      throw LoadError(msg);
    }
  }

  void instantiate() {
    wi::Trap::Ptr trap;
    instance_ = wi::Instance::Instantiate(store_, module_.ref(), import_refs_, &trap);
    if (!instance_)
      throw LoadError(name_ + ": instantiation failed: " + (trap ? trap->message() : std::string("unknown error")));
    memory_.bind(*instance_);
    for (const wi::Ref m : instance_->memories()) pages_.emplace_back(store_, m);
    for (const wi::Index f : start_funcs_) {
      const RunOutcome o = execute(instance_->funcs()[f]);
      switch (o.status) {
        case RunOutcome::Status::Returned: break;
        case RunOutcome::Status::Exited:
          throw LoadError(name_ + ": the start function exited with code " + std::to_string(o.exit_code));
        case RunOutcome::Status::Trapped: throw LoadError(name_ + ": instantiation failed: " + o.message);
        case RunOutcome::Status::LimitExceeded: throw LimitError(o.message);
      }
    }
  }

  // Runs a [] -> [] function on a fresh thread: metered when it is wasm (a start function may
  // also be an imported host function, which runs as a plain call).
  RunOutcome execute(wi::Ref func) {
    wi::Thread thread(store_);
    set_call_depth(thread, call_depth_);
    wi::Trap::Ptr trap;
    exit_code_.reset();
    out_of_time_ = false;
    Meter::Stop stop;
    if (store_.Is<wi::DefinedFunc>(func)) {
      wi::DefinedFunc::Ptr fn{store_, func};
      stop = meter_.run(thread, *fn, &trap, [this] {
        for (auto& p : pages_) p.release();
      });
    } else {
      wi::Func::Ptr fn{store_, func};
      wi::Values params, results;
      stop = wabt::Failed(fn->Call(thread, params, results, &trap)) ? Meter::Stop::Trapped : Meter::Stop::Returned;
    }
    RunOutcome out;
    if (exit_code_) {  // proc_exit unwinds as a trap; the side channel says it was an exit
      out.status = RunOutcome::Status::Exited;
      out.exit_code = *exit_code_;
      return out;
    }
    if (out_of_time_) stop = Meter::Stop::OutOfTime;  // stopped by call_host
    switch (stop) {
      case Meter::Stop::Returned: break;
      case Meter::Stop::Trapped:
        out.status = RunOutcome::Status::Trapped;
        out.message = trap ? trap->message() : std::string("execution failed");
        break;
      case Meter::Stop::Exception:  // wabt's own wording when Func::Call meets one
        out.status = RunOutcome::Status::Trapped;
        out.message = "uncaught exception";
        break;
      case Meter::Stop::OutOfGas:
      case Meter::Stop::OutOfTime:
        out.status = RunOutcome::Status::LimitExceeded;
        out.message = meter_.message(stop);
        break;
    }
    return out;
  }

  wabt::Result call_host(size_t index, const HostImport& h, wi::Thread& thread, const wi::Values& params,
                         wi::Values& results, wi::Trap::Ptr* out_trap) {
    if (wi::Instance* caller = thread.GetCallerInstance()) memory_.bind(*caller);
    uint64_t args[16], res[4] = {0, 0, 0, 0};
    std::vector<uint64_t> big_args;
    uint64_t* a = args;
    if (params.size() > 16) {
      big_args.resize(params.size());
      a = big_args.data();
    }
    for (size_t i = 0; i < params.size(); ++i) a[i] = bits_of(params[i], h.params[i]);
    std::vector<uint64_t> big_res;
    uint64_t* r = res;
    if (h.results.size() > 4) {
      big_res.assign(h.results.size(), 0);
      r = big_res.data();
    }
    const HostOutcome o = dispatch_.call(index, memory_, a, r);
    if (o.status == HostOutcome::Status::Exit) {
      exit_code_ = o.exit_code;
      *out_trap = wi::Trap::New(store_, "proc_exit(" + std::to_string(o.exit_code) + ")");
      return wabt::Result::Error;
    }
    // A call that returns past the deadline ends the run here rather than at the end of the
    // slice: the guest must not go on with an answer the deadline cut short (a wasi-nn
    // computation stopped by its abort check fails with errno 5).
    if (meter_.past_deadline()) {
      out_of_time_ = true;
      *out_trap = wi::Trap::New(store_, meter_.message(Meter::Stop::OutOfTime));
      return wabt::Result::Error;
    }
    if (o.status == HostOutcome::Status::Trap) {
      *out_trap = wi::Trap::New(store_, o.message);
      return wabt::Result::Error;
    }
    results.resize(h.results.size());
    for (size_t i = 0; i < h.results.size(); ++i) results[i] = value_of(r[i], h.results[i]);
    return wabt::Result::Ok;
  }

  // Declared first: every RefPtr below must be released before the store goes.
  wi::Store store_;
  WabtMemory memory_;
  HostDispatch& dispatch_;
  uint32_t call_depth_;
  Meter meter_;
  std::string name_;
  std::vector<wi::Index> start_funcs_;
  std::vector<HostImport> host_;
  std::vector<wi::HostFunc::Ptr> host_funcs_;
  wi::RefVec import_refs_;
  wi::Module::Ptr module_;
  wi::Instance::Ptr instance_;
  std::vector<GuestPages> pages_;
  std::optional<int> exit_code_;
  bool out_of_time_ = false;  // a host call returned past the deadline
};

}  // namespace

std::unique_ptr<EngineInstance> load(const uint8_t* wasm, size_t size, const std::vector<HostImport>& imports,
                                     HostDispatch& dispatch, const EngineLimits& limits, const std::string& name) {
  if (limits.call_depth > kMaxCallDepth)
    throw LoadError("call depth " + std::to_string(limits.call_depth) + " is above the supported maximum " +
                    std::to_string(kMaxCallDepth));
  EngineLimits l = limits;
  if (l.call_depth == 0) l.call_depth = kDefaultCallDepth;
  return std::make_unique<WabtInstance>(wasm, size, imports, dispatch, l, name);
}

}  // namespace nnb::wasm::wabt_engine
