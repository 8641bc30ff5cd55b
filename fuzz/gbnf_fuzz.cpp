// libFuzzer target for the GBNF grammar engine (src/engine/grammar): the input is a grammar
// text, and also a JSON schema. Each must be refused with GrammarError or accepted; an accepted
// grammar then runs its matcher over fixed texts and the input itself, and its token filter over
// a small vocabulary (masks against the token-by-token check). A schema the converter accepts
// must give a grammar the parser accepts. Never crash, hang or exhaust memory (ASan/UBSan).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/matcher.h"
#include "engine/grammar/token_filter.h"

using namespace nnb::grammar;

namespace {

const std::shared_ptr<const TokenIndex>& vocab() {
  static const auto v = [] {
    std::vector<std::string> p = {"", "a", "b", "ab", "{", "}", "\"", " ", "\n", "0", "12", "-", "\xCE", "\xB1",
                                  "\xCE\xB1", "\xE2\x82\xAC", "true", "null", "[", "]", ",", ":", "\\", "x"};
    std::vector<bool> eog(p.size(), false);
    eog[0] = true;
    return std::make_shared<const TokenIndex>(p, eog);
  }();
  return v;
}

void exercise(const std::shared_ptr<const Grammar>& g, const std::string& input) {
  try {
    Matcher m(g);
    for (const char* s : {"a", "ab", "{\"a\": 1}", "\xCE\xB1", "0", "true"}) {
      Matcher k = m;
      (void)k.accept(s);
      (void)k.can_end();
    }
    (void)m.accept(input.substr(0, 256));
    TokenFilter f(g, vocab());
    for (int step = 0; step < 8; ++step) {
      const auto& mask = f.mask();
      int32_t pick = -1;
      for (int32_t t = 0; t < vocab()->n_vocab(); ++t) {
        const bool bit = (mask[size_t(t) / 64] >> (t % 64)) & 1;
        if (bit != f.allows(t)) {
          std::fprintf(stderr, "mask and allows() disagree on token %d\n", t);
          std::abort();
        }
        if (bit && t != 0 && pick < 0 && ((t + step) % 3 == 0 || t > 20)) pick = t;
      }
      if (pick < 0 || !f.accept(pick) || f.done()) break;
    }
  } catch (const std::runtime_error&) {
    // Too ambiguous for the matcher's bounds: refused, not a crash.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    exercise(std::make_shared<const Grammar>(parse_gbnf(input)), input);
  } catch (const GrammarError&) {
  }
  std::string gbnf;
  try {
    gbnf = json_schema_to_gbnf(input);
  } catch (const GrammarError&) {
    return 0;
  }
  try {
    exercise(std::make_shared<const Grammar>(parse_gbnf(gbnf)), input);
  } catch (const GrammarError& e) {
    // Hitting a size limit is fair, and so is left recursion (a schema whose $ref reaches
    // itself before any text: {"$defs":{"n":{"anyOf":[{"$ref":"#/$defs/n"}, ...]}}}); any
    // other refusal of the converter's own output is a bug.
    const std::string what = e.what();
    if (what.find("more than") == std::string::npos && what.find("limit") == std::string::npos &&
        what.find("left recursion") == std::string::npos) {
      std::fprintf(stderr, "the converter's grammar does not parse: %s\n%s\n", e.what(), gbnf.c_str());
      std::abort();
    }
  }
  return 0;
}
