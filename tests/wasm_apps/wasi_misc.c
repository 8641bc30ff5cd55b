// Probe of the non-file WASI functions. One command per run (argv[1]):
//   clock   realtime looks like a date, monotonic advances across a 30 ms sleep (poll_oneoff)
//   random  two 32-byte random_get draws are not all zero and differ
//   stdin   reads stdin to EOF (fd_read) and prints its length and text
//   poll    waits up to 5 s for stdin to become readable (poll_oneoff with fd + clock)
//   badptr  hands the host pointers outside memory: every call must answer EFAULT (21)
//           (needs a preopen at fd 3)
//   enosys  calls preview1 functions nnbridge does not implement: ENOSYS (52)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

static int clock_cmd(void) {
  __wasi_timestamp_t rt = 0, m0 = 0, m1 = 0, res = 0;
  (void)!__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &rt);
  (void)!__wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res);
  (void)!__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m0);
  struct timespec ts = {0, 30 * 1000 * 1000};
  nanosleep(&ts, NULL);
  (void)!__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m1);
  __wasi_timestamp_t bad = 0;
  __wasi_errno_t e = __wasi_clock_time_get(99, 1, &bad);
  printf("realtime_s=%llu res_ns=%llu slept_ms=%llu badclock=%d\n", (unsigned long long)(rt / 1000000000ull),
         (unsigned long long)res, (unsigned long long)((m1 - m0) / 1000000ull), e);
  return 0;
}

static int random_cmd(void) {
  unsigned char a[32], b[32];
  memset(a, 0, sizeof a), memset(b, 0, sizeof b);
  __wasi_errno_t e1 = __wasi_random_get(a, sizeof a), e2 = __wasi_random_get(b, sizeof b);
  int nonzero = 0;
  for (int i = 0; i < 32; ++i) nonzero |= a[i];
  printf("random errno=%d,%d nonzero=%d differ=%d\n", e1, e2, nonzero != 0, memcmp(a, b, 32) != 0);
  return 0;
}

static int stdin_cmd(void) {
  char buf[4096];
  size_t total = 0;
  ssize_t n;
  while ((n = read(0, buf + total, sizeof buf - 1 - total)) > 0) total += (size_t)n;
  buf[total] = 0;
  printf("stdin bytes=%zu [%s]\n", total, buf);
  return 0;
}

static int poll_cmd(void) {
  __wasi_subscription_t subs[2];
  memset(subs, 0, sizeof subs);
  subs[0].userdata = 11;
  subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
  subs[0].u.u.fd_read.file_descriptor = 0;
  subs[1].userdata = 22;
  subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
  subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
  subs[1].u.u.clock.timeout = 5000000000ull;
  __wasi_event_t ev[2];
  __wasi_size_t n = 0;
  __wasi_errno_t e = __wasi_poll_oneoff(subs, ev, 2, &n);
  printf("poll errno=%d n=%u", e, (unsigned)n);
  for (__wasi_size_t i = 0; i < n; ++i)
    printf(" [userdata=%llu type=%d error=%d nbytes=%llu]", (unsigned long long)ev[i].userdata, ev[i].type, ev[i].error,
           (unsigned long long)ev[i].fd_readwrite.nbytes);
  printf("\n");
  return 0;
}

// path_open straight from the import: wasi-libc's wrapper would strlen() the path itself.
__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open"))) int32_t raw_path_open(
    int32_t fd, int32_t dirflags, int32_t path, int32_t path_len, int32_t oflags, int64_t base, int64_t inheriting,
    int32_t fdflags, int32_t fd_out);

static int badptr_cmd(void) {
  const uint32_t far = 0xFFFFFFF0u;  // beyond any memory this app has
  __wasi_ciovec_t iov = {(const uint8_t*)"x", 1};
  __wasi_size_t n = 0;
  printf("fd_write_iovs=%d\n", __wasi_fd_write(1, (const __wasi_ciovec_t*)far, 1, &n));
  __wasi_ciovec_t bad_buf = {(const uint8_t*)far, 100};
  printf("fd_write_buf=%d\n", __wasi_fd_write(1, &bad_buf, 1, &n));
  printf("fd_write_nwritten=%d\n", __wasi_fd_write(1, &iov, 1, (__wasi_size_t*)far));
  printf("random_get=%d\n", __wasi_random_get((uint8_t*)far, 100));
  printf("clock_time_get=%d\n", __wasi_clock_time_get(0, 1, (__wasi_timestamp_t*)far));
  printf("args_sizes_get=%d\n", __wasi_args_sizes_get((__wasi_size_t*)far, &n));
  __wasi_fd_t fd;
  printf("path_open_path=%d\n", raw_path_open(3, 0, (int32_t)far, 100, 0, 0, 0, 0, (int32_t)(uintptr_t)&fd));
  printf("path_open_fd_out=%d\n", raw_path_open(3, 0, (int32_t)(uintptr_t)"x", 1, 0, 0, 0, 0, (int32_t)far));
  __wasi_prestat_t p;
  printf("fd_prestat_get=%d\n", __wasi_fd_prestat_get(3, (__wasi_prestat_t*)far));
  printf("fd_prestat_dir_name=%d\n", __wasi_fd_prestat_dir_name(3, (uint8_t*)far, 100));
  (void)p;
  return 0;
}

static int enosys_cmd(void) {
  __wasi_fd_t fd = 0;
  printf("sock_accept=%d\n", __wasi_sock_accept(0, 0, &fd));
  printf("sock_shutdown=%d\n", __wasi_sock_shutdown(0, 0));
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  if (!strcmp(argv[1], "clock")) return clock_cmd();
  if (!strcmp(argv[1], "random")) return random_cmd();
  if (!strcmp(argv[1], "stdin")) return stdin_cmd();
  if (!strcmp(argv[1], "poll")) return poll_cmd();
  if (!strcmp(argv[1], "badptr")) return badptr_cmd();
  if (!strcmp(argv[1], "enosys")) return enosys_cmd();
  return 2;
}
