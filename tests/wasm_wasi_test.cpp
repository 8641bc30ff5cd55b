// WASI preview1 as guest programs see it, through `nnbridge run` processes and the C probes in
// tests/wasm_apps (wasi_echo, wasi_fs, wasi_misc, wasi_exit): arguments and environment, files
// under a preopen, sandbox escapes, preopen enumeration, clocks, random, stdin, poll_oneoff,
// exit codes, bad guest pointers and the ENOSYS stubs. wasi-libc's errno values are WASI's
// (44 ENOENT, 69 EROFS, 76 ENOTCAPABLE, 8 EBADF, 21 EFAULT, 52 ENOSYS).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "wasm/wasi.h"
#include "wasm_e2e.h"

namespace nnb::wasm {
namespace {

namespace fs = std::filesystem;
using wasmtest::run_command;
using wasmtest::RunResult;

fs::path app(const std::string& name) { return fs::path(NNB_WASM_APPS_DIR) / (name + ".wasm"); }

#define APP_OR_SKIP(var, name)                                                   \
  const fs::path var = app(name);                                                \
  if (!fs::exists(var)) GTEST_SKIP() << var << " not built (clang for wasm32-wasi missing)"

RunResult run(std::vector<std::string> args, double timeout_s = 30) {
  args.insert(args.begin(), {NNB_CLI_PATH, "run"});
  return run_command(args, timeout_s);
}

void spit(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }

bool has_line(const std::string& out, const std::string& line) {
  return ("\n" + out).find("\n" + line + "\n") != std::string::npos;
}

TEST(WasiDirSpec, WasmEdgeSyntax) {
  auto d = parse_dir_spec("/data:/srv/models");
  EXPECT_EQ(d.guest, "/data");
  EXPECT_EQ(d.host, "/srv/models");
  EXPECT_FALSE(d.readonly);
  d = parse_dir_spec(".:/tmp/x:readonly");
  EXPECT_EQ(d.guest, ".");
  EXPECT_EQ(d.host, "/tmp/x");
  EXPECT_TRUE(d.readonly);
  d = parse_dir_spec("/tmp/");
  EXPECT_EQ(d.guest, "/tmp");
  EXPECT_EQ(d.host, "/tmp/");
  EXPECT_THROW(parse_dir_spec(":/tmp"), std::invalid_argument);
  EXPECT_THROW(parse_dir_spec("/x:"), std::invalid_argument);
}

TEST(Wasi, ArgsAndEnvironmentPassThroughExactly) {
  APP_OR_SKIP(echo, "wasi_echo");
  auto r = run({"--env", "A=1", "--env", "JSON={\"k\": true}", "--env", "EMPTY=", echo.string(), "-n", "5", "--dir",
                "two words", ""});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "argc=6\nargv[0]=wasi_echo.wasm\nargv[1]=-n\nargv[2]=5\nargv[3]=--dir\nargv[4]=two words\nargv[5]=\n"
            "env A=1\nenv JSON={\"k\": true}\nenv EMPTY=\n");
  // No host environment leaks in (as wasmedge): only what --env gives.
  r = run({echo.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "argc=1\nargv[0]=wasi_echo.wasm\n");
  // argv[0] is the file name, with the extension wasmedge gives it.
  const auto dir = test::scratch_dir("wasi-argv0");
  fs::copy_file(echo, dir / "renamed.bin");
  r = run({(dir / "renamed.bin").string()});
  EXPECT_EQ(r.out, "argc=1\nargv[0]=renamed.wasm\n");
  // An unknown option before the app is an error, not an app argument.
  r = run({"--bogus", echo.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST(Wasi, ExitCodesAreTheApps) {
  APP_OR_SKIP(ex, "wasi_exit");
  for (int code : {0, 3, 42, 255}) {
    auto r = run({ex.string(), std::to_string(code)});
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(r.out, "exiting with " + std::to_string(code) + "\n");  // flushed before the exit
  }
}

TEST(Wasi, FilesUnderAPreopen) {
  APP_OR_SKIP(fsapp, "wasi_fs");
  const auto dir = test::scratch_dir("wasi-files");
  fs::create_directories(dir / "sb" / "sub");
  spit(dir / "sb" / "sub" / "f.txt", "hi");
  auto r = run({"--dir", "/data:" + (dir / "sb").string(), fsapp.string(),       //
                "write", "/data/a.txt", "hello", "append", "/data/a.txt", " world",  //
                "read", "/data/a.txt", "seek", "/data/a.txt", "stat", "/data/a.txt",  //
                "mkdir", "/data/d", "stat", "/data/d", "ls", "/data",               //
                "rename", "/data/a.txt", "/data/b.txt", "read", "/data/a.txt",       //
                "rmdir", "/data/d", "read", "/data/sub/f.txt", "read", "/data/nope"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const char* expected[] = {"write /data/a.txt: ok 5",
                            "append /data/a.txt: ok 6",
                            "read /data/a.txt: ok [hello world]",
                            "seek /data/a.txt: ok at=2 read=3 [llo] now=5 end=11",
                            "stat /data/a.txt: ok size=11 file",
                            "mkdir /data/d: ok",
                            "ls /data: ok a.txt d sub",
                            "rename /data/a.txt: ok",
                            "read /data/a.txt: errno=44",
                            "rmdir /data/d: ok",
                            "read /data/sub/f.txt: ok [hi]",
                            "read /data/nope: errno=44"};
  for (const char* line : expected) EXPECT_TRUE(has_line(r.out, line)) << line << "\n" << r.out;
  EXPECT_EQ(test::read_file(dir / "sb" / "b.txt"), "hello world");  // really on the host
  EXPECT_FALSE(fs::exists(dir / "sb" / "d"));

  // A relative preopen (".") as wasmedge's `--dir .:HOST`: relative paths resolve in it.
  r = run({"--dir", ".:" + (dir / "sb").string(), fsapp.string(), "write", "rel.txt", "abc", "read", "sub/f.txt",
           "unlink", "b.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has_line(r.out, "read sub/f.txt: ok [hi]")) << r.out;
  EXPECT_EQ(test::read_file(dir / "sb" / "rel.txt"), "abc");
  EXPECT_FALSE(fs::exists(dir / "sb" / "b.txt"));

  // A read-only preopen: reads work, every change is EROFS.
  r = run({"--dir", "/ro:" + (dir / "sb").string() + ":readonly", fsapp.string(), "read", "/ro/rel.txt", "write",
           "/ro/new.txt", "x", "mkdir", "/ro/d", "unlink", "/ro/rel.txt"});
  EXPECT_TRUE(has_line(r.out, "read /ro/rel.txt: ok [abc]")) << r.out;
  EXPECT_TRUE(has_line(r.out, "write /ro/new.txt: errno=69")) << r.out;
  EXPECT_TRUE(has_line(r.out, "mkdir /ro/d: errno=69")) << r.out;
  EXPECT_TRUE(has_line(r.out, "unlink /ro/rel.txt: errno=69")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "sb" / "new.txt"));

  // A preopen that does not exist stops start-up with a message naming it.
  r = run({"--dir", "/x:" + (dir / "missing").string(), fsapp.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((dir / "missing").string()), std::string::npos) << r.err;
}

TEST(Wasi, NoEscapeFromAPreopen) {
  APP_OR_SKIP(fsapp, "wasi_fs");
  const auto dir = test::scratch_dir("wasi-escape");
  fs::create_directories(dir / "sb" / "sub");
  fs::create_directories(dir / "outside");
  spit(dir / "outside" / "secret.txt", "SECRET");
  spit(dir / "sb" / "sub" / "f.txt", "inside");
  fs::create_directory_symlink("../outside", dir / "sb" / "link_dir_out");
  fs::create_symlink("/etc/passwd", dir / "sb" / "link_abs");
  fs::create_symlink("../../outside/secret.txt", dir / "sb" / "sub" / "link_rel_out");
  fs::create_directory_symlink("sub", dir / "sb" / "link_in");
  fs::create_symlink("../sub/f.txt", dir / "sb" / "sub" / "link_up_in");

  auto r = run({"--dir", "/data:" + (dir / "sb").string(), fsapp.string(),
                // through wasi-libc's path handling
                "read", "/data/../outside/secret.txt", "read", "/etc/passwd", "read", "/data/link_dir_out/secret.txt",
                "read", "/data/link_abs", "read", "/data/sub/link_rel_out", "write", "/data/link_dir_out/new.txt", "x",
                "symlink", "/etc/passwd", "/data/mylink",
                // straight to path_open on the preopen (fd 3)
                "raw", "3", "../outside/secret.txt", "raw", "3", "/etc/passwd", "raw", "3", "sub/../../outside/secret.txt",
                "raw", "3", "link_dir_out/secret.txt", "raw", "3", "link_abs", "raw", "3", "sub/link_rel_out", "raw", "3",
                "sub/../..", "raw", "3", "..",
                // what stays inside works, symlinks included
                "raw", "3", "sub/../sub/f.txt", "raw", "3", "link_in/f.txt", "raw", "3", "sub/link_up_in",
                "rawnofollow", "3", "link_abs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const char* refused[] = {"read /data/../outside/secret.txt: errno=76",
                           "read /etc/passwd: errno=76",
                           "read /data/link_dir_out/secret.txt: errno=76",
                           "read /data/link_abs: errno=76",
                           "read /data/sub/link_rel_out: errno=76",
                           "write /data/link_dir_out/new.txt: errno=76",
                           "symlink /data/mylink: errno=76",
                           "raw ../outside/secret.txt: errno=76",
                           "raw /etc/passwd: errno=76",
                           "raw sub/../../outside/secret.txt: errno=76",
                           "raw link_dir_out/secret.txt: errno=76",
                           "raw link_abs: errno=76",
                           "raw sub/link_rel_out: errno=76",
                           "raw sub/../..: errno=76",
                           "raw ..: errno=76",
                           "rawnofollow link_abs: errno=32"};  // ELOOP: a final symlink not followed
  for (const char* line : refused) EXPECT_TRUE(has_line(r.out, line)) << line << "\n" << r.out;
  EXPECT_EQ(r.out.find("SECRET"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("root:"), std::string::npos) << r.out;
  EXPECT_TRUE(has_line(r.out, "raw sub/../sub/f.txt: ok fd=4 [inside]")) << r.out;
  EXPECT_TRUE(has_line(r.out, "raw link_in/f.txt: ok fd=4 [inside]")) << r.out;
  EXPECT_TRUE(has_line(r.out, "raw sub/link_up_in: ok fd=4 [inside]")) << r.out;
  EXPECT_FALSE(fs::exists(dir / "outside" / "new.txt"));
  EXPECT_FALSE(fs::is_symlink(dir / "sb" / "mylink"));
}

TEST(Wasi, PrestatEnumeratesPreopensThenEbadf) {
  APP_OR_SKIP(fsapp, "wasi_fs");
  const auto dir = test::scratch_dir("wasi-prestat");
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  auto r = run({"--dir", "/a:" + (dir / "a").string(), "--dir", "/b/:" + (dir / "b").string(), fsapp.string(),
                "prestat"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "prestat 3: ok [/a]\nprestat 4: ok [/b]\nprestat 5: errno=8\n");
  r = run({fsapp.string(), "prestat"});  // wasi-libc start-up succeeds without any preopen
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "prestat 3: errno=8\n");
}

TEST(Wasi, ClocksAndRandom) {
  APP_OR_SKIP(misc, "wasi_misc");
  auto r = run({misc.string(), "clock"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  unsigned long long realtime = 0, res = 0, slept = 0;
  int badclock = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "realtime_s=%llu res_ns=%llu slept_ms=%llu badclock=%d", &realtime, &res, &slept,
                        &badclock),
            4)
      << r.out;
  EXPECT_NEAR(double(realtime), double(time(nullptr)), 60.0);
  EXPECT_GE(res, 1u);
  EXPECT_GE(slept, 29u);  // nanosleep → poll_oneoff with a clock subscription
  std::printf("[ measured ] a 30 ms guest sleep took %llu ms\n", slept);
  EXPECT_EQ(badclock, 28);  // EINVAL
  r = run({misc.string(), "random"});
  EXPECT_EQ(r.out, "random errno=0,0 nonzero=1 differ=1\n") << r.err;
}

TEST(Wasi, StdinAndPoll) {
  APP_OR_SKIP(misc, "wasi_misc");
  const std::string cmd = std::string("printf 'line one\\nline two' | ") + NNB_CLI_PATH + " run " + misc.string() + " stdin";
  auto r = run_command({"/bin/sh", "-c", cmd}, 30);
  EXPECT_EQ(r.out, "stdin bytes=17 [line one\nline two]\n") << r.err;
  // poll_oneoff on stdin + a 5 s clock: data arriving after 0.3 s wakes it as an fd_read event.
  const std::string poll = std::string("(sleep 0.3; printf x) | ") + NNB_CLI_PATH + " run " + misc.string() + " poll";
  r = run_command({"/bin/sh", "-c", poll}, 30);
  EXPECT_EQ(r.out, "poll errno=0 n=1 [userdata=11 type=1 error=0 nbytes=1]\n") << r.err;
  // type=1 above says the fd woke the poll, not its 5 s clock (type=0); the time is printed.
  std::printf("[ measured ] poll woken by stdin after %.2f s\n", r.seconds);
}

TEST(Wasi, BadGuestPointersAreEfaultNotACrash) {
  APP_OR_SKIP(misc, "wasi_misc");
  const auto dir = test::scratch_dir("wasi-badptr");
  auto r = run({"--dir", ".:" + dir.string(), misc.string(), "badptr"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* call : {"fd_write_iovs", "fd_write_buf", "fd_write_nwritten", "random_get", "clock_time_get",
                           "args_sizes_get", "path_open_path", "path_open_fd_out", "fd_prestat_get",
                           "fd_prestat_dir_name"})
    EXPECT_TRUE(has_line(r.out, std::string(call) + "=21")) << call << "\n" << r.out;
}

TEST(Wasi, UnimplementedFunctionsAnswerEnosys) {
  APP_OR_SKIP(misc, "wasi_misc");
  auto r = run({misc.string(), "enosys"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "sock_accept=52\nsock_shutdown=52\n");
}

TEST(Wasi, EveryPreview1ImportIsProvided) {
  WasiHost host{WasiOptions{}};
  const auto fns = wasi_functions(host);
  EXPECT_EQ(fns.size(), 46u);  // the whole wasi_snapshot_preview1 module
  for (const auto& f : fns) EXPECT_EQ(f.module, "wasi_snapshot_preview1");
}

}  // namespace
}  // namespace nnb::wasm
