// BPE pre-tokenizer types by tokenizer.ggml.pre name (issue 12): command-r, smollm, refact,
// mpt, olmo, falcon, deepseek-coder and tekken split text as llama.cpp's llama-vocab.cpp does for
// the same name, and an unknown name is refused naming it (never a silent gpt-2).
//
// The expected words follow llama.cpp's unicode_regex_split: each regex of a type's list splits
// every piece the earlier ones left, and text between matches stays a piece of its own. They
// were worked out from the regex lists with Python's `regex` module (real \p{..} classes) in that
// loop, plus the one llama.cpp transformation that changes a match here (a regex without \p{..}
// sees non-ASCII white space as U+000B), then checked by hand against the rule each case names.
// Random strings over the same alphabet agreed between that reference and RegexSplitter.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/unicode_regex.h"
#include "engine/tokenizer/vocab.h"
#include "engine/tokenizer/vocab_impl.h"

namespace nnb {
namespace {

using vocab_detail::find_pre_tokenizer;

// Cases are written as UTF-32 literals with escapes, so no editor or tool that normalizes
// Unicode can change the code points under test.
struct Case {
  std::u32string text;
  std::vector<std::u32string> words;
};

std::string utf8(std::u32string_view s) {
  std::string out;
  for (char32_t c : s) unicode::append_utf8(out, uint32_t(c));
  return out;
}

std::vector<std::string> words_of(std::string_view pre, const std::string& text) {
  const vocab_detail::PreTokenizer* p = find_pre_tokenizer(pre);
  if (!p) throw std::runtime_error("no pre-tokenizer " + std::string(pre));
  return unicode::RegexSplitter(p->regexes).split(text);
}

void expect_splits(std::initializer_list<const char*> names, const std::vector<Case>& cases) {
  for (const char* name : names) {
    for (const Case& c : cases) {
      std::vector<std::string> want;
      for (const auto& w : c.words) want.push_back(utf8(w));
      const std::string text = utf8(c.text);
      EXPECT_EQ(words_of(name, text), want) << name << " on " << nlohmann::json(text).dump();
    }
  }
}

// The texts, in this order in every table: digit runs; contractions; ASCII punctuation and
// symbols; CJK with full-width punctuation; emoji (a skin-tone modifier included); newlines,
// tabs and runs of spaces; accented and Greek letters; case changes inside words; code; non-ASCII
// digits and non-ASCII white space (U+3000, U+00A0).

// GPT-2's expression alone: contractions in lower case only, " ?" before a run of one class,
// the last space of a run left for the next word.
const std::vector<Case> kGpt2Cases = {
    {U"a1 22 333 4444 55555 1234567", {U"a", U"1", U" 22", U" 333", U" 4444", U" 55555", U" 1234567"}},
    {U"I'm you'RE they've it's we'll he'd DON'T",
     {U"I", U"'m", U" you", U"'", U"RE", U" they", U"'ve", U" it", U"'s", U" we", U"'ll", U" he", U"'d", U" DON", U"'",
      U"T"}},
    {U"Hello, world!!! (x+y)=z; a.b...c ~tilde `code` $100 #tag @user",
     {U"Hello", U",", U" world", U"!!!",   U" (", U"x",    U"+", U"y",  U")=",  U"z",  U";",   U" a", U".",   U"b",
      U"...",   U"c", U" ~",     U"tilde", U" `", U"code", U"`", U" $", U"100", U" #", U"tag", U" @", U"user"}},
    {U"\u4F60\u597D\uFF0C\u4E16\u754C\u3002\u3053\u3093\u306B\u3061\u306F \uC548\uB155\uD558\uC138\uC694",
     {U"\u4F60\u597D", U"\uFF0C", U"\u4E16\u754C", U"\u3002", U"\u3053\u3093\u306B\u3061\u306F",
      U" \uC548\uB155\uD558\uC138\uC694"}},
    {U"ok \U0001F600\U0001F44D\U0001F3FD fine\U0001F389!",
     {U"ok", U" \U0001F600\U0001F44D\U0001F3FD", U" fine", U"\U0001F389!"}},
    {U"line1\n\nline2\r\n  indented\t\ttab   \n\n end  ",
     {U"line", U"1", U"\n", U"\n", U"line", U"2", U"\r\n ", U" indented", U"\t", U"\t", U"tab", U"   \n\n", U" end",
      U"  "}},
    {U"Caf\u00E9 na\u00EFve \u00C9COLE stra\u00DFe \u03A9mega",
     {U"Caf\u00E9", U" na\u00EFve", U" \u00C9COLE", U" stra\u00DFe", U" \u03A9mega"}},
    {U"HelloWorld XMLHttpRequest iPhone \u00C0BC", {U"HelloWorld", U" XMLHttpRequest", U" iPhone", U" \u00C0BC"}},
    {U"def f(x):\n    return x**2 // 3\n",
     {U"def", U" f", U"(", U"x", U"):", U"\n   ", U" return", U" x", U"**", U"2", U" //", U" 3", U"\n"}},
    {U"\u00BD \u00B2 \u0661\u0662\u0663 a\u3000b\u00A0 c",
     {U"\u00BD", U" \u00B2", U" \u0661\u0662\u0663", U" a", U"\u3000", U"b", U"\u00A0", U" c"}},
};

// Every digit its own piece first, then GPT-2's expression on what is left.
const std::vector<Case> kStarcoderCases = {
    {U"a1 22 333 4444 55555 1234567",
     {U"a", U"1", U" ", U"2", U"2", U" ", U"3", U"3", U"3", U" ", U"4", U"4", U"4", U"4",
      U" ", U"5", U"5", U"5", U"5", U"5", U" ", U"1", U"2", U"3", U"4", U"5", U"6", U"7"}},
    {U"I'm you'RE they've it's we'll he'd DON'T",
     {U"I", U"'m", U" you", U"'", U"RE", U" they", U"'ve", U" it", U"'s", U" we", U"'ll", U" he", U"'d", U" DON", U"'",
      U"T"}},
    {U"Hello, world!!! (x+y)=z; a.b...c ~tilde `code` $100 #tag @user",
     {U"Hello", U",",  U" world", U"!!!", U" (",   U"x", U"+",  U"y", U")=", U"z", U";",  U" a",  U".",  U"b",   U"...",
      U"c",     U" ~", U"tilde",  U" `",  U"code", U"`", U" $", U"1", U"0",  U"0", U" #", U"tag", U" @", U"user"}},
    {U"\u4F60\u597D\uFF0C\u4E16\u754C\u3002\u3053\u3093\u306B\u3061\u306F \uC548\uB155\uD558\uC138\uC694",
     {U"\u4F60\u597D", U"\uFF0C", U"\u4E16\u754C", U"\u3002", U"\u3053\u3093\u306B\u3061\u306F",
      U" \uC548\uB155\uD558\uC138\uC694"}},
    {U"ok \U0001F600\U0001F44D\U0001F3FD fine\U0001F389!",
     {U"ok", U" \U0001F600\U0001F44D\U0001F3FD", U" fine", U"\U0001F389!"}},
    {U"line1\n\nline2\r\n  indented\t\ttab   \n\n end  ",
     {U"line", U"1", U"\n", U"\n", U"line", U"2", U"\r\n ", U" indented", U"\t", U"\t", U"tab", U"   \n\n", U" end",
      U"  "}},
    {U"Caf\u00E9 na\u00EFve \u00C9COLE stra\u00DFe \u03A9mega",
     {U"Caf\u00E9", U" na\u00EFve", U" \u00C9COLE", U" stra\u00DFe", U" \u03A9mega"}},
    {U"HelloWorld XMLHttpRequest iPhone \u00C0BC", {U"HelloWorld", U" XMLHttpRequest", U" iPhone", U" \u00C0BC"}},
    {U"def f(x):\n    return x**2 // 3\n",
     {U"def", U" f", U"(", U"x", U"):", U"\n   ", U" return", U" x", U"**", U"2", U" //", U" ", U"3", U"\n"}},
    {U"\u00BD \u00B2 \u0661\u0662\u0663 a\u3000b\u00A0 c",
     {U"\u00BD", U" ", U"\u00B2", U" ", U"\u0661", U"\u0662", U"\u0663", U" a", U"\u3000", U"b", U"\u00A0", U" c"}},
};

// Runs of punctuation and ASCII symbols split off first (so contractions lose their
// apostrophe), then GPT-2's expression, then runs of three ASCII digits from the left.
const std::vector<Case> kFalconCases = {
    {U"a1 22 333 4444 55555 1234567",
     {U"a", U"1", U" 22", U" ", U"333", U" ", U"444", U"4", U" ", U"555", U"55", U" ", U"123", U"456", U"7"}},
    {U"I'm you'RE they've it's we'll he'd DON'T",
     {U"I", U"'",   U"m", U" you", U"'",   U"RE", U" they", U"'",    U"ve", U" it", U"'",
      U"s", U" we", U"'", U"ll",   U" he", U"'",  U"d",     U" DON", U"'",  U"T"}},
    {U"Hello, world!!! (x+y)=z; a.b...c ~tilde `code` $100 #tag @user",
     {U"Hello", U",",  U" world", U"!!!", U" ",   U"(", U"x", U"+",   U"y",     U")=", U"z",
      U";",     U" a", U".",      U"b",   U"...", U"c", U" ", U"~",   U"tilde", U" ",  U"`",
      U"code",  U"`",  U" ",      U"$",   U"100", U" ", U"#", U"tag", U" ",     U"@",  U"user"}},
    {U"\u4F60\u597D\uFF0C\u4E16\u754C\u3002\u3053\u3093\u306B\u3061\u306F \uC548\uB155\uD558\uC138\uC694",
     {U"\u4F60\u597D", U"\uFF0C", U"\u4E16\u754C", U"\u3002", U"\u3053\u3093\u306B\u3061\u306F",
      U" \uC548\uB155\uD558\uC138\uC694"}},
    {U"ok \U0001F600\U0001F44D\U0001F3FD fine\U0001F389!",
     {U"ok", U" \U0001F600\U0001F44D\U0001F3FD", U" fine", U"\U0001F389", U"!"}},
    {U"line1\n\nline2\r\n  indented\t\ttab   \n\n end  ",
     {U"line", U"1", U"\n", U"\n", U"line", U"2", U"\r\n ", U" indented", U"\t", U"\t", U"tab", U"   \n\n", U" end",
      U"  "}},
    {U"Caf\u00E9 na\u00EFve \u00C9COLE stra\u00DFe \u03A9mega",
     {U"Caf\u00E9", U" na\u00EFve", U" \u00C9COLE", U" stra\u00DFe", U" \u03A9mega"}},
    {U"HelloWorld XMLHttpRequest iPhone \u00C0BC", {U"HelloWorld", U" XMLHttpRequest", U" iPhone", U" \u00C0BC"}},
    {U"def f(x):\n    return x**2 // 3\n",
     {U"def", U" f", U"(", U"x", U"):", U"\n   ", U" return", U" x", U"**", U"2", U" ", U"//", U" 3", U"\n"}},
    {U"\u00BD \u00B2 \u0661\u0662\u0663 a\u3000b\u00A0 c",
     {U"\u00BD", U" \u00B2", U" \u0661\u0662\u0663", U" a", U"\u3000", U"b", U"\u00A0", U" c"}},
};

// Each of \r and \n alone; letter runs and punctuation runs, each with one optional leading
// white space; CJK/Hangul ranges (without U+3000, which that regex sees as U+000B); single
// digits. Symbols ($ ` ~ emoji) and what no regex matched stay between the matches.
const std::vector<Case> kDeepseekCoderCases = {
    {U"a1 22 333 4444 55555 1234567",
     {U"a", U"1", U" ", U"2", U"2", U" ", U"3", U"3", U"3", U" ", U"4", U"4", U"4", U"4",
      U" ", U"5", U"5", U"5", U"5", U"5", U" ", U"1", U"2", U"3", U"4", U"5", U"6", U"7"}},
    {U"I'm you'RE they've it's we'll he'd DON'T",
     {U"I", U"'",   U"m", U" you", U"'",   U"RE", U" they", U"'",    U"ve", U" it", U"'",
      U"s", U" we", U"'", U"ll",   U" he", U"'",  U"d",     U" DON", U"'",  U"T"}},
    {U"Hello, world!!! (x+y)=z; a.b...c ~tilde `code` $100 #tag @user",
     {U"Hello", U",", U" world", U"!!!",   U" (", U"x",    U"+",   U"y", U")", U"=", U"z",  U";",   U" a", U".",   U"b",
      U"...",   U"c", U" ~",     U"tilde", U" `", U"code", U"` $", U"1", U"0", U"0", U" #", U"tag", U" @", U"user"}},
    {U"\u4F60\u597D\uFF0C\u4E16\u754C\u3002\u3053\u3093\u306B\u3061\u306F \uC548\uB155\uD558\uC138\uC694",
     {U"\u4F60\u597D", U"\uFF0C", U"\u4E16\u754C", U"\u3002", U"\u3053\u3093\u306B\u3061\u306F", U" ",
      U"\uC548\uB155\uD558\uC138\uC694"}},
    {U"ok \U0001F600\U0001F44D\U0001F3FD fine\U0001F389!",
     {U"ok", U" \U0001F600\U0001F44D\U0001F3FD", U" fine", U"\U0001F389", U"!"}},
    {U"line1\n\nline2\r\n  indented\t\ttab   \n\n end  ",
     {U"line", U"1", U"\n", U"\n", U"line", U"2", U"\r", U"\n", U" ", U" indented", U"\t", U"\ttab", U"   ", U"\n",
      U"\n", U" end", U"  "}},
    {U"Caf\u00E9 na\u00EFve \u00C9COLE stra\u00DFe \u03A9mega",
     {U"Caf\u00E9", U" na\u00EFve", U" \u00C9COLE", U" stra\u00DFe", U" \u03A9mega"}},
    {U"HelloWorld XMLHttpRequest iPhone \u00C0BC", {U"HelloWorld", U" XMLHttpRequest", U" iPhone", U" \u00C0BC"}},
    {U"def f(x):\n    return x**2 // 3\n",
     {U"def", U" f", U"(", U"x", U"):", U"\n", U"   ", U" return", U" x", U"**", U"2", U" //", U" ", U"3", U"\n"}},
    {U"\u00BD \u00B2 \u0661\u0662\u0663 a\u3000b\u00A0 c",
     {U"\u00BD", U" ", U"\u00B2", U" ", U"\u0661", U"\u0662", U"\u0663", U" a", U"\u3000b", U"\u00A0", U" c"}},
};

// Tekken (Mistral Nemo): like Llama 3 but a word is a run of upper-case letters then lower-case
// ones (or upper case alone), a word may take any one non-letter, non-digit lead character,
// single digits, newlines ending a punctuation run. Letters outside ASCII count as both cases
// (llama.cpp matches [^a-z] / [^A-Z] on its collapsed text), hence " \u00C9" + "COLE".
const std::vector<Case> kTekkenCases = {
    {U"a1 22 333 4444 55555 1234567",
     {U"a", U"1", U" ", U"2", U"2", U" ", U"3", U"3", U"3", U" ", U"4", U"4", U"4", U"4",
      U" ", U"5", U"5", U"5", U"5", U"5", U" ", U"1", U"2", U"3", U"4", U"5", U"6", U"7"}},
    {U"I'm you'RE they've it's we'll he'd DON'T",
     {U"I", U"'m", U" you", U"'RE", U" they", U"'ve", U" it", U"'s", U" we", U"'ll", U" he", U"'d", U" DON", U"'T"}},
    {U"Hello, world!!! (x+y)=z; a.b...c ~tilde `code` $100 #tag @user",
     {U"Hello", U",",     U" world", U"!!!",  U" (", U"x",  U"+y", U")=", U"z", U";",  U" a",  U".b", U"...", U"c",
      U" ~",    U"tilde", U" `",     U"code", U"`",  U" $", U"1",  U"0",  U"0", U" #", U"tag", U" @", U"user"}},
    {U"\u4F60\u597D\uFF0C\u4E16\u754C\u3002\u3053\u3093\u306B\u3061\u306F \uC548\uB155\uD558\uC138\uC694",
     {U"\u4F60\u597D", U"\uFF0C\u4E16\u754C", U"\u3002\u3053\u3093\u306B\u3061\u306F",
      U" \uC548\uB155\uD558\uC138\uC694"}},
    {U"ok \U0001F600\U0001F44D\U0001F3FD fine\U0001F389!",
     {U"ok", U" \U0001F600\U0001F44D\U0001F3FD", U" fine", U"\U0001F389!"}},
    {U"line1\n\nline2\r\n  indented\t\ttab   \n\n end  ",
     {U"line", U"1", U"\n\n", U"line", U"2", U"\r\n", U" ", U" indented", U"\t", U"\ttab", U"   \n\n", U" end", U"  "}},
    {U"Caf\u00E9 na\u00EFve \u00C9COLE stra\u00DFe \u03A9mega",
     {U"Caf\u00E9", U" na\u00EFve", U" \u00C9", U"COLE", U" stra\u00DFe", U" \u03A9mega"}},
    {U"HelloWorld XMLHttpRequest iPhone \u00C0BC",
     {U"Hello", U"World", U" XMLHttp", U"Request", U" i", U"Phone", U" \u00C0", U"BC"}},
    {U"def f(x):\n    return x**2 // 3\n",
     {U"def", U" f", U"(x", U"):\n", U"   ", U" return", U" x", U"**", U"2", U" //", U" ", U"3", U"\n"}},
    {U"\u00BD \u00B2 \u0661\u0662\u0663 a\u3000b\u00A0 c",
     {U"\u00BD", U" ", U"\u00B2", U" ", U"\u0661", U"\u0662", U"\u0663", U" a", U"\u3000b", U"\u00A0", U" c"}},
};

TEST(VocabPreType, MptAndOlmoSplitAsGpt2) { expect_splits({"gpt-2", "mpt", "olmo"}, kGpt2Cases); }

TEST(VocabPreType, CommandRSmollmAndRefactSplitDigitsOneByOne) {
  expect_splits({"starcoder", "command-r", "smollm", "refact"}, kStarcoderCases);
}

TEST(VocabPreType, FalconSplitsPunctuationThenDigitsInThrees) { expect_splits({"falcon"}, kFalconCases); }

TEST(VocabPreType, DeepseekCoderSplitsLettersPunctuationCjkAndDigits) {
  expect_splits({"deepseek-coder"}, kDeepseekCoderCases);
}

TEST(VocabPreType, TekkenSplitsCaseRuns) { expect_splits({"tekken"}, kTekkenCases); }

// The flags llama.cpp's llama_vocab::load sets next to each name.
TEST(VocabPreType, FlagsFollowLlamaCpp) {
  struct Flags {
    const char* name;
    bool ignore_merges, add_bos, clean_spaces;
  };
  for (const Flags& f : {Flags{"command-r", false, false, false}, Flags{"smollm", false, false, false},
                         Flags{"refact", false, false, true}, Flags{"mpt", false, false, true},
                         Flags{"olmo", false, false, true}, Flags{"falcon", false, false, true},
                         Flags{"deepseek-coder", false, false, false}, Flags{"tekken", true, true, false}}) {
    const vocab_detail::PreTokenizer* p = find_pre_tokenizer(f.name);
    ASSERT_NE(p, nullptr) << f.name;
    EXPECT_EQ(p->ignore_merges, f.ignore_merges) << f.name;
    EXPECT_EQ(p->add_bos, f.add_bos) << f.name;
    EXPECT_EQ(p->clean_spaces, f.clean_spaces) << f.name;
    EXPECT_FALSE(p->no_bos) << f.name;
  }
}

// --- through a loaded vocabulary ---------------------------------------------------------------

gguf::Writer bpe_writer(const std::string& pre, const std::vector<std::string>& words) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(unicode::byte_to_gpt2(uint8_t(b)));
  for (const auto& w : words) tokens.push_back(w);
  tokens.push_back("<s>");
  std::vector<int32_t> types(tokens.size(), Vocab::NORMAL);
  types.back() = Vocab::CONTROL;
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_string_array("tokenizer.ggml.merges", {"H e"});
  w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(tokens.size() - 1));
  w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(tokens.size() - 1));
  return w;
}

std::unique_ptr<Vocab> load(const gguf::Writer& w) {
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes.data(), bytes.size(), "test vocab");
  return Vocab::from_gguf(*f);
}

const char* const kNewTypes[] = {"command-r", "smollm", "refact", "mpt", "olmo", "falcon", "deepseek-coder", "tekken"};

TEST(VocabPreType, EveryNewTypeLoadsAndRoundTrips) {
  for (const char* pre : kNewTypes) {
    auto v = load(bpe_writer(pre, {}));
    EXPECT_EQ(v->pre(), pre);
    for (const auto* cases : {&kGpt2Cases, &kTekkenCases})
      for (const Case& c : *cases) {
        const std::string text = utf8(c.text);
        EXPECT_EQ(v->detokenize(v->tokenize(text, false, false)), text) << pre << " on " << nlohmann::json(text).dump();
      }
  }
}

TEST(VocabPreType, TekkenTakesWholeWordsAndAddsBos) {
  auto v = load(bpe_writer("tekken", {"Hello", "World"}));
  const Token hello = 256, world = 257, bos = 258;
  EXPECT_TRUE(v->add_bos());
  // Split at the case change, then each word is a token as a whole (ignore_merges).
  EXPECT_EQ(v->tokenize("HelloWorld", true, false), (std::vector<Token>{bos, hello, world}));
  // Without ignore_merges the same words are bytes (no merge leads to them); byte b is token b.
  auto c = load(bpe_writer("command-r", {"Hello", "World"}));
  EXPECT_FALSE(c->add_bos());
  std::vector<Token> bytes;
  for (char ch : std::string("HelloWorld")) bytes.push_back(Token(uint8_t(ch)));
  EXPECT_EQ(c->tokenize("HelloWorld", true, false), bytes);
}

TEST(VocabPreType, CleanUpSpacesOnlyWhereLlamaCppDoes) {
  const std::string text = "a , b 's";
  for (const char* pre : {"command-r", "smollm", "deepseek-coder", "tekken"}) {
    auto v = load(bpe_writer(pre, {}));
    EXPECT_EQ(v->detokenize(v->tokenize(text, false, false)), text) << pre;
  }
  for (const char* pre : {"refact", "mpt", "olmo", "falcon"}) {
    auto v = load(bpe_writer(pre, {}));
    EXPECT_EQ(v->detokenize(v->tokenize(text, false, false)), "a, b's") << pre;
  }
}

// A name that is not llama.cpp's exact spelling is refused with the name in the message; no
// fallback to gpt-2 or default, whose splits would silently give other token ids.
TEST(VocabPreType, UnknownNamesAreRefusedByName) {
  for (const char* pre : {"command_r", "Command-R", "tekken2", "smollm2", "olmo ", "no-such-pre"}) {
    EXPECT_EQ(find_pre_tokenizer(pre), nullptr) << pre;
    std::string err = "(no error)";
    try {
      load(bpe_writer(pre, {}));
    } catch (const std::exception& e) {
      err = e.what();
    }
    EXPECT_NE(err.find("pre-tokenizer"), std::string::npos) << err;
    const std::string quoted = std::string(1, '\'').append(pre).append(1, '\'');
    EXPECT_NE(err.find(quoted), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace nnb
