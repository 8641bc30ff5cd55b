// Child processes for the tests that run real `nnbridge` processes (header-only, so that it
// needs no entry in tests/CMakeLists.txt):
//   ChildProcess  a process that runs beside the test (a server, a client to be killed):
//                 stdout+stderr to a log file, stdin from /dev/null or a pipe, killed (SIGKILL)
//                 and reaped on destruction, and by the kernel if the test process dies first
//                 (PR_SET_PDEATHSIG);
//   run_command   runs a command to its end with a time limit, stdout and stderr captured apart;
//   run_shell     the same for a /bin/sh command line (redirections, pipes).
// Everything a child needs is built before fork(): a forked child of a threaded process must
// not allocate, so between fork and exec it only makes system calls. Pipes are close-on-exec,
// so a child started from one thread never holds another child's pipe open.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace nnb::test {

namespace child_detail {

// This process's environment with `overrides` ("NAME=VALUE") put first, each replacing the
// entry of the same name. The strings are owned by the returned vector.
inline std::vector<std::string> environment_with(const std::vector<std::string>& overrides) {
  std::vector<std::string> env(overrides);
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& o : overrides) {
      const size_t eq = o.find('=');
      if (eq != std::string::npos && entry.rfind(std::string_view(o).substr(0, eq + 1), 0) == 0) replaced = true;
    }
    if (!replaced) env.emplace_back(entry);
  }
  return env;
}

inline std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  for (auto& s : strings) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// In the child, after fork: die with the parent, then stdin/stdout/stderr. Only system calls.
inline void child_setup(pid_t parent, int stdin_fd, int stdout_fd, int stderr_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
  if (stdin_fd < 0) stdin_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  dup2(stdin_fd, 0);
  if (stdout_fd >= 0) dup2(stdout_fd, 1);
  if (stderr_fd >= 0) dup2(stderr_fd, 2);
}

}  // namespace child_detail

struct ChildOptions {
  bool stdin_pipe = false;       // a pipe to its stdin (write_stdin); otherwise /dev/null
  std::vector<std::string> env;  // "NAME=VALUE" entries on top of this process's environment
  std::string exec_path;         // the file to execute when it differs from argv[0]
};

class ChildProcess {
 public:
  // Starts argv (argv[0] a path) with stdout+stderr in `log` (emptied first; an empty path:
  // this process's stdout and stderr).
  ChildProcess(const std::vector<std::string>& argv_in, const std::filesystem::path& log_path,
               const ChildOptions& o = {}) {
    // The log is emptied here, before the fork: a reader never sees a previous run's lines.
    if (!log_path.empty()) std::ofstream(log_path, std::ios::trunc);
    std::vector<std::string> args(argv_in);
    std::vector<char*> argv = child_detail::pointers(args);
    std::vector<std::string> env_strings = child_detail::environment_with(o.env);
    std::vector<char*> envp = child_detail::pointers(env_strings);
    const std::string path = o.exec_path.empty() ? args.at(0) : o.exec_path;
    const std::string log = log_path.string();
    int in[2] = {-1, -1};
    if (o.stdin_pipe && pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      const int out = log.empty() ? -1 : open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      child_detail::child_setup(parent, in[0], out, out);
      execve(path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    if (o.stdin_pipe) {
      close(in[0]);
      stdin_ = in[1];
    }
  }
  ~ChildProcess() {
    close_stdin();
    kill9();
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }  // -1 once it has exited (been reaped)

  // False once it has exited; its status is then status().
  bool running() {
    if (pid_ <= 0) return false;
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = st;
      pid_ = -1;
      return false;
    }
    return true;
  }
  // The exit status as from waitpid, or -1 while running (or when killed by kill9()).
  int status() const { return status_; }

  // Waits for exit; returns its status (as from waitpid) or -1 on timeout.
  int wait_exit(double timeout_s) {
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
      if (!running()) return status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  // Waits for exit, however long it takes; returns its status (as from waitpid).
  int wait() {
    if (pid_ > 0) {
      int st = 0;
      while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
      status_ = st;
      pid_ = -1;
    }
    return status_;
  }

  void signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
  }
  void kill9() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Writes to its stdin (ChildOptions::stdin_pipe); false when not all of `s` was written.
  bool write_stdin(std::string_view s) {
    return stdin_ >= 0 && write(stdin_, s.data(), s.size()) == ssize_t(s.size());
  }
  void close_stdin() {
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  int stdin_ = -1;
};

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out, err;
  double seconds = 0;
  long max_rss_kib = 0;  // the child's peak resident memory (VmHWM), from wait4's rusage
};

// Runs argv (argv[0] a path) with stdin from /dev/null to its end, stdout and stderr captured
// apart; kills it after timeout_s (then timed_out).
inline RunResult run_command(const std::vector<std::string>& argv_in, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  RunResult r;
  std::vector<std::string> args(argv_in);
  std::vector<char*> argv = child_detail::pointers(args);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return r;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]), close(out_pipe[1]);
    return r;
  }
  const auto t0 = Clock::now();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    child_detail::child_setup(parent, -1, out_pipe[1], err_pipe[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]), close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]), close(err_pipe[0]);
    return r;
  }
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
    if (poll(fds, 2, int(left * 1000) + 1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, size_t(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
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
  while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
  }
  r.max_rss_kib = ru.ru_maxrss;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!r.timed_out && WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
  return r;
}

// run_command for a /bin/sh command line: its redirections and pipes apply (stdin is
// /dev/null unless the line says otherwise).
inline RunResult run_shell(const std::string& command_line, double timeout_s = 600) {
  return run_command({"/bin/sh", "-c", command_line}, timeout_s);
}

}  // namespace nnb::test
