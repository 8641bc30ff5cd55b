#include "nn/preload.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace nnb::nn {

PreloadSpec parse_preload(std::string_view spec) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid --nn-preload '" + std::string(spec) + "': " + why +
                                " (expected NAME:ENCODING:TARGET:PATH, e.g. default:GGML:AUTO:model.gguf)");
  };
  size_t a = spec.find(':');
  if (a == std::string_view::npos) fail("no ':'");
  size_t b = spec.find(':', a + 1);
  if (b == std::string_view::npos) fail("missing TARGET and PATH");
  size_t c = spec.find(':', b + 1);
  if (c == std::string_view::npos) fail("missing PATH");
  PreloadSpec p;
  p.name = std::string(spec.substr(0, a));
  if (p.name.empty()) fail("empty NAME");
  std::string enc(spec.substr(a + 1, b - a - 1));
  std::transform(enc.begin(), enc.end(), enc.begin(), [](unsigned char ch) { return char(std::toupper(ch)); });
  try {
    if (enc == "OPENAI") {
      p.kind = PreloadKind::OpenAIUpstream;
      p.encoding = GraphEncoding::Autodetect;
    } else {
      p.encoding = parse_encoding(spec.substr(a + 1, b - a - 1));
    }
    p.target = parse_target(spec.substr(b + 1, c - b - 1));
  } catch (const std::invalid_argument& e) {
    fail(e.what());
  }
  p.path = std::string(spec.substr(c + 1));
  if (p.path.empty()) fail("empty PATH");
  return p;
}

}  // namespace nnb::nn
