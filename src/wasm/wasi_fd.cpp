// WASI fd_* functions over the descriptor table. Data moves with readv/writev straight between
// the host descriptor and guest memory; every guest range is checked first (EFAULT).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "wasm/wasi_state.h"

namespace nnb::wasm::wasi {
namespace {

constexpr uint32_t kMaxIovecs = 1024;  // IOV_MAX on Linux; more is a short read/write

// Host iovecs over the guest's iovec array.
uint16_t gather(GuestMemory& m, uint32_t iovs, uint32_t n, std::vector<iovec>& out) {
  if (!m.range(iovs, uint32_t(std::min<uint64_t>(uint64_t(n) * kIovecSize, UINT32_MAX)))) return kFault;
  n = std::min(n, kMaxIovecs);
  out.clear();
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t buf = 0, len = 0;
    if (!get_u32(m, iovs + i * kIovecSize, &buf) || !get_u32(m, iovs + i * kIovecSize + 4, &len)) return kFault;
    auto r = m.range(buf, len);
    if (!r) return kFault;
    out.push_back(iovec{r->data(), r->size()});
  }
  return kSuccess;
}

template <typename F>
ssize_t retry(F f) {
  ssize_t n;
  do n = f();
  while (n < 0 && errno == EINTR);
  return n;
}

timespec to_timespec(uint64_t t, uint16_t flags, uint16_t set_bit, uint16_t now_bit) {
  if (flags & now_bit) return timespec{0, UTIME_NOW};
  if (flags & set_bit) return timespec{time_t(t / 1000000000ull), long(t % 1000000000ull)};
  return timespec{0, UTIME_OMIT};
}

uint8_t dirent_type(unsigned char t) {
  switch (t) {
    case DT_REG: return kFtRegularFile;
    case DT_DIR: return kFtDirectory;
    case DT_LNK: return kFtSymbolicLink;
    case DT_CHR: return kFtCharacterDevice;
    case DT_BLK: return kFtBlockDevice;
    case DT_SOCK: return kFtSocketStream;
    default: return kFtUnknown;
  }
}

// fd_readdir: entries from index `cookie` on, each a 24-byte dirent plus its name; the last
// one may be cut off, which tells the guest the buffer was full (the spec's convention).
uint16_t readdir_into(int dir_fd, GuestMemory& m, uint32_t buf, uint32_t buf_len, uint64_t cookie, uint32_t* used) {
  const int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // own offset
  if (fd < 0) return from_host_errno(errno);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    const int e = errno;
    ::close(fd);
    return from_host_errno(e);
  }
  uint64_t index = 0;
  uint32_t n = 0;
  errno = 0;
  while (n < buf_len) {
    const dirent* de = ::readdir(d);
    if (!de) break;
    if (index++ < cookie) continue;
    const uint32_t namlen = uint32_t(std::strlen(de->d_name));
    uint8_t head[kDirentSize] = {};
    for (int i = 0; i < 8; ++i) head[i] = uint8_t(index >> (8 * i));  // d_next
    for (int i = 0; i < 8; ++i) head[8 + i] = uint8_t(uint64_t(de->d_ino) >> (8 * i));
    for (int i = 0; i < 4; ++i) head[16 + i] = uint8_t(namlen >> (8 * i));
    head[20] = dirent_type(de->d_type);
    std::vector<uint8_t> rec(head, head + kDirentSize);
    rec.insert(rec.end(), de->d_name, de->d_name + namlen);
    const uint32_t take = std::min<uint32_t>(uint32_t(rec.size()), buf_len - n);
    auto r = m.range(buf + n, take);
    if (!r) {
      ::closedir(d);
      return kFault;
    }
    std::memcpy(r->data(), rec.data(), take);
    n += take;
  }
  ::closedir(d);
  *used = n;
  return kSuccess;
}

}  // namespace

void register_fd(WasiHost& host, Registry& r) {
  auto& fds = host.state().fds;

  auto rw = [&fds](bool write, bool positioned) {
    return [&fds, write, positioned](GuestMemory& m, std::span<const Value> a) -> uint16_t {
      FdEntry* e = fds.get(a32(a, 0));
      if (!e) return kBadf;
      const uint32_t out_ptr = a32(a, positioned ? 4 : 3);
      const uint64_t offset = positioned ? a64(a, 3) : 0;
      if (positioned && offset > uint64_t(INT64_MAX)) return kInval;
      if (!m.range(out_ptr, 4)) return kFault;
      std::vector<iovec> iov;
      if (uint16_t err = gather(m, a32(a, 1), a32(a, 2), iov)) return err;
      const int fd = e->host_fd;
      const ssize_t n = retry([&] {
        if (write)
          return positioned ? ::pwritev(fd, iov.data(), int(iov.size()), off_t(offset))
                            : ::writev(fd, iov.data(), int(iov.size()));
        return positioned ? ::preadv(fd, iov.data(), int(iov.size()), off_t(offset))
                          : ::readv(fd, iov.data(), int(iov.size()));
      });
      if (n < 0) return from_host_errno(errno);
      put_u32(m, out_ptr, uint32_t(n));
      return kSuccess;
    };
  };
  r["fd_read"] = rw(false, false);
  r["fd_write"] = rw(true, false);
  r["fd_pread"] = rw(false, true);
  r["fd_pwrite"] = rw(true, true);

  r["fd_seek"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    const int64_t off = int64_t(a64(a, 1));
    int whence;
    switch (a32(a, 2) & 0xff) {
      case kWhenceSet: whence = SEEK_SET; break;
      case kWhenceCur: whence = SEEK_CUR; break;
      case kWhenceEnd: whence = SEEK_END; break;
      default: return kInval;
    }
    if (!m.range(a32(a, 3), 8)) return kFault;
    const off_t pos = ::lseek(e->host_fd, off_t(off), whence);
    if (pos < 0) return from_host_errno(errno);
    put_u64(m, a32(a, 3), uint64_t(pos));
    return kSuccess;
  };
  r["fd_tell"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    if (!m.range(a32(a, 1), 8)) return kFault;
    const off_t pos = ::lseek(e->host_fd, 0, SEEK_CUR);
    if (pos < 0) return from_host_errno(errno);
    put_u64(m, a32(a, 1), uint64_t(pos));
    return kSuccess;
  };
  r["fd_close"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    return fds.close(a32(a, 0)) ? kSuccess : kBadf;
  };
  r["fd_renumber"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    return fds.renumber(a32(a, 0), a32(a, 1)) ? kSuccess : kBadf;
  };

  r["fd_fdstat_get"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    const uint32_t p = a32(a, 1);
    auto range = m.range(p, kFdstatSize);
    if (!range) return kFault;
    const int fl = ::fcntl(e->host_fd, F_GETFL);
    uint16_t flags = 0;
    if (fl >= 0) {
      if (fl & O_APPEND) flags |= kFdflagAppend;
      if (fl & O_NONBLOCK) flags |= kFdflagNonblock;
      if ((fl & O_SYNC) == O_SYNC) flags |= kFdflagSync;
      else if (fl & O_DSYNC) flags |= kFdflagDsync;
    }
    std::fill(range->begin(), range->end(), uint8_t(0));
    put_u8(m, p, e->filetype);
    put_u16(m, p + 2, flags);
    put_u64(m, p + 8, e->rights_base);
    put_u64(m, p + 16, e->rights_inheriting);
    return kSuccess;
  };
  r["fd_fdstat_set_flags"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    const uint16_t want = uint16_t(a32(a, 1));
    // fds 0-2 share the host's open file descriptions (the user's terminal or files): a flag
    // set there would outlive the guest and affect the host's own I/O.
    if (!e->owned) return kNotsup;
    // Linux can change only O_APPEND and O_NONBLOCK on an open descriptor.
    if (want & (kFdflagDsync | kFdflagRsync | kFdflagSync)) return kNotsup;
    const int fl = ::fcntl(e->host_fd, F_GETFL);
    if (fl < 0) return from_host_errno(errno);
    int nfl = fl & ~(O_APPEND | O_NONBLOCK);
    if (want & kFdflagAppend) nfl |= O_APPEND;
    if (want & kFdflagNonblock) nfl |= O_NONBLOCK;
    if (::fcntl(e->host_fd, F_SETFL, nfl) < 0) return from_host_errno(errno);
    return kSuccess;
  };
  r["fd_fdstat_set_rights"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    const uint64_t base = a64(a, 1), inh = a64(a, 2);
    if ((base & ~e->rights_base) || (inh & ~e->rights_inheriting)) return kNotcapable;  // rights only shrink
    e->rights_base = base;
    e->rights_inheriting = inh;
    return kSuccess;
  };
  r["fd_filestat_get"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    struct stat st {};
    if (::fstat(e->host_fd, &st) < 0) return from_host_errno(errno);
    return put_filestat(m, a32(a, 1), st);
  };
  r["fd_filestat_set_size"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    if (e->readonly) return kRofs;
    if (!e->owned) return kNotcapable;  // borrowed host stdio: its files are not the guest's to change
    if (a64(a, 1) > uint64_t(INT64_MAX)) return kInval;
    return ::ftruncate(e->host_fd, off_t(a64(a, 1))) < 0 ? from_host_errno(errno) : kSuccess;
  };
  r["fd_filestat_set_times"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    if (e->readonly) return kRofs;
    if (!e->owned) return kNotcapable;  // borrowed host stdio: its files are not the guest's to change
    const uint16_t f = uint16_t(a32(a, 3));
    const timespec ts[2] = {to_timespec(a64(a, 1), f, kFstAtim, kFstAtimNow),
                            to_timespec(a64(a, 2), f, kFstMtim, kFstMtimNow)};
    return ::futimens(e->host_fd, ts) < 0 ? from_host_errno(errno) : kSuccess;
  };
  r["fd_advise"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    static const int kAdvice[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL, POSIX_FADV_RANDOM,
                                  POSIX_FADV_WILLNEED, POSIX_FADV_DONTNEED,   POSIX_FADV_NOREUSE};
    const uint32_t adv = a32(a, 3) & 0xff;
    if (adv >= 6) return kInval;
    return from_host_errno(::posix_fadvise(e->host_fd, off_t(a64(a, 1)), off_t(a64(a, 2)), kAdvice[adv]));
  };
  r["fd_allocate"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    if (e->readonly) return kRofs;
    if (!e->owned) return kNotcapable;  // borrowed host stdio: its files are not the guest's to change
    return from_host_errno(::posix_fallocate(e->host_fd, off_t(a64(a, 1)), off_t(a64(a, 2))));
  };
  r["fd_sync"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    return ::fsync(e->host_fd) < 0 ? from_host_errno(errno) : kSuccess;
  };
  r["fd_datasync"] = [&fds](GuestMemory&, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    return ::fdatasync(e->host_fd) < 0 ? from_host_errno(errno) : kSuccess;
  };

  // Preopens: wasi-libc asks fd 3, 4, ... until EBADF (not ENOSYS: anything else aborts
  // start-up with exit code 71).
  r["fd_prestat_get"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e || !e->is_preopen) return kBadf;
    const uint32_t p = a32(a, 1);
    if (!m.range(p, kPrestatSize)) return kFault;
    put_u32(m, p, 0);  // tag (dir) and padding
    put_u8(m, p, kPreopenDir);
    put_u32(m, p + 4, uint32_t(e->preopen_name.size()));
    return kSuccess;
  };
  r["fd_prestat_dir_name"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e || !e->is_preopen) return kBadf;
    if (a32(a, 2) < e->preopen_name.size()) return kNametoolong;
    const auto* b = reinterpret_cast<const uint8_t*>(e->preopen_name.data());
    return m.write_bytes(a32(a, 1), std::span<const uint8_t>(b, e->preopen_name.size())) ? kSuccess : kFault;
  };
  r["fd_readdir"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    FdEntry* e = fds.get(a32(a, 0));
    if (!e) return kBadf;
    if (e->filetype != kFtDirectory) return kNotdir;
    const uint32_t buf = a32(a, 1), len = a32(a, 2), used_ptr = a32(a, 4);
    if (!m.range(buf, len) || !m.range(used_ptr, 4)) return kFault;
    uint32_t used = 0;
    if (uint16_t err = readdir_into(e->host_fd, m, buf, len, a64(a, 3), &used)) return err;
    put_u32(m, used_ptr, used);
    return kSuccess;
  };
}

}  // namespace nnb::wasm::wasi
