// WASI args, environment, clocks, random, proc_exit, sched_yield and poll_oneoff.
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <vector>

#include "wasm/wasi_state.h"

namespace nnb::wasm::wasi {
namespace {

// args_get / environ_get: `list` as an array of char* at `ptrs` and NUL-terminated strings
// packed at `buf`.
uint16_t put_string_list(GuestMemory& m, const std::vector<std::string>& list, uint32_t ptrs, uint32_t buf) {
  uint64_t total = 0;
  for (const auto& s : list) total += s.size() + 1;
  if (total > UINT32_MAX || !m.range(ptrs, uint32_t(list.size() * 4)) || !m.range(buf, uint32_t(total)))
    return kFault;
  uint32_t at = buf;
  for (size_t i = 0; i < list.size(); ++i) {
    put_u32(m, ptrs + uint32_t(i) * 4, at);
    auto r = m.range(at, uint32_t(list[i].size() + 1));
    std::copy(list[i].begin(), list[i].end(), r->begin());
    (*r)[list[i].size()] = 0;
    at += uint32_t(list[i].size() + 1);
  }
  return kSuccess;
}

uint16_t put_sizes(GuestMemory& m, const std::vector<std::string>& list, uint32_t count_ptr, uint32_t size_ptr) {
  uint64_t total = 0;
  for (const auto& s : list) total += s.size() + 1;
  if (total > UINT32_MAX) return kOverflow;
  if (!m.range(count_ptr, 4) || !m.range(size_ptr, 4)) return kFault;
  put_u32(m, count_ptr, uint32_t(list.size()));
  put_u32(m, size_ptr, uint32_t(total));
  return kSuccess;
}

std::optional<clockid_t> host_clock(uint32_t id) {
  switch (id) {
    case kClockRealtime: return CLOCK_REALTIME;
    case kClockMonotonic: return CLOCK_MONOTONIC;
    case kClockProcessCputime: return CLOCK_PROCESS_CPUTIME_ID;
    case kClockThreadCputime: return CLOCK_THREAD_CPUTIME_ID;
    default: return std::nullopt;
  }
}

uint64_t now_ns(clockid_t c) {
  timespec ts{};
  ::clock_gettime(c, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Sub {
  uint64_t userdata = 0;
  uint8_t tag = 0;
  // clock
  uint64_t wait_ns = 0;  // relative to the start of the poll
  // fd
  uint32_t fd = 0;
  int host_fd = -1;
  uint16_t error = kSuccess;  // set when the fd is not usable (reported at once)
};

void put_event(GuestMemory& m, uint32_t at, const Sub& s, uint16_t error, uint64_t nbytes, uint16_t flags) {
  auto r = m.range(at, kEventSize);
  std::fill(r->begin(), r->end(), uint8_t(0));
  put_u64(m, at, s.userdata);
  put_u16(m, at + 8, error);
  put_u8(m, at + 10, s.tag);
  put_u64(m, at + 16, nbytes);
  put_u16(m, at + 24, flags);
}

// Bytes readable now on `fd`: FIONREAD for pipes/terminals/sockets, size - offset for files.
uint64_t readable_bytes(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    const off_t pos = ::lseek(fd, 0, SEEK_CUR);
    return pos >= 0 && st.st_size > pos ? uint64_t(st.st_size - pos) : 0;
  }
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? uint64_t(n) : 0;
}

// poll_oneoff(in, out, nsubscriptions, nevents): clock subscriptions become the timeout of one
// ppoll() over the fd subscriptions; fds the guest does not own are answered with EBADF.
uint16_t poll_oneoff(FdTable& fds, GuestMemory& m, uint32_t in, uint32_t out, uint32_t n, uint32_t nevents_ptr) {
  // Each subscription costs host memory: far more than any program polls at once is refused.
  constexpr uint32_t kMaxSubscriptions = 4096;
  if (n == 0 || n > kMaxSubscriptions) return kInval;
  if (uint64_t(n) * kSubscriptionSize > UINT32_MAX || !m.range(in, n * kSubscriptionSize) ||
      !m.range(out, uint32_t(uint64_t(n) * kEventSize)) || !m.range(nevents_ptr, 4))
    return kFault;
  std::vector<Sub> subs(n);
  std::optional<uint64_t> timeout;  // ns, the earliest clock
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t at = in + i * kSubscriptionSize;
    Sub& s = subs[i];
    get_u64(m, at, &s.userdata);
    get_u8(m, at + 8, &s.tag);
    if (s.tag == kEventClock) {
      uint32_t id = 0;
      uint64_t t = 0;
      uint16_t flags = 0;
      get_u32(m, at + 16, &id);
      get_u64(m, at + 24, &t);
      get_u16(m, at + 40, &flags);
      auto clk = host_clock(id);
      if (!clk) return kInval;
      if (flags & kSubclockAbstime) {
        const uint64_t now = now_ns(*clk);
        s.wait_ns = t > now ? t - now : 0;
      } else {
        s.wait_ns = t;
      }
      timeout = std::min(timeout.value_or(UINT64_MAX), s.wait_ns);
    } else if (s.tag == kEventFdRead || s.tag == kEventFdWrite) {
      get_u32(m, at + 16, &s.fd);
      FdEntry* e = fds.get(s.fd);
      if (!e) s.error = kBadf;
      else s.host_fd = e->host_fd;
    } else {
      return kInval;
    }
  }

  std::vector<pollfd> pfds;
  std::vector<size_t> pfd_sub;
  bool early = false;  // an fd error to report: do not wait
  for (size_t i = 0; i < subs.size(); ++i) {
    if (subs[i].tag == kEventClock) continue;
    if (subs[i].error) {
      early = true;
      continue;
    }
    pfds.push_back(pollfd{subs[i].host_fd, short(subs[i].tag == kEventFdRead ? POLLIN : POLLOUT), 0});
    pfd_sub.push_back(i);
  }

  const uint64_t start = now_ns(CLOCK_MONOTONIC);
  int ready = 0;
  for (;;) {
    timespec ts{}, *tsp = nullptr;
    if (early) {
      tsp = &ts;
    } else if (timeout) {
      const uint64_t spent = now_ns(CLOCK_MONOTONIC) - start;
      const uint64_t left = *timeout > spent ? *timeout - spent : 0;
      ts.tv_sec = time_t(std::min<uint64_t>(left / 1000000000ull, uint64_t(INT32_MAX)));
      ts.tv_nsec = long(left % 1000000000ull);
      tsp = &ts;
    }
    ready = ::ppoll(pfds.data(), pfds.size(), tsp, nullptr);
    if (ready >= 0) break;
    if (errno != EINTR) return from_host_errno(errno);
  }

  uint32_t count = 0;
  const uint64_t elapsed = now_ns(CLOCK_MONOTONIC) - start;
  for (size_t i = 0; i < subs.size(); ++i)
    if (subs[i].tag != kEventClock && subs[i].error)
      put_event(m, out + kEventSize * count++, subs[i], subs[i].error, 0, 0);
  for (size_t k = 0; k < pfds.size(); ++k) {
    const short re = pfds[k].revents;
    if (!re) continue;
    const Sub& s = subs[pfd_sub[k]];
    uint16_t err = kSuccess, flags = 0;
    uint64_t nbytes = 0;
    if (re & POLLNVAL) err = kBadf;
    else if ((re & POLLERR) && !(re & (POLLIN | POLLOUT))) err = kIo;
    if (re & POLLHUP) flags |= kEventFdReadwriteHangup;
    if (!err && s.tag == kEventFdRead) nbytes = readable_bytes(s.host_fd);
    put_event(m, out + kEventSize * count++, s, err, nbytes, flags);
  }
  if (count == 0) {  // nothing ready: the earliest clocks fired
    for (const Sub& s : subs)
      if (s.tag == kEventClock && s.wait_ns <= std::max(elapsed, timeout.value_or(0)))
        put_event(m, out + kEventSize * count++, s, kSuccess, 0, 0);
  }
  put_u32(m, nevents_ptr, count);
  return kSuccess;
}

}  // namespace

void register_core(WasiHost& host, Registry& r) {
  const WasiOptions& o = host.options();
  auto& fds = host.state().fds;

  r["args_sizes_get"] = [&o](GuestMemory& m, std::span<const Value> a) {
    return put_sizes(m, o.args, a32(a, 0), a32(a, 1));
  };
  r["args_get"] = [&o](GuestMemory& m, std::span<const Value> a) {
    return put_string_list(m, o.args, a32(a, 0), a32(a, 1));
  };
  r["environ_sizes_get"] = [&o](GuestMemory& m, std::span<const Value> a) {
    return put_sizes(m, o.env, a32(a, 0), a32(a, 1));
  };
  r["environ_get"] = [&o](GuestMemory& m, std::span<const Value> a) {
    return put_string_list(m, o.env, a32(a, 0), a32(a, 1));
  };

  r["clock_res_get"] = [](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    auto clk = host_clock(a32(a, 0));
    if (!clk) return kInval;
    timespec ts{};
    if (::clock_getres(*clk, &ts) < 0) return from_host_errno(errno);
    return put_u64(m, a32(a, 1), uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec)) ? kSuccess : kFault;
  };
  r["clock_time_get"] = [](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    auto clk = host_clock(a32(a, 0));
    if (!clk) return kInval;
    return put_u64(m, a32(a, 2), now_ns(*clk)) ? kSuccess : kFault;
  };

  r["random_get"] = [](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    auto buf = m.range(a32(a, 0), a32(a, 1));
    if (!buf) return kFault;
    size_t done = 0;
    while (done < buf->size()) {
      const ssize_t k = ::getrandom(buf->data() + done, buf->size() - done, 0);
      if (k < 0) {
        if (errno == EINTR) continue;
        return from_host_errno(errno);
      }
      done += size_t(k);
    }
    return kSuccess;
  };

  r["proc_exit"] = [](GuestMemory&, std::span<const Value> a) -> uint16_t { throw ProcExit{int(a32(a, 0))}; };
  r["sched_yield"] = [](GuestMemory&, std::span<const Value>) -> uint16_t {
    ::sched_yield();
    return kSuccess;
  };
  r["poll_oneoff"] = [&fds](GuestMemory& m, std::span<const Value> a) -> uint16_t {
    return poll_oneoff(fds, m, a32(a, 0), a32(a, 1), a32(a, 2), a32(a, 3));
  };
}

}  // namespace nnb::wasm::wasi
