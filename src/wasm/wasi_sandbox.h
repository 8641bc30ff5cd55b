// Resolution of guest paths beneath a directory descriptor, with no way out.
//
// The path is walked one component at a time from the base directory. Each directory step is
// opened with openat(O_PATH | O_DIRECTORY | O_NOFOLLOW) relative to the previous one, so a
// component swapped for a symlink mid-walk fails instead of being followed. `..` pops the walk
// (never opens the host's `..`) and fails with ENOTCAPABLE at the base. A symlink met on the
// way (and at the end when following is asked for) is read with readlinkat and its target
// spliced into the walk: relative targets resolve inside the tree under the same rules, an
// absolute target is ENOTCAPABLE. An absolute guest path is ENOTCAPABLE.
//
// The result is the final component's parent (a descriptor) and its name, for the *at()
// calls; callers pass O_NOFOLLOW / AT_SYMLINK_NOFOLLOW so the last step cannot escape either.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "wasm/wasi_state.h"

namespace nnb::wasm::wasi {

struct Resolved {
  UniqueFd owned_parent;  // set when the parent is not the base itself
  int parent = -1;        // the descriptor to use (base or owned_parent)
  std::string name;       // one component; "." when the path names the directory itself
  bool trailing_slash = false;
};

// Returns a WASI errno (kSuccess with `out` filled).
uint16_t resolve_beneath(int base_fd, std::string_view path, bool follow_final, Resolved& out);

}  // namespace nnb::wasm::wasi
