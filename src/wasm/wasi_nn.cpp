#include "wasm/wasi_nn.h"

#include <cstdio>
#include <new>
#include <string>
#include <utility>

#include "wasm/wasi_nn_abi.h"

namespace nnb::wasm {

using nn::Errno;

WasiNnHost::WasiNnHost(std::shared_ptr<nn::Backend> b) : backend(std::move(b)) {
  log = [](std::string_view line) { std::fprintf(stderr, "%.*s\n", int(line.size()), line.data()); };
}

namespace {

using Body = std::function<Errno(GuestMemory& mem, std::span<const Value> args)>;

// At most this many distinct failure lines are counted; past it, new ones are still printed
// once each but not counted (a guest cannot grow the map without bound).
constexpr size_t kMaxDistinctReports = 1024;

// Prints a failure for the person running the app: the guest gets only the errno, and apps
// mostly turn that into a bare panic. Repeats are rate-limited (1st, 10th, 100th ...).
void report_failure(WasiNnHost& host, const char* fn, Errno rc, const std::string& message) {
  if (!host.log || rc == Errno::EndOfSequence) return;
  if (host.abort_check && host.abort_check()) return;
  const std::string line = std::string("nnbridge: wasi-nn ") + fn + " failed: errno=" + std::to_string(uint32_t(rc)) +
                           " (" + std::string(nn::errno_name(rc)) + "): " + message;
  auto it = host.reported.find(line);
  if (it == host.reported.end()) {
    if (host.reported.size() < kMaxDistinctReports) host.reported.emplace(line, 1);
    host.log(line);
    return;
  }
  uint64_t n = ++it->second, p = 1;
  while (p < n && p <= UINT64_MAX / 10) p *= 10;
  if (p == n) host.log(line + " [" + std::to_string(n) + " times]");
}

// One import: n i32 params → i32 errno. The body's failures become errnos here, so no C++
// exception from a backend ever unwinds through the wasm engine: nn::Error carries its own
// errno, anything else is unexpected (errno 5). Every failure is reported (report_failure).
HostFunction import(WasiNnHost& host, const char* name, size_t nparams, Body body) {
  HostFunction f;
  f.module = "wasi_ephemeral_nn";
  f.name = name;
  f.params.assign(nparams, ValType::I32);
  f.results = {ValType::I32};
  f.fn = [&host, name, body = std::move(body)](GuestMemory& mem, std::span<const Value> args,
                                                std::span<Value> results) {
    Errno rc = Errno::RuntimeError;
    try {
      rc = body(mem, args);
    } catch (const nn::Error& e) {
      rc = e.code();
      report_failure(host, name, rc, e.what());
    } catch (const Trap&) {
      throw;  // a deliberate trap of the guest (none today) must reach the engine
    } catch (const std::bad_alloc&) {
      report_failure(host, name, rc, "out of host memory");
    } catch (const std::exception& e) {
      report_failure(host, name, rc, e.what());
    }
    results[0] = Value::from_i32(uint32_t(rc));
  };
  return f;
}

std::shared_ptr<nn::Graph> graph_of(WasiNnHost& host, uint32_t handle) {
  auto g = host.graphs.get(handle);
  if (!g) throw nn::Error(Errno::InvalidArgument, "unknown graph handle " + std::to_string(handle));
  return g;
}

std::shared_ptr<nn::ExecutionContext> context_of(WasiNnHost& host, uint32_t handle) {
  auto c = host.contexts.get(handle);
  if (!c) throw nn::Error(Errno::InvalidArgument, "unknown execution context handle " + std::to_string(handle));
  return c;
}

// The out-pointer is checked before the load so that a bad pointer cannot leak a graph.
Errno publish_graph(WasiNnHost& host, GuestMemory& mem, uint32_t out_ptr, std::shared_ptr<nn::Graph> g) {
  const uint32_t h = host.graphs.insert(std::move(g));
  mem.write_u32(out_ptr, h);  // checked by the caller; the memory cannot move during a host call
  return Errno::Success;
}

// get_output / get_output_single: copy the whole output or nothing. Too small a buffer →
// TooLarge with the needed size in *bytes_written (COMPAT §4), never a silent truncation.
Errno copy_output(GuestMemory& mem, const std::vector<uint8_t>& out, uint32_t out_ptr, uint32_t out_max,
                  uint32_t written_ptr) {
  if (out.size() > UINT32_MAX) throw nn::Error(Errno::TooLarge, "output over 4 GiB");
  const uint32_t n = uint32_t(out.size());
  if (n > out_max) {
    mem.write_u32(written_ptr, n);
    return Errno::TooLarge;
  }
  mem.write_bytes(out_ptr, out);
  mem.write_u32(written_ptr, n);
  return Errno::Success;
}

}  // namespace

std::vector<HostFunction> wasi_nn_functions(WasiNnHost& host) {
  std::vector<HostFunction> fns;
  WasiNnHost* h = &host;

  fns.push_back(import(host, "load", 5, [h](GuestMemory& mem, std::span<const Value> a) {
    const uint32_t out = a[4].i32;
    nnabi::check_range(mem, out, 4, "graph out-pointer");
    auto builders = nnabi::read_builders(mem, a[0].i32, a[1].i32);
    auto g = h->backend->load(builders, nn::GraphEncoding(a[2].i32), nn::ExecutionTarget(a[3].i32));
    return publish_graph(*h, mem, out, std::move(g));
  }));

  fns.push_back(import(host, "load_by_name", 3, [h](GuestMemory& mem, std::span<const Value> a) {
    const uint32_t out = a[2].i32;
    auto name = nnabi::read_string(mem, a[0].i32, a[1].i32, "model name");
    nnabi::check_range(mem, out, 4, "graph out-pointer");
    return publish_graph(*h, mem, out, h->backend->load_by_name(name, {}));
  }));

  fns.push_back(import(host, "load_by_name_with_config", 5, [h](GuestMemory& mem, std::span<const Value> a) {
    const uint32_t out = a[4].i32;
    auto name = nnabi::read_string(mem, a[0].i32, a[1].i32, "model name");
    auto config = nnabi::read_string(mem, a[2].i32, a[3].i32, "config");
    nnabi::check_range(mem, out, 4, "graph out-pointer");
    return publish_graph(*h, mem, out, h->backend->load_by_name(name, config));
  }));

  fns.push_back(import(host, "init_execution_context", 2, [h](GuestMemory& mem, std::span<const Value> a) {
    auto g = graph_of(*h, a[0].i32);
    const uint32_t out = a[1].i32;
    nnabi::check_range(mem, out, 4, "context out-pointer");
    std::shared_ptr<nn::ExecutionContext> ctx = g->init_execution_context();
    if (h->abort_check) ctx->set_abort_check(h->abort_check);
    mem.write_u32(out, h->contexts.insert(std::move(ctx)));
    return Errno::Success;
  }));

  fns.push_back(import(host, "set_input", 3, [h](GuestMemory& mem, std::span<const Value> a) {
    auto ctx = context_of(*h, a[0].i32);
    nnabi::GuestTensor t;
    nnabi::read_tensor(mem, a[2].i32, t);
    ctx->set_input(a[1].i32, t.view);
    return Errno::Success;
  }));

  fns.push_back(import(host, "compute", 1, [h](GuestMemory&, std::span<const Value> a) {
    context_of(*h, a[0].i32)->compute();
    return Errno::Success;
  }));

  fns.push_back(import(host, "get_output", 5, [h](GuestMemory& mem, std::span<const Value> a) {
    auto ctx = context_of(*h, a[0].i32);
    nnabi::check_range(mem, a[2].i32, a[3].i32, "output buffer");
    nnabi::check_range(mem, a[4].i32, 4, "bytes_written pointer");
    return copy_output(mem, ctx->get_output(a[1].i32), a[2].i32, a[3].i32, a[4].i32);
  }));

  fns.push_back(import(host, "compute_single", 1, [h](GuestMemory&, std::span<const Value> a) {
    context_of(*h, a[0].i32)->compute_single();
    return Errno::Success;
  }));

  fns.push_back(import(host, "get_output_single", 5, [h](GuestMemory& mem, std::span<const Value> a) {
    auto ctx = context_of(*h, a[0].i32);
    nnabi::check_range(mem, a[2].i32, a[3].i32, "output buffer");
    nnabi::check_range(mem, a[4].i32, 4, "bytes_written pointer");
    return copy_output(mem, ctx->get_output_single(a[1].i32), a[2].i32, a[3].i32, a[4].i32);
  }));

  fns.push_back(import(host, "fini_single", 1, [h](GuestMemory&, std::span<const Value> a) {
    context_of(*h, a[0].i32)->fini_single();
    return Errno::Success;
  }));

  // The backend forgets the graph first; only then is the handle freed, so a backend that
  // cannot unload (a WasmEdge server: UnsupportedOperation) leaves the handle usable.
  // Contexts made from the graph keep their own references and stay valid.
  fns.push_back(import(host, "unload", 1, [h](GuestMemory&, std::span<const Value> a) {
    auto g = graph_of(*h, a[0].i32);
    h->backend->unload(g);
    h->graphs.erase(a[0].i32);
    return Errno::Success;
  }));

  return fns;
}

}  // namespace nnb::wasm
