// Internals shared by the WASI sources: the guest's descriptor table, host errno → WASI errno,
// little-endian guest-memory helpers and the table the function files register into.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "wasm/runtime.h"
#include "wasm/wasi.h"
#include "wasm/wasi_abi.h"

namespace nnb::wasm::wasi {

// One guest descriptor. Guest fds 0-2 borrow the host's stdio (not closed); every other entry
// owns its host fd.
struct FdEntry {
  int host_fd = -1;
  bool owned = true;
  uint8_t filetype = kFtUnknown;
  uint64_t rights_base = 0, rights_inheriting = 0;
  bool readonly = false;       // inherited from a read-only preopen: nothing beneath it may change
  std::string preopen_name;    // set for preopened directories only
  bool is_preopen = false;
};

class FdTable {
 public:
  FdTable() = default;
  ~FdTable();
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  FdEntry* get(uint32_t fd);
  // Places `e` at the lowest free number (from 0); returns it, or nullopt when the guest
  // already has too many descriptors (the host fd is then closed).
  std::optional<uint32_t> insert(FdEntry e);
  void put(uint32_t fd, FdEntry e);  // at exactly `fd` (stdio, preopens, renumber)
  // Removes the entry and closes its host fd if owned. False if there was none.
  bool close(uint32_t fd);
  // Moves `from` onto `to` (closing what `to` held); false if either is not open.
  bool renumber(uint32_t from, uint32_t to);

 private:
  static constexpr size_t kMaxFds = 16384;
  std::map<uint32_t, FdEntry> fds_;
};

// WASI errno for a host errno value.
uint16_t from_host_errno(int e);
// WASI filetype of a host st_mode.
uint8_t filetype_of_mode(unsigned mode);

// Host fd with close-on-destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Little-endian guest-memory access; every helper returns false for a range outside memory.
bool put_u8(GuestMemory& m, uint32_t ptr, uint8_t v);
bool put_u16(GuestMemory& m, uint32_t ptr, uint16_t v);
bool put_u32(GuestMemory& m, uint32_t ptr, uint32_t v);
bool put_u64(GuestMemory& m, uint32_t ptr, uint64_t v);
bool get_u8(GuestMemory& m, uint32_t ptr, uint8_t* v);
bool get_u16(GuestMemory& m, uint32_t ptr, uint16_t* v);
bool get_u32(GuestMemory& m, uint32_t ptr, uint32_t* v);
bool get_u64(GuestMemory& m, uint32_t ptr, uint64_t* v);
// The 64-byte filestat struct for `st` at ptr (kFault when out of bounds).
uint16_t put_filestat(GuestMemory& m, uint32_t ptr, const struct stat& st);
// Guest string [ptr, ptr+len) copied out; nullopt when out of bounds.
std::optional<std::string> get_string(GuestMemory& m, uint32_t ptr, uint32_t len);

// Argument i as the witx type says (every handle, pointer and size is an i32).
inline uint32_t a32(std::span<const Value> a, size_t i) { return a[i].i32; }
inline uint64_t a64(std::span<const Value> a, size_t i) { return a[i].i64; }

// Implementations receive the raw arguments and return a WASI errno (proc_exit throws
// ProcExit instead of returning).
using Impl = std::function<uint16_t(GuestMemory& mem, std::span<const Value> args)>;
using Registry = std::map<std::string, Impl, std::less<>>;

void register_core(WasiHost& host, Registry& r);  // args, environ, clocks, random, proc, sched, poll
void register_fd(WasiHost& host, Registry& r);    // fd_*
void register_path(WasiHost& host, Registry& r);  // path_*

}  // namespace nnb::wasm::wasi

namespace nnb::wasm {

struct WasiHost::State {
  WasiOptions options;
  wasi::FdTable fds;
};

}  // namespace nnb::wasm
