// What the wasm end-to-end tests share: running a command with a time limit and capturing
// its stdout and stderr apart, and a REAL `nnbridge serve` process on a temporary UNIX socket
// (NNB_CLI_PATH), killed when the test ends (or when the test process dies).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace nnb::wasmtest {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
  long max_rss_kib = 0;  // the child's peak resident memory (VmHWM), from wait4's rusage
};

// Runs argv (argv[0] a path) with stdin from /dev/null; kills it after timeout_s.
inline RunResult run_command(const std::vector<std::string>& argv, double timeout_s) {
  RunResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return r;
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    const int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    close(out_pipe[0]), close(err_pipe[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]), close(err_pipe[1]);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    const double left = timeout_s - std::chrono::duration<double>(Clock::now() - t0).count();
    if (left <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, int(left * 1000) + 1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, size_t(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int st = 0;
  rusage ru{};
  wait4(pid, &st, 0, &ru);
  r.max_rss_kib = ru.ru_maxrss;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.timed_out && WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  return r;
}

// `nnbridge serve --nn-rpc-uri unix://DIR/NAME.sock` plus extra args, its output in DIR/NAME.log.
class ServeProcess {
 public:
  ServeProcess(const fs::path& dir, const std::string& name, const std::vector<std::string>& extra) {
    sock_ = (dir / (name + ".sock")).string();
    log_ = dir / (name + ".log");
    fs::remove(sock_);
    std::vector<std::string> args{NNB_CLI_PATH, "serve", "--nn-rpc-uri", uri()};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(out, 1);
      dup2(out, 2);
      const int null = open("/dev/null", O_RDONLY);
      dup2(null, 0);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  std::string uri() const { return "unix://" + sock_; }
  std::string log() const {
    std::ifstream in(log_, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // Waits until the socket accepts (the server says "listening on"); false if it died.
  bool wait_ready(double timeout_s = 20) {
    const auto t0 = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - t0).count() < timeout_s) {
      if (log().find("listening on") != std::string::npos) return true;
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

 private:
  std::string sock_;
  fs::path log_;
  pid_t pid_ = -1;
};

}  // namespace nnb::wasmtest
