// The memory page limit and untouched guest pages that cost no resident memory (see
// runtime_wabt_limits.h for why it works this way). wabt's Memory keeps its bytes in a private
// std::vector<u8>; it is named here through an explicit template instantiation, as
// runtime_wabt_depth.cpp names Thread's frames, and only used through std::vector's own API
// (reserve, data, size, capacity).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

#include "wasm/runtime_wabt_limits.h"

namespace nnb::wasm::wabt_engine {
namespace wi = wabt::interp;

namespace {

using BytesMember = wi::Buffer wi::Memory::*;

struct BytesTag {
  friend BytesMember bytes_member(BytesTag);
};

template <BytesMember M>
struct BytesAccess {
  friend BytesMember bytes_member(BytesTag) { return M; }
};
template struct BytesAccess<&wi::Memory::data_>;

using TypeMember = wi::MemoryType wi::Memory::*;

struct TypeTag {
  friend TypeMember type_member(TypeTag);
};

template <TypeMember M>
struct TypeAccess {
  friend TypeMember type_member(TypeTag) { return M; }
};
template struct TypeAccess<&wi::Memory::type_>;

constexpr uint64_t kWasmPage = 65536;

// "3 pages (192 KiB)", "65536 pages (4 GiB)"
std::string pages_text(uint64_t pages) {
  const uint64_t kib = pages * (kWasmPage / 1024);
  std::string size = kib % (1024 * 1024) == 0 && kib ? std::to_string(kib / (1024 * 1024)) + " GiB"
                     : kib % 1024 == 0 && kib     ? std::to_string(kib / 1024) + " MiB"
                                                  : std::to_string(kib) + " KiB";
  return std::to_string(pages) + (pages == 1 ? " page (" : " pages (") + size + ")";
}

// True when every byte of [lo, hi) lies in private anonymous mappings (no file, not shared),
// the only kind where MADV_DONTNEED means "reads as zeros from now on".
bool private_anonymous(uintptr_t lo, uintptr_t hi) {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (!maps) return false;
  char line[512];
  uintptr_t covered = lo;
  while (covered < hi && std::fgets(line, sizeof line, maps)) {
    uintmax_t start = 0, end = 0, offset = 0, inode = 0;
    unsigned major = 0, minor = 0;
    char perms[8] = {};
    if (std::sscanf(line, "%jx-%jx %7s %jx %x:%x %ju", &start, &end, perms, &offset, &major, &minor, &inode) != 7)
      break;
    if (end <= covered) continue;
    if (start > covered) break;  // a hole: not mapped
    if (perms[3] != 'p' || inode != 0 || major != 0 || minor != 0) break;
    covered = uintptr_t(end);
  }
  std::fclose(maps);
  return covered >= hi;
}

bool all_zero(const uint8_t* p, size_t n) {
  // Word-wise OR in blocks, leaving at the first block with a set bit (a touched page usually
  // shows one early).
  const size_t kBlock = 256;
  for (size_t at = 0; at < n; at += kBlock) {
    uint64_t acc = 0;
    for (size_t i = 0; i < kBlock; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + at + i, 8);
      acc |= w;
    }
    if (acc) return false;
  }
  return true;
}

}  // namespace

void limit_memories(wi::ModuleDesc& desc, uint32_t page_limit, const std::string& name) {
  const uint64_t limit = std::min<uint64_t>(page_limit, kMaxMemoryPages);
  for (size_t i = 0; i < desc.memories.size(); ++i) {
    wabt::Limits& l = desc.memories[i].type.limits;
    if (l.initial > limit)
      throw LoadError(name + ": memory " + std::to_string(i) + " needs " + pages_text(l.initial) +
                      " to start, over the memory page limit of " + pages_text(limit) + " (--memory-page-limit)");
    // MemoryType always sets max (wasm32's 65536 when the module declares none).
    if (!l.has_max || l.max > limit) {
      l.max = limit;
      l.has_max = true;
    }
  }
}

GuestPages::GuestPages(wi::Store& store, wi::Ref memory) : memory_(store, memory) {
  wi::Buffer& bytes = (*memory_).*bytes_member(BytesTag{});
  wabt::Limits& limits = ((*memory_).*type_member(TypeTag{})).limits;
  // Where the whole maximum cannot be reserved (overcommit refuses an allocation larger than
  // RAM + swap, e.g. 4 GiB in a small VM), the largest half of it that can be.
  for (uint64_t want = limits.max * kWasmPage; want > bytes.capacity(); want /= 2) {
    try {
      bytes.reserve(size_t(want));
      break;
    } catch (const std::bad_alloc&) {
    } catch (const std::length_error&) {
    }
  }
  // The memory's maximum becomes what was reserved: memory.grow past it returns -1 (the spec
  // lets a grow fail for lack of resources; WasmEdge's does when its allocation fails), where
  // wabt would otherwise reallocate and, out of memory, throw std::bad_alloc through the
  // interpreter.
  limits.max = std::max<uint64_t>(memory_->PageSize(), std::min<uint64_t>(limits.max, bytes.capacity() / kWasmPage));
  release();
}

void GuestPages::release() {
  const wi::Buffer& bytes = (*memory_).*bytes_member(BytesTag{});
  const uint8_t* data = bytes.data();
  const uint64_t size = bytes.size();
  if (data == seen_data_ && size == scanned_) return;  // the common case: nothing grew
  if (data != seen_data_) {
    // The first call (the buffer cannot move afterwards: growth stays within the reservation,
    // but should it ever move, it is checked and scanned whole again): find out what kind of
    // memory it is.
    seen_data_ = data;
    scanned_ = 0;
    releasable_ = data && bytes.capacity() > 0 &&
                  private_anonymous(uintptr_t(data), uintptr_t(data) + bytes.capacity());
  }
  const uint64_t from = scanned_;
  scanned_ = size;
  if (!releasable_) return;
  static const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  // Only whole host pages inside [from, size): the bytes around them may be the guest's.
  const uintptr_t lo = (uintptr_t(data) + from + page - 1) & ~(page - 1);
  const uintptr_t hi = (uintptr_t(data) + size) & ~(page - 1);
  uintptr_t run = 0;  // start of a run of all-zero pages, 0: none
  auto flush = [&](uintptr_t end) {
    if (run && end > run && madvise(reinterpret_cast<void*>(run), end - run, MADV_DONTNEED) != 0)
      releasable_ = false;  // e.g. locked pages: leave them, and stop trying
    run = 0;
  };
  for (uintptr_t p = lo; p < hi && releasable_; p += page) {
    if (all_zero(reinterpret_cast<const uint8_t*>(p), page)) {
      if (!run) run = p;
    } else {
      flush(p);
    }
  }
  if (releasable_) flush(hi);
}

}  // namespace nnb::wasm::wabt_engine
