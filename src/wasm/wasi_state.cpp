// The WASI descriptor table, errno mapping, guest-memory helpers and WasiHost set-up.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "wasm/wasi_state.h"

namespace nnb::wasm {
namespace wasi {

FdTable::~FdTable() {
  for (auto& [fd, e] : fds_)
    if (e.owned && e.host_fd >= 0) ::close(e.host_fd);
}

FdEntry* FdTable::get(uint32_t fd) {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : &it->second;
}

std::optional<uint32_t> FdTable::insert(FdEntry e) {
  uint32_t fd = 0;
  for (const auto& [k, v] : fds_) {  // ordered: the first gap is the lowest free number
    if (k != fd) break;
    ++fd;
  }
  if (fds_.size() >= kMaxFds) {
    if (e.owned && e.host_fd >= 0) ::close(e.host_fd);
    return std::nullopt;
  }
  fds_.emplace(fd, std::move(e));
  return fd;
}

void FdTable::put(uint32_t fd, FdEntry e) {
  close(fd);
  fds_.emplace(fd, std::move(e));
}

bool FdTable::close(uint32_t fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return false;
  if (it->second.owned && it->second.host_fd >= 0) ::close(it->second.host_fd);
  fds_.erase(it);
  return true;
}

bool FdTable::renumber(uint32_t from, uint32_t to) {
  auto it = fds_.find(from);
  if (it == fds_.end() || !fds_.count(to)) return false;
  if (from == to) return true;
  FdEntry e = std::move(it->second);
  fds_.erase(it);
  put(to, std::move(e));
  return true;
}

uint16_t from_host_errno(int e) {
  switch (e) {
    case 0: return kSuccess;
    case E2BIG: return k2Big;
    case EACCES: return kAcces;
    case EAGAIN: return kAgain;
    case EBADF: return kBadf;
    case EBUSY: return kBusy;
    case EEXIST: return kExist;
    case EFAULT: return kFault;
    case EFBIG: return kFbig;
    case EILSEQ: return kIlseq;
    case EINTR: return kIntr;
    case EINVAL: return kInval;
    case EIO: return kIo;
    case EISDIR: return kIsdir;
    case ELOOP: return kLoop;
    case EMFILE: return kMfile;
    case EMLINK: return kMlink;
    case ENAMETOOLONG: return kNametoolong;
    case ENFILE: return kNfile;
    case ENODEV: return kNodev;
    case ENOENT: return kNoent;
    case ENOMEM: return kNomem;
    case ENOSPC: return kNospc;
    case ENOSYS: return kNosys;
    case ENOTDIR: return kNotdir;
    case ENOTEMPTY: return kNotempty;
    case ENOTSUP: return kNotsup;
    case ENOTTY: return kNotty;
    case ENXIO: return kNxio;
    case EOVERFLOW: return kOverflow;
    case EPERM: return kPerm;
    case EPIPE: return kPipe;
    case ERANGE: return kRange;
    case EROFS: return kRofs;
    case ESPIPE: return kSpipe;
    case ETXTBSY: return kTxtbsy;
    case EXDEV: return kXdev;
    default: return kIo;
  }
}

uint8_t filetype_of_mode(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return kFtRegularFile;
    case S_IFDIR: return kFtDirectory;
    case S_IFCHR: return kFtCharacterDevice;
    case S_IFBLK: return kFtBlockDevice;
    case S_IFLNK: return kFtSymbolicLink;
    case S_IFSOCK: return kFtSocketStream;
    default: return kFtUnknown;  // FIFOs have no WASI type
  }
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

namespace {
template <typename T>
bool put_le(GuestMemory& m, uint32_t ptr, T v) {
  auto r = m.range(ptr, sizeof(T));
  if (!r) return false;
  for (size_t i = 0; i < sizeof(T); ++i) (*r)[i] = uint8_t(uint64_t(v) >> (8 * i));
  return true;
}
template <typename T>
bool get_le(GuestMemory& m, uint32_t ptr, T* v) {
  auto r = m.range(ptr, sizeof(T));
  if (!r) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < sizeof(T); ++i) x |= uint64_t((*r)[i]) << (8 * i);
  *v = T(x);
  return true;
}
}  // namespace

bool put_u8(GuestMemory& m, uint32_t p, uint8_t v) { return put_le(m, p, v); }
bool put_u16(GuestMemory& m, uint32_t p, uint16_t v) { return put_le(m, p, v); }
bool put_u32(GuestMemory& m, uint32_t p, uint32_t v) { return put_le(m, p, v); }
bool put_u64(GuestMemory& m, uint32_t p, uint64_t v) { return put_le(m, p, v); }
bool get_u8(GuestMemory& m, uint32_t p, uint8_t* v) { return get_le(m, p, v); }
bool get_u16(GuestMemory& m, uint32_t p, uint16_t* v) { return get_le(m, p, v); }
bool get_u32(GuestMemory& m, uint32_t p, uint32_t* v) { return get_le(m, p, v); }
bool get_u64(GuestMemory& m, uint32_t p, uint64_t* v) { return get_le(m, p, v); }

uint16_t put_filestat(GuestMemory& m, uint32_t ptr, const struct stat& st) {
  auto r = m.range(ptr, kFilestatSize);
  if (!r) return kFault;
  std::fill(r->begin(), r->end(), uint8_t(0));
  auto ns = [](const timespec& t) { return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec); };
  put_u64(m, ptr + 0, uint64_t(st.st_dev));
  put_u64(m, ptr + 8, uint64_t(st.st_ino));
  put_u8(m, ptr + 16, filetype_of_mode(st.st_mode));
  put_u64(m, ptr + 24, uint64_t(st.st_nlink));
  put_u64(m, ptr + 32, uint64_t(st.st_size));
  put_u64(m, ptr + 40, ns(st.st_atim));
  put_u64(m, ptr + 48, ns(st.st_mtim));
  put_u64(m, ptr + 56, ns(st.st_ctim));
  return kSuccess;
}

std::optional<std::string> get_string(GuestMemory& m, uint32_t ptr, uint32_t len) {
  auto r = m.range(ptr, len);
  if (!r) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(r->data()), r->size());
}

namespace {

FdEntry stdio_entry(int host_fd) {
  FdEntry e;
  e.host_fd = host_fd;
  e.owned = false;
  struct stat st {};
  if (::fstat(host_fd, &st) == 0) e.filetype = filetype_of_mode(st.st_mode);
  // A redirected regular file may seek; a terminal or pipe may not (wasi-libc's isatty()).
  e.rights_base = e.filetype == kFtRegularFile ? kRightsFile : kRightsStream;
  return e;
}

std::string canonical_guest(std::string g) {
  while (g.size() > 1 && g.back() == '/') g.pop_back();
  return g;
}

}  // namespace
}  // namespace wasi

PreopenDir parse_dir_spec(std::string_view spec) {
  PreopenDir d;
  const auto colon = spec.find(':');
  if (colon == std::string_view::npos) {
    d.guest = d.host = std::string(spec);
  } else {
    d.guest = std::string(spec.substr(0, colon));
    std::string_view host = spec.substr(colon + 1);
    const auto mode = host.rfind(':');
    if (mode != std::string_view::npos && host.substr(mode + 1) == "readonly") {
      d.readonly = true;
      host = host.substr(0, mode);
    }
    d.host = std::string(host);
  }
  if (d.guest.empty() || d.host.empty())
    throw std::invalid_argument("--dir '" + std::string(spec) +
                                "': expected GUEST:HOST, GUEST:HOST:readonly or DIR (WasmEdge's syntax)");
  d.guest = wasi::canonical_guest(d.guest);
  return d;
}

WasiHost::WasiHost(WasiOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  auto& o = state_->options;
  state_->fds.put(0, wasi::stdio_entry(o.stdin_fd));
  state_->fds.put(1, wasi::stdio_entry(o.stdout_fd));
  state_->fds.put(2, wasi::stdio_entry(o.stderr_fd));
  uint32_t next = 3;
  for (const auto& p : o.preopens) {
    const int fd = ::open(p.host.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      throw std::runtime_error("--dir " + p.guest + ":" + p.host + ": cannot open directory '" + p.host +
                               "': " + std::strerror(errno));
    wasi::FdEntry e;
    e.host_fd = fd;
    e.filetype = wasi::kFtDirectory;
    e.rights_base = wasi::kRightsDirectory;
    e.rights_inheriting = wasi::kRightsDirectory | wasi::kRightsFile;
    e.readonly = p.readonly;
    e.is_preopen = true;
    e.preopen_name = wasi::canonical_guest(p.guest);
    state_->fds.put(next++, std::move(e));
  }
}

WasiHost::~WasiHost() = default;

const WasiOptions& WasiHost::options() const { return state_->options; }

}  // namespace nnb::wasm
