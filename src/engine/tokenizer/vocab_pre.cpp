// BPE pre-tokenizers by tokenizer.ggml.pre name: the regex lists and flags of llama.cpp's
// llm_tokenizer_bpe / llama_vocab::load (commit c392e50, which the fixtures come from).
#include <string_view>

#include "engine/tokenizer/unicode_scan.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb::vocab_detail {
namespace {

using unicode::kGpt2Regex;
using unicode::kLlama3Regex;

PreTokenizer make(std::vector<std::string> regexes) {
  PreTokenizer p;
  p.regexes = std::move(regexes);
  return p;
}

PreTokenizer with(PreTokenizer p, bool ignore_merges, bool add_bos, bool clean_spaces) {
  p.ignore_merges = ignore_merges;
  p.add_bos = add_bos;
  p.clean_spaces = clean_spaces;
  return p;
}

// Regex lists shared by several names.
PreTokenizer default_pre() {
  return make({"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2Regex, "\\p{N}+", "[0-9][0-9][0-9]"});
}
PreTokenizer gpt2_pre() { return make({kGpt2Regex}); }
PreTokenizer llama3_pre() { return make({kLlama3Regex}); }
PreTokenizer starcoder_pre() { return make({"\\p{N}", kGpt2Regex}); }
PreTokenizer qwen2_pre() {
  return make({"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
               "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"});
}
// Non-ASCII characters are written as escapes: tools that NFC-normalize text would silently turn
// singletons such as U+1F7D or U+212A into other code points and break these ranges.
PreTokenizer deepseek_llm_pre() {
  return make({
      "[\r\n]",
      "\\s?[A-Za-z"
      "\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-"
      "\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-"
      "\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-"
      "\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-"
      "\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4"
      "\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A"
      "-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-"
      "\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-"
      "\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-"
      "\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-"
      "\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+",
      "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
      "\\s+$",
      "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+",
      "\\p{N}+",
  });
}
PreTokenizer deepseek_coder_pre() {
  return make({"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+", "\\p{N}"});
}
PreTokenizer deepseek3_pre() {
  return make({
      "\\p{N}{1,3}",
      "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
  });
}
PreTokenizer falcon_pre() {
  return make({"[\\p{P}\\$\\+<=>\\^~\\|`]+", kGpt2Regex, "[0-9][0-9][0-9]"});
}
PreTokenizer bloom_pre() { return make({" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"}); }
PreTokenizer viking_pre() { return make({" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+", "\\p{N}"}); }
PreTokenizer tekken_pre() {
  return make({"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])"
               "([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"});
}
PreTokenizer gpt4o_pre() {
  return make({"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'["
               "mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|"
               "'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+("
               "?!\\S)|\\s+"});
}

// name -> pre-tokenizer. Flags: (ignore_merges, add_bos default, clean_spaces).
const std::vector<std::pair<std::string_view, PreTokenizer>>& table() {
  static const std::vector<std::pair<std::string_view, PreTokenizer>> t = [] {
    std::vector<std::pair<std::string_view, PreTokenizer>> v;
    auto add = [&](std::initializer_list<std::string_view> names, const PreTokenizer& p) {
      for (auto n : names) v.emplace_back(n, p);
    };
    add({"default"}, default_pre());
    add({"llama3", "llama-v3", "llama-bpe", "falcon3"}, with(llama3_pre(), true, true, true));
    add({"dbrx", "smaug-bpe"}, llama3_pre());
    add({"deepseek-llm"}, with(deepseek_llm_pre(), false, false, false));
    add({"deepseek-coder"}, with(deepseek_coder_pre(), false, false, false));
    add({"deepseek-v3"}, with(deepseek3_pre(), false, false, false));
    add({"falcon"}, falcon_pre());
    add({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
         "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais"},
        gpt2_pre());
    add({"starcoder", "refact", "codeshell", "exaone", "minerva-7b"}, starcoder_pre());
    add({"command-r", "smollm"}, with(starcoder_pre(), false, false, false));
    add({"qwen2", "deepseek-r1-qwen"}, with(qwen2_pre(), false, false, false));
    add({"stablelm2", "megrez"}, qwen2_pre());
    add({"poro-chat"}, with(bloom_pre(), false, false, false));
    add({"bloom", "gpt3-finnish"}, bloom_pre());
    add({"viking"}, with(viking_pre(), false, false, false));
    PreTokenizer glm = llama3_pre();
    glm.no_bos = true;
    add({"chatglm-bpe"}, glm);
    add({"tekken"}, with(tekken_pre(), true, true, false));
    add({"gpt-4o"}, with(gpt4o_pre(), false, false, false));
    return v;
  }();
  return t;
}

}  // namespace

const PreTokenizer* find_pre_tokenizer(std::string_view name) {
  for (const auto& [n, p] : table())
    if (n == name) return &p;
  return nullptr;
}

}  // namespace nnb::vocab_detail
