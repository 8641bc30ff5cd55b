// The web chat page served at / by `serve --http` and `gateway`: one self-contained HTML file
// (script and style inline, compiled into the binary; no build step, no external requests).
#pragma once

#include <string>

namespace nnb::http {
const std::string& web_page();
}
