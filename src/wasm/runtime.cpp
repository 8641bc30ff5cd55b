// runtime.h over the wabt engine (runtime_wabt.h): converts host functions and values between
// the two interfaces and turns every exception a host function throws into an engine outcome,
// so that none ever unwinds through the interpreter.
#include <cstring>
#include <string>
#include <utility>

#include "wasm/runtime.h"
#include "wasm/runtime_wabt.h"

namespace nnb::wasm {
namespace {

namespace we = wabt_engine;

we::Kind to_kind(ValType t) {
  switch (t) {
    case ValType::I32: return we::Kind::I32;
    case ValType::I64: return we::Kind::I64;
    case ValType::F32: return we::Kind::F32;
    case ValType::F64: return we::Kind::F64;
  }
  return we::Kind::I32;
}

Value to_value(uint64_t bits, ValType t) {
  Value v;
  v.type = t;
  switch (t) {
    case ValType::I32: v.i32 = uint32_t(bits); break;
    case ValType::I64: v.i64 = bits; break;
    case ValType::F32: {
      const uint32_t b = uint32_t(bits);
      std::memcpy(&v.f32, &b, 4);
      break;
    }
    case ValType::F64: std::memcpy(&v.f64, &bits, 8); break;
  }
  return v;
}

uint64_t to_bits(const Value& v, ValType t) {
  switch (t) {
    case ValType::I32: return v.i32;
    case ValType::I64: return v.i64;
    case ValType::F32: {
      uint32_t b;
      std::memcpy(&b, &v.f32, 4);
      return b;
    }
    case ValType::F64: {
      uint64_t b;
      std::memcpy(&b, &v.f64, 8);
      return b;
    }
  }
  return 0;
}

class EngineMemory final : public GuestMemory {
 public:
  explicit EngineMemory(we::MemoryAccess& m) : m_(&m) {}
  uint8_t* data() override { return m_->data(); }
  uint64_t size() const override { return m_->size(); }

 private:
  we::MemoryAccess* m_;
};

class Dispatcher final : public we::HostDispatch {
 public:
  explicit Dispatcher(std::vector<HostFunction> fns) : fns_(std::move(fns)) {}

  const std::vector<HostFunction>& functions() const { return fns_; }

  we::HostOutcome call(size_t index, we::MemoryAccess& memory, const uint64_t* args, uint64_t* results) override {
    const HostFunction& f = fns_[index];
    we::HostOutcome out;
    try {
      std::vector<Value> argv(f.params.size()), resv(f.results.size());
      for (size_t i = 0; i < argv.size(); ++i) argv[i] = to_value(args[i], f.params[i]);
      for (size_t i = 0; i < resv.size(); ++i) resv[i] = to_value(0, f.results[i]);
      EngineMemory mem(memory);
      f.fn(mem, argv, resv);
      for (size_t i = 0; i < resv.size(); ++i) results[i] = to_bits(resv[i], f.results[i]);
    } catch (const ProcExit& e) {
      out.status = we::HostOutcome::Status::Exit;
      out.exit_code = e.code;
    } catch (const Trap& e) {
      out.status = we::HostOutcome::Status::Trap;
      out.message = e.what();
    } catch (const std::exception& e) {
      out.status = we::HostOutcome::Status::Trap;
      out.message = "host function " + f.module + "." + f.name + " failed: " + e.what();
    } catch (...) {
      out.status = we::HostOutcome::Status::Trap;
      out.message = "host function " + f.module + "." + f.name + " failed with an unknown exception";
    }
    return out;
  }

 private:
  std::vector<HostFunction> fns_;
};

class EngineBackedInstance final : public Instance {
 public:
  EngineBackedInstance(std::unique_ptr<Dispatcher> dispatch, std::unique_ptr<we::EngineInstance> engine)
      : dispatch_(std::move(dispatch)), engine_(std::move(engine)), memory_(engine_->memory()) {}

  int run_start() override {
    we::RunOutcome o;
    try {
      o = engine_->run_start();
    } catch (const we::LoadError& e) {
      throw WasmError(e.what());
    }
    switch (o.status) {
      case we::RunOutcome::Status::Returned: return 0;
      case we::RunOutcome::Status::Exited: return o.exit_code;
      case we::RunOutcome::Status::Trapped: throw Trap(o.message);
      case we::RunOutcome::Status::LimitExceeded: throw LimitExceeded(o.message);
    }
    return 0;
  }

  GuestMemory& memory() override { return memory_; }

 private:
  std::unique_ptr<Dispatcher> dispatch_;  // outlives the engine, which calls into it
  std::unique_ptr<we::EngineInstance> engine_;
  EngineMemory memory_;
};

}  // namespace

std::unique_ptr<Instance> instantiate(std::span<const uint8_t> wasm, const std::vector<HostFunction>& host,
                                      const RuntimeOptions& options, std::string_view name) {
  std::vector<we::HostImport> imports;
  imports.reserve(host.size());
  for (const auto& f : host) {
    we::HostImport h{f.module, f.name, {}, {}};
    for (auto t : f.params) h.params.push_back(to_kind(t));
    for (auto t : f.results) h.results.push_back(to_kind(t));
    imports.push_back(std::move(h));
  }
  we::EngineLimits limits;
  limits.call_depth = options.max_call_depth;
  limits.memory_pages = options.memory_page_limit;
  limits.has_gas = options.gas_limit.has_value();
  limits.gas = options.gas_limit.value_or(0);
  limits.time_ms = options.time_limit_ms;
  limits.deadline = options.deadline;
  auto dispatch = std::make_unique<Dispatcher>(host);
  try {
    auto engine = we::load(wasm.data(), wasm.size(), imports, *dispatch, limits, std::string(name));
    return std::make_unique<EngineBackedInstance>(std::move(dispatch), std::move(engine));
  } catch (const we::LoadError& e) {
    throw WasmError(e.what());
  } catch (const we::LimitError& e) {
    throw LimitExceeded(e.what());
  }
}

}  // namespace nnb::wasm
