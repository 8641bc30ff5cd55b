// See wasi_sandbox.h for the rules.
#include "wasm/wasi_sandbox.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <vector>

namespace nnb::wasm::wasi {
namespace {

constexpr int kMaxSymlinks = 40;  // as Linux's MAXSYMLINKS

void split_into(std::string_view path, std::deque<std::string>& out, bool at_front) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    const size_t j = path.find('/', i);
    const size_t end = j == std::string_view::npos ? path.size() : j;
    if (end > i) parts.emplace_back(path.substr(i, end - i));
    i = end + 1;
  }
  if (at_front)
    out.insert(out.begin(), parts.begin(), parts.end());
  else
    out.insert(out.end(), parts.begin(), parts.end());
}

// The target of `name` in `dir` if it is a symlink; empty optional-like flag otherwise.
bool read_link(int dir, const std::string& name, std::string& target) {
  char buf[4096];
  const ssize_t n = ::readlinkat(dir, name.c_str(), buf, sizeof buf);
  if (n < 0 || size_t(n) >= sizeof buf) return false;
  target.assign(buf, size_t(n));
  return true;
}

}  // namespace

uint16_t resolve_beneath(int base_fd, std::string_view path, bool follow_final, Resolved& out) {
  if (path.empty()) return kNoent;
  if (path.find('\0') != std::string_view::npos) return kIlseq;
  if (path.front() == '/') return kNotcapable;

  std::deque<std::string> todo;
  split_into(path, todo, false);
  const bool trailing_slash = path.back() == '/';
  std::vector<UniqueFd> stack;  // directories entered below the base
  auto cur = [&] { return stack.empty() ? base_fd : stack.back().get(); };
  int links = 0;
  std::string final_name;  // empty: the directory itself (".")

  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    const bool last = todo.empty();
    if (comp == ".") continue;
    if (comp == "..") {
      if (stack.empty()) return kNotcapable;
      stack.pop_back();
      if (last) final_name.clear();
      continue;
    }
    if (last && !follow_final && !trailing_slash) {
      final_name = comp;
      break;
    }
    if (last) {
      // Follow a final symlink; anything else (including a missing name, for O_CREAT) is the
      // final component itself.
      std::string target;
      if (read_link(cur(), comp, target)) {
        if (++links > kMaxSymlinks) return kLoop;
        if (target.empty()) return kNoent;
        if (target.front() == '/') return kNotcapable;
        split_into(target, todo, true);
        if (todo.empty()) final_name.clear();
        continue;
      }
      final_name = comp;
      break;
    }
    const int fd = ::openat(cur(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      stack.emplace_back(fd);
      final_name.clear();
      continue;
    }
    const int err = errno;
    std::string target;
    if ((err == ENOTDIR || err == ELOOP) && read_link(cur(), comp, target)) {
      if (++links > kMaxSymlinks) return kLoop;
      if (target.empty()) return kNoent;
      if (target.front() == '/') return kNotcapable;
      split_into(target, todo, true);
      continue;
    }
    return from_host_errno(err);
  }

  out.trailing_slash = trailing_slash;
  if (final_name.empty()) out.name.assign(1, '.');
  else out.name = std::move(final_name);
  if (stack.empty()) {
    out.owned_parent = UniqueFd();
    out.parent = base_fd;
  } else {
    out.owned_parent = std::move(stack.back());
    out.parent = out.owned_parent.get();
  }
  return kSuccess;
}

}  // namespace nnb::wasm::wasi
