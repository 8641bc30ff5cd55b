// WASI path_* functions: every path goes through resolve_beneath (wasi_sandbox.h), then one
// *at() call relative to the resolved parent with symlinks not followed.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "wasm/wasi_sandbox.h"
#include "wasm/wasi_state.h"

namespace nnb::wasm::wasi {
namespace {

// The directory descriptor `fd` and the guest path at [ptr, ptr+len) resolved beneath it.
uint16_t resolve_arg(FdTable& fds, GuestMemory& m, uint32_t fd, uint32_t ptr, uint32_t len, bool follow,
                     Resolved& out, FdEntry** dir = nullptr) {
  FdEntry* e = fds.get(fd);
  if (!e) return kBadf;
  if (e->filetype != kFtDirectory) return kNotdir;
  auto path = get_string(m, ptr, len);
  if (!path) return kFault;
  if (dir) *dir = e;
  return resolve_beneath(e->host_fd, *path, follow, out);
}

bool is_dir_at(int parent, const std::string& name) {
  struct stat st {};
  return ::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

uint16_t result(int rc) { return rc < 0 ? from_host_errno(errno) : kSuccess; }

}  // namespace

void register_path(WasiHost& host, Registry& r) {
  auto& fds = host.state().fds;

  // path_open(fd, dirflags, path, path_len, oflags, rights_base, rights_inheriting, fdflags, fd_out)
  r["path_open"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    const uint32_t fd_out = a32(a, 8);
    if (!m.range(fd_out, 4)) return kFault;
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 2), a32(a, 3), a32(a, 1) & kLookupSymlinkFollow, res, &dir))
      return err;
    const uint16_t oflags = uint16_t(a32(a, 4));
    const uint64_t rights_base = a64(a, 5), rights_inh = a64(a, 6);
    const uint16_t fdflags = uint16_t(a32(a, 7));
    const bool read = rights_base & (kRightFdRead | kRightFdReaddir);
    const bool write = (rights_base & (kRightFdDatasync | kRightFdWrite | kRightFdAllocate | kRightFdFilestatSetSize)) ||
                       (fdflags & kFdflagAppend);
    if (dir->readonly && (write || (oflags & (kOflagCreat | kOflagTrunc)))) return kRofs;

    // O_NOFOLLOW: a final symlink was already followed by the resolver if asked; one that
    // appears now (a race) or was not to be followed fails with ELOOP instead of escaping.
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
    if (oflags & kOflagDirectory) flags |= O_DIRECTORY;
    if (res.trailing_slash) flags |= O_DIRECTORY;
    if ((flags & O_DIRECTORY) == 0 && write) flags |= read ? O_RDWR : O_WRONLY;
    if (oflags & kOflagCreat) flags |= O_CREAT;
    if (oflags & kOflagExcl) flags |= O_EXCL;
    if (oflags & kOflagTrunc) flags |= O_TRUNC;
    if (fdflags & kFdflagAppend) flags |= O_APPEND;
    if (fdflags & kFdflagNonblock) flags |= O_NONBLOCK;
    if (fdflags & kFdflagSync) flags |= O_SYNC;
    else if (fdflags & (kFdflagDsync | kFdflagRsync)) flags |= O_DSYNC;
    int hfd;
    // Opened non-blocking so a FIFO or device inside a preopen cannot hang the runtime; the
    // guest's own O_NONBLOCK choice is restored right after.
    do hfd = ::openat(res.parent, res.name.c_str(), flags | O_NONBLOCK, 0666);
    while (hfd < 0 && errno == EINTR);
    if (hfd < 0) return from_host_errno(errno);
    UniqueFd owned(hfd);
    if (!(flags & O_NONBLOCK)) {
      const int fl = ::fcntl(hfd, F_GETFL);
      if (fl < 0 || ::fcntl(hfd, F_SETFL, fl & ~O_NONBLOCK) < 0) return from_host_errno(errno);
    }
    struct stat st {};
    if (::fstat(hfd, &st) < 0) return from_host_errno(errno);

    FdEntry e;
    e.filetype = filetype_of_mode(st.st_mode);
    const uint64_t cap = e.filetype == kFtDirectory ? kRightsDirectory
                         : e.filetype == kFtRegularFile ? kRightsFile
                                                         : kRightsStream;
    e.rights_base = rights_base & cap & dir->rights_inheriting;
    e.rights_inheriting = rights_inh & dir->rights_inheriting;
    e.readonly = dir->readonly;
    e.host_fd = owned.release();
    auto guest_fd = fds.insert(std::move(e));
    if (!guest_fd) return kMfile;
    put_u32(m, fd_out, *guest_fd);
    return kSuccess;
  };

  // path_filestat_get(fd, flags, path, path_len, buf)
  r["path_filestat_get"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 2), a32(a, 3), a32(a, 1) & kLookupSymlinkFollow, res))
      return err;
    struct stat st {};
    if (::fstatat(res.parent, res.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) return from_host_errno(errno);
    if (res.trailing_slash && !S_ISDIR(st.st_mode)) return kNotdir;
    return put_filestat(m, a32(a, 4), st);
  };

  // path_filestat_set_times(fd, flags, path, path_len, atim, mtim, fst_flags)
  r["path_filestat_set_times"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err =
            resolve_arg(fds, m, a32(a, 0), a32(a, 2), a32(a, 3), a32(a, 1) & kLookupSymlinkFollow, res, &dir))
      return err;
    if (dir->readonly) return kRofs;
    const uint16_t f = uint16_t(a32(a, 6));
    auto ts = [f](uint64_t t, uint16_t set, uint16_t now) {
      if (f & now) return timespec{0, UTIME_NOW};
      if (f & set) return timespec{time_t(t / 1000000000ull), long(t % 1000000000ull)};
      return timespec{0, UTIME_OMIT};
    };
    const timespec times[2] = {ts(a64(a, 4), kFstAtim, kFstAtimNow), ts(a64(a, 5), kFstMtim, kFstMtimNow)};
    return result(::utimensat(res.parent, res.name.c_str(), times, AT_SYMLINK_NOFOLLOW));
  };

  r["path_create_directory"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), false, res, &dir)) return err;
    if (dir->readonly) return kRofs;
    return result(::mkdirat(res.parent, res.name.c_str(), 0777));
  };
  r["path_remove_directory"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), false, res, &dir)) return err;
    if (dir->readonly) return kRofs;
    return result(::unlinkat(res.parent, res.name.c_str(), AT_REMOVEDIR));
  };
  r["path_unlink_file"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), false, res, &dir)) return err;
    if (dir->readonly) return kRofs;
    if (res.trailing_slash) return is_dir_at(res.parent, res.name) ? kIsdir : kNotdir;
    return result(::unlinkat(res.parent, res.name.c_str(), 0));
  };

  // path_readlink(fd, path, path_len, buf, buf_len, bufused)
  r["path_readlink"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved res;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), false, res)) return err;
    auto buf = m.range(a32(a, 3), a32(a, 4));
    if (!buf || !m.range(a32(a, 5), 4)) return kFault;
    std::vector<char> tmp(std::min<size_t>(buf->size(), 4096) + 1);  // targets are <= PATH_MAX
    const ssize_t n = ::readlinkat(res.parent, res.name.c_str(), tmp.data(), tmp.size());
    if (n < 0) return from_host_errno(errno);
    const uint32_t take = uint32_t(std::min<size_t>(size_t(n), buf->size()));  // truncated, as POSIX
    buf = m.range(a32(a, 3), a32(a, 4));
    std::copy(tmp.begin(), tmp.begin() + take, buf->begin());
    put_u32(m, a32(a, 5), take);
    return kSuccess;
  };

  // path_rename(fd, old_path, old_len, new_fd, new_path, new_len)
  r["path_rename"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved from, to;
    FdEntry *d1 = nullptr, *d2 = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), false, from, &d1)) return err;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 3), a32(a, 4), a32(a, 5), false, to, &d2)) return err;
    if (d1->readonly || d2->readonly) return kRofs;
    return result(::renameat(from.parent, from.name.c_str(), to.parent, to.name.c_str()));
  };

  // path_symlink(old_path, old_len, fd, new_path, new_len): absolute targets are refused, so
  // a link made here never points outside (the resolver would refuse it anyway).
  r["path_symlink"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    auto target = get_string(m, a32(a, 0), a32(a, 1));
    if (!target) return kFault;
    if (target->empty()) return kNoent;
    if (target->front() == '/') return kNotcapable;
    if (target->find('\0') != std::string::npos) return kIlseq;
    Resolved res;
    FdEntry* dir = nullptr;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 2), a32(a, 3), a32(a, 4), false, res, &dir)) return err;
    if (dir->readonly) return kRofs;
    return result(::symlinkat(target->c_str(), res.parent, res.name.c_str()));
  };

  // path_link(old_fd, old_flags, old_path, old_len, new_fd, new_path, new_len)
  r["path_link"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    Resolved from, to;
    FdEntry *d1 = nullptr, *d2 = nullptr;
    if (uint16_t err =
            resolve_arg(fds, m, a32(a, 0), a32(a, 2), a32(a, 3), a32(a, 1) & kLookupSymlinkFollow, from, &d1))
      return err;
    if (uint16_t err = resolve_arg(fds, m, a32(a, 4), a32(a, 5), a32(a, 6), false, to, &d2)) return err;
    if (d1->readonly || d2->readonly) return kRofs;
    return result(::linkat(from.parent, from.name.c_str(), to.parent, to.name.c_str(), 0));
  };
}

}  // namespace nnb::wasm::wasi
