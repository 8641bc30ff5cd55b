// The complete wasi_snapshot_preview1 import list with each function's wasm signature; what
// wasi_core/fd/path.cpp implement is bound to its implementation, the rest answers ENOSYS.
#include <stdexcept>

#include "wasm/wasi_state.h"

namespace nnb::wasm {
namespace {

struct Signature {
  const char* name;
  const char* params;  // one letter per parameter: i = i32, I = i64
  bool returns_errno;  // false only for proc_exit
};

// From the preview1 witx (typenames + wasi_snapshot_preview1.witx), lowered to core wasm types.
constexpr Signature kPreview1[] = {
    {"args_get", "ii", true},
    {"args_sizes_get", "ii", true},
    {"environ_get", "ii", true},
    {"environ_sizes_get", "ii", true},
    {"clock_res_get", "ii", true},
    {"clock_time_get", "iIi", true},
    {"fd_advise", "iIIi", true},
    {"fd_allocate", "iII", true},
    {"fd_close", "i", true},
    {"fd_datasync", "i", true},
    {"fd_fdstat_get", "ii", true},
    {"fd_fdstat_set_flags", "ii", true},
    {"fd_fdstat_set_rights", "iII", true},
    {"fd_filestat_get", "ii", true},
    {"fd_filestat_set_size", "iI", true},
    {"fd_filestat_set_times", "iIIi", true},
    {"fd_pread", "iiiIi", true},
    {"fd_prestat_get", "ii", true},
    {"fd_prestat_dir_name", "iii", true},
    {"fd_pwrite", "iiiIi", true},
    {"fd_read", "iiii", true},
    {"fd_readdir", "iiiIi", true},
    {"fd_renumber", "ii", true},
    {"fd_seek", "iIii", true},
    {"fd_sync", "i", true},
    {"fd_tell", "ii", true},
    {"fd_write", "iiii", true},
    {"path_create_directory", "iii", true},
    {"path_filestat_get", "iiiii", true},
    {"path_filestat_set_times", "iiiiIIi", true},
    {"path_link", "iiiiiii", true},
    {"path_open", "iiiiiIIii", true},
    {"path_readlink", "iiiiii", true},
    {"path_remove_directory", "iii", true},
    {"path_rename", "iiiiii", true},
    {"path_symlink", "iiiii", true},
    {"path_unlink_file", "iii", true},
    {"poll_oneoff", "iiii", true},
    {"proc_exit", "i", false},
    {"proc_raise", "i", true},
    {"sched_yield", "", true},
    {"random_get", "ii", true},
    {"sock_accept", "iii", true},
    {"sock_recv", "iiiiii", true},
    {"sock_send", "iiiii", true},
    {"sock_shutdown", "ii", true},
};

}  // namespace

std::vector<HostFunction> wasi_functions(WasiHost& host) {
  wasi::Registry impls;
  wasi::register_core(host, impls);
  wasi::register_fd(host, impls);
  wasi::register_path(host, impls);

  std::vector<HostFunction> out;
  for (const Signature& s : kPreview1) {
    HostFunction f;
    f.module = "wasi_snapshot_preview1";
    f.name = s.name;
    for (const char* p = s.params; *p; ++p) f.params.push_back(*p == 'I' ? ValType::I64 : ValType::I32);
    if (s.returns_errno) f.results.push_back(ValType::I32);
    auto it = impls.find(s.name);
    if (it == impls.end()) {
      f.fn = [](GuestMemory&, std::span<const Value>, std::span<Value> results) {
        results[0] = Value::from_i32(wasi::kNosys);
      };
    } else {
      f.fn = [impl = it->second](GuestMemory& mem, std::span<const Value> args, std::span<Value> results) {
        const uint16_t err = impl(mem, args);
        if (!results.empty()) results[0] = Value::from_i32(err);
      };
    }
    out.push_back(std::move(f));
  }
  // Every implementation must be listed above with its signature, or it would be dead code.
  for (const auto& [name, impl] : impls) {
    bool listed = false;
    for (const Signature& s : kPreview1) listed = listed || name == s.name;
    if (!listed) throw std::logic_error("WASI function '" + name + "' has no preview1 signature");
  }
  return out;
}

}  // namespace nnb::wasm
