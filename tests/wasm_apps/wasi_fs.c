// File-system probe for the WASI tests. Runs the commands given as arguments in order and
// prints one line per command: "<cmd> <path>: ok ..." or "<cmd> <path>: errno=N" (wasi-libc's
// errno values are WASI's: 44 ENOENT, 76 ENOTCAPABLE, 8 EBADF, ...).
//   write P TEXT | append P TEXT | read P | mkdir P | rmdir P | unlink P | rename A B |
//   symlink TARGET P | stat P | ls DIR | seek P | prestat |
//   raw FD PATH (path_open straight through the WASI call, following symlinks, then read) |
//   rawnofollow FD PATH (the same without following a final symlink)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static void fail(const char* cmd, const char* path, int e) { printf("%s %s: errno=%d\n", cmd, path, e); }

static void write_file(const char* cmd, const char* path, const char* text, int flags) {
  int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
  if (fd < 0) return fail(cmd, path, errno);
  ssize_t n = write(fd, text, strlen(text));
  if (n < 0) fail(cmd, path, errno);
  else printf("%s %s: ok %d\n", cmd, path, (int)n);
  close(fd);
}

static void read_file(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return fail("read", path, errno);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  printf("read %s: ok [%s]\n", path, buf);
}

static void raw_open(const char* fd_s, const char* path, int follow) {
  __wasi_fd_t out = 0;
  __wasi_errno_t e = __wasi_path_open((__wasi_fd_t)atoi(fd_s), follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, 0,
                                     __WASI_RIGHTS_FD_READ, 0, 0, &out);
  const char* cmd = follow ? "raw" : "rawnofollow";
  if (e) return fail(cmd, path, e);
  char buf[256];
  __wasi_iovec_t iov = {(uint8_t*)buf, sizeof buf - 1};
  __wasi_size_t n = 0;
  e = __wasi_fd_read(out, &iov, 1, &n);
  buf[e ? 0 : n] = 0;
  printf("%s %s: ok fd=%u [%s]\n", cmd, path, (unsigned)out, buf);
  (void)!__wasi_fd_close(out);
}

static void prestat(void) {
  for (__wasi_fd_t fd = 3;; ++fd) {
    __wasi_prestat_t p;
    __wasi_errno_t e = __wasi_fd_prestat_get(fd, &p);
    if (e) {
      printf("prestat %u: errno=%d\n", (unsigned)fd, e);
      return;
    }
    char name[256] = {0};
    (void)!__wasi_fd_prestat_dir_name(fd, (uint8_t*)name, p.u.dir.pr_name_len < 255 ? p.u.dir.pr_name_len : 255);
    printf("prestat %u: ok [%s]\n", (unsigned)fd, name);
  }
}

static int cmp(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

static void list_dir(const char* path) {
  DIR* d = opendir(path);
  if (!d) return fail("ls", path, errno);
  char* names[256];
  int n = 0;
  struct dirent* de;
  while ((de = readdir(d)) && n < 256)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) names[n++] = strdup(de->d_name);
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp);
  printf("ls %s: ok", path);
  for (int i = 0; i < n; ++i) printf(" %s", names[i]);
  printf("\n");
}

static void seek_test(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("seek", path, errno);
  char b[4] = {0};
  off_t at = lseek(fd, 2, SEEK_SET);
  ssize_t n = read(fd, b, 3);
  off_t now = lseek(fd, 0, SEEK_CUR);
  off_t end = lseek(fd, 0, SEEK_END);
  printf("seek %s: ok at=%lld read=%d [%s] now=%lld end=%lld\n", path, (long long)at, (int)n, b, (long long)now,
         (long long)end);
  close(fd);
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* c = argv[i];
    const char* a = i + 1 < argc ? argv[i + 1] : "";
    const char* b = i + 2 < argc ? argv[i + 2] : "";
    if (!strcmp(c, "write")) write_file(c, a, b, O_TRUNC), i += 2;
    else if (!strcmp(c, "append")) write_file(c, a, b, O_APPEND), i += 2;
    else if (!strcmp(c, "read")) read_file(a), i += 1;
    else if (!strcmp(c, "mkdir")) (mkdir(a, 0755) ? fail(c, a, errno) : (void)printf("%s %s: ok\n", c, a)), i += 1;
    else if (!strcmp(c, "rmdir")) (rmdir(a) ? fail(c, a, errno) : (void)printf("%s %s: ok\n", c, a)), i += 1;
    else if (!strcmp(c, "unlink")) (unlink(a) ? fail(c, a, errno) : (void)printf("%s %s: ok\n", c, a)), i += 1;
    else if (!strcmp(c, "rename")) (rename(a, b) ? fail(c, a, errno) : (void)printf("%s %s: ok\n", c, a)), i += 2;
    else if (!strcmp(c, "symlink")) (symlink(a, b) ? fail(c, b, errno) : (void)printf("%s %s: ok\n", c, b)), i += 2;
    else if (!strcmp(c, "stat")) {
      struct stat st;
      if (stat(a, &st)) fail(c, a, errno);
      else printf("stat %s: ok size=%lld %s\n", a, (long long)st.st_size, S_ISDIR(st.st_mode) ? "dir" : "file");
      i += 1;
    } else if (!strcmp(c, "ls")) list_dir(a), i += 1;
    else if (!strcmp(c, "seek")) seek_test(a), i += 1;
    else if (!strcmp(c, "prestat")) prestat();
    else if (!strcmp(c, "raw")) raw_open(a, b, 1), i += 2;
    else if (!strcmp(c, "rawnofollow")) raw_open(a, b, 0), i += 2;
    else {
      printf("unknown command %s\n", c);
      return 2;
    }
  }
  return 0;
}
