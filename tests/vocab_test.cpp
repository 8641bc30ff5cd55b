// Tokenizer tests that need no fixtures: small SentencePiece and BPE vocabularies written here
// with gguf::Writer, and the pre-tokenizer regex splitting on its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/unicode_regex.h"
#include "engine/tokenizer/vocab.h"
#include "test_util.h"

namespace nnb {
namespace {

const std::string kSp = "\xE2\x96\x81";  // SentencePiece's space mark

// Builds a Vocab from writer metadata (the GGUF bytes only live during loading).
std::unique_ptr<Vocab> load(const gguf::Writer& w) {
  const std::vector<uint8_t> bytes = w.to_bytes();
  auto f = gguf::File::parse(bytes.data(), bytes.size(), "test vocab");
  return Vocab::from_gguf(*f);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// --- a small SentencePiece vocabulary ---------------------------------------------------------

struct SpmSpec {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::map<std::string, int32_t> id;

  void add(const std::string& t, float score, int32_t type = Vocab::NORMAL) {
    id[t] = int32_t(tokens.size());
    tokens.push_back(t);
    scores.push_back(score);
    types.push_back(type);
  }
};

// <unk> <s> </s>, 256 byte tokens, then words built so that merges reach "▁hello" / "▁world".
SpmSpec spm_spec() {
  SpmSpec s;
  s.add("<unk>", 0, Vocab::UNKNOWN);
  s.add("<s>", 0, Vocab::CONTROL);
  s.add("</s>", 0, Vocab::CONTROL);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    s.add(name, 0, Vocab::BYTE);
  }
  s.add(kSp, -1);
  for (const char* c : {"h", "e", "l", "o", "w", "r", "d", "a", "b", "c"}) s.add(c, -5);
  s.add(kSp + "h", -3);
  s.add("ll", -2);
  s.add(kSp + "he", -2.5);
  s.add(kSp + "hell", -1.5);
  s.add(kSp + "hello", -1);
  s.add(kSp + "w", -3);
  s.add("or", -2);
  s.add(kSp + "wor", -2);
  s.add("ld", -2);
  s.add(kSp + "world", -1);
  s.add("ab", -1);
  s.add("bc", -2);
  return s;
}

gguf::Writer spm_writer(const SpmSpec& s) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", s.tokens);
  w.set_f32_array("tokenizer.ggml.scores", s.scores);
  w.set_i32_array("tokenizer.ggml.token_type", s.types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  return w;
}

TEST(VocabSpm, LoadsTypesAndSpecialIds) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  EXPECT_EQ(v->kind(), Vocab::Kind::SPM);
  EXPECT_EQ(v->pre(), "default");
  EXPECT_EQ(v->n_tokens(), int32_t(s.tokens.size()));
  EXPECT_EQ(v->bos(), 1);
  EXPECT_EQ(v->eos(), 2);
  EXPECT_TRUE(v->add_bos());  // SentencePiece default
  EXPECT_FALSE(v->add_eos());
  EXPECT_EQ(v->token_text(s.id.at("ll")), "ll");
  EXPECT_EQ(v->token_type(0), Vocab::UNKNOWN);
  EXPECT_EQ(v->token_type(1), Vocab::CONTROL);
  EXPECT_EQ(v->token_type(3 + 0x41), Vocab::BYTE);
  EXPECT_EQ(v->token_type(s.id.at("ll")), Vocab::NORMAL);
  EXPECT_TRUE(v->is_eog(2));
  EXPECT_FALSE(v->is_eog(1));
  EXPECT_FALSE(v->is_eog(-1));
  EXPECT_THROW(v->token_text(v->n_tokens()), std::out_of_range);
}

TEST(VocabSpm, MergesByScoreWithLeadingSpace) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  const Token hello = s.id.at(kSp + "hello"), world = s.id.at(kSp + "world");
  EXPECT_EQ(v->tokenize("hello world", false, false), (std::vector<Token>{hello, world}));
  EXPECT_EQ(v->tokenize("hello world", true, false), (std::vector<Token>{1, hello, world}));
  // "ab" scores higher than "bc", so "abc" becomes ab + c.
  EXPECT_EQ(v->tokenize("abc", false, false), (std::vector<Token>{s.id.at(kSp), s.id.at("ab"), s.id.at("c")}));
  EXPECT_TRUE(v->tokenize("", false, false).empty());
  EXPECT_EQ(v->tokenize("", true, false), std::vector<Token>{1});
}

TEST(VocabSpm, HigherScoreWinsAndTiesGoLeft) {
  SpmSpec s = spm_spec();
  s.scores[size_t(s.id.at("bc"))] = -0.5f;  // now "bc" beats "ab"
  auto v = load(spm_writer(s));
  EXPECT_EQ(v->tokenize("abc", false, false), (std::vector<Token>{s.id.at(kSp), s.id.at("a"), s.id.at("bc")}));
  s.scores[size_t(s.id.at("bc"))] = -1.0f;  // equal: the left pair merges first
  v = load(spm_writer(s));
  EXPECT_EQ(v->tokenize("abc", false, false), (std::vector<Token>{s.id.at(kSp), s.id.at("ab"), s.id.at("c")}));
}

TEST(VocabSpm, UnknownCharactersFallBackToBytes) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  // "é" = C3 A9 has no token: its bytes are emitted as <0xC3> <0xA9>.
  EXPECT_EQ(v->tokenize("\xC3\xA9", false, false), (std::vector<Token>{s.id.at(kSp), 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(v->token_to_piece(3 + 0xC3), "\xC3");
  EXPECT_EQ(v->detokenize(v->tokenize("\xC3\xA9 hello", false, false)), "\xC3\xA9 hello");
}

TEST(VocabSpm, SpecialTokensInTextAndTheirOwnSpacePrefix) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  const Token hello = s.id.at(kSp + "hello");
  // Text after a special token gets its own space prefix.
  EXPECT_EQ(v->tokenize("<s>hello</s>", false, true), (std::vector<Token>{1, hello, 2}));
  EXPECT_EQ(v->tokenize("hello<s>", true, true), (std::vector<Token>{1, hello, 1}));
  // Without parse_special the markup is plain text (bytes here).
  const std::vector<Token> plain = v->tokenize("<s>hello", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(plain[1], 3 + '<');
}

TEST(VocabSpm, AddSpacePrefixCanBeTurnedOff) {
  const SpmSpec s = spm_spec();
  gguf::Writer w = spm_writer(s);
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  auto v = load(w);
  const std::vector<Token> ids = v->tokenize("hello", false, false);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], s.id.at("h"));
  EXPECT_EQ(v->detokenize(ids), "hello");
}

TEST(VocabSpm, PiecesAndDetokenizeRules) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  const Token hello = s.id.at(kSp + "hello"), world = s.id.at(kSp + "world");
  EXPECT_EQ(v->token_to_piece(hello), " hello");
  EXPECT_EQ(v->token_to_piece(3 + 0x41), "A");
  EXPECT_EQ(v->token_to_piece(1, true), "<s>");
  EXPECT_EQ(v->token_to_piece(1, false), "");
  EXPECT_EQ(v->token_to_piece(0, false), "");
  // The leading space is removed from the first piece ...
  EXPECT_EQ(v->detokenize({hello, world}), "hello world");
  // ... but a BOS (rendered or not) keeps it, as in llama.cpp.
  EXPECT_EQ(v->detokenize({1, hello, world}), " hello world");
  EXPECT_EQ(v->detokenize({1, hello, world}, true, false), " hello world");
  EXPECT_EQ(v->detokenize({1, hello, world, 2}, false, true), "<s> hello world</s>");
  EXPECT_THROW(v->detokenize({hello, 100000}), std::out_of_range);
  EXPECT_THROW(v->token_to_piece(-1), std::out_of_range);
}

TEST(VocabSpm, InvalidSpecialIdIsIgnoredWithAWarning) {
  const SpmSpec s = spm_spec();
  gguf::Writer w = spm_writer(s);
  w.set_u32("tokenizer.ggml.seperator_token_id", 0xFFFFFFFFu);
  w.set_u32("tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
  testing::internal::CaptureStderr();
  auto v = load(w);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("seperator_token_id"), std::string::npos) << err;
  EXPECT_NE(err.find("padding_token_id"), std::string::npos) << err;
  EXPECT_EQ(v->bos(), 1);
}

TEST(VocabSpm, EndOfGenerationTokensAreFoundByText) {
  SpmSpec s = spm_spec();
  s.add("<|im_end|>", 0, Vocab::NORMAL);  // a converter forgot to mark it
  s.add("<|eot_id|>", 0, Vocab::CONTROL);
  auto v = load(spm_writer(s));
  EXPECT_TRUE(v->is_eog(s.id.at("<|im_end|>")));
  EXPECT_TRUE(v->is_eog(s.id.at("<|eot_id|>")));
  EXPECT_EQ(v->token_type(s.id.at("<|im_end|>")), Vocab::CONTROL);  // treated as control, as llama.cpp does
  EXPECT_EQ(v->tokenize("<|eot_id|>", false, true), std::vector<Token>{s.id.at("<|eot_id|>")});
}

TEST(VocabSpm, TokenizesLongTextQuickly) {
  const SpmSpec s = spm_spec();
  auto v = load(spm_writer(s));
  std::string text;
  while (text.size() < 20000) text += "hello world abc \xC3\xA9 ";
  const auto ids = v->tokenize(text, true, true);
  EXPECT_GT(ids.size(), 4000u);
  EXPECT_EQ(v->detokenize(ids, true, false), " " + text);
}

TEST(VocabErrors, RefusesBrokenOrUnsupportedMetadata) {
  const SpmSpec s = spm_spec();
  {
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    EXPECT_NE(error_of([&] { load(w); }).find("tokenizer.ggml.model"), std::string::npos);
  }
  {
    gguf::Writer w = spm_writer(s);
    w.set_string("tokenizer.ggml.model", "bert");
    EXPECT_NE(error_of([&] { load(w); }).find("'bert'"), std::string::npos);
  }
  {
    gguf::Writer w = spm_writer(s);
    w.set_f32_array("tokenizer.ggml.scores", {1.0f, 2.0f});
    EXPECT_NE(error_of([&] { load(w); }).find("scores"), std::string::npos);
  }
  {
    gguf::Writer w = spm_writer(s);
    std::vector<std::string> dup = s.tokens;
    dup[5] = dup[4];
    w.set_string_array("tokenizer.ggml.tokens", dup);
    EXPECT_NE(error_of([&] { load(w); }).find("duplicate"), std::string::npos);
  }
  {
    gguf::Writer w = spm_writer(s);
    w.set_u32("tokenizer.ggml.bos_token_id", 1u << 30);  // ignored, the default 1 stays
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>"});
    w.set_f32_array("tokenizer.ggml.scores", {0.0f});
    w.set_i32_array("tokenizer.ggml.token_type", {2});
    testing::internal::CaptureStderr();
    const std::string err = error_of([&] { load(w); });  // add_bos with no usable BOS
    testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("add_bos_token"), std::string::npos) << err;
  }
}

// --- a small byte-level BPE vocabulary --------------------------------------------------------

struct BpeSpec {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  std::map<std::string, int32_t> id;

  void add(const std::string& t, int32_t type = Vocab::NORMAL) {
    id[t] = int32_t(tokens.size());
    tokens.push_back(t);
    types.push_back(type);
  }
  // Adds the merge "a b" and the token "ab".
  void merge(const std::string& a, const std::string& b) {
    merges.push_back(a + " " + b);
    if (!id.count(a + b)) add(a + b);
  }
};

const std::string kG = "\xC4\xA0";  // "Ġ", GPT-2's stand-in for the space byte

BpeSpec bpe_spec() {
  BpeSpec s;
  for (int b = 0; b < 256; ++b) s.add(unicode::byte_to_gpt2(uint8_t(b)));
  s.merge("h", "e");
  s.merge("l", "l");
  s.merge("he", "ll");
  s.merge("hell", "o");
  s.merge(kG, "w");
  s.merge("o", "r");
  s.merge(kG + "w", "or");
  s.merge("l", "d");
  s.merge(kG + "wor", "ld");
  s.merge("b", "c");  // ranked before "a b"
  s.merge("a", "b");
  s.add("xyz");       // reachable only with ignore_merges
  s.add("<|endoftext|>", Vocab::CONTROL);
  return s;
}

gguf::Writer bpe_writer(const BpeSpec& s, const std::string& pre) {
  gguf::Writer w;
  w.set_string("general.architecture", "gpt2");
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", pre);
  w.set_string_array("tokenizer.ggml.tokens", s.tokens);
  w.set_i32_array("tokenizer.ggml.token_type", s.types);
  w.set_string_array("tokenizer.ggml.merges", s.merges);
  w.set_u32("tokenizer.ggml.bos_token_id", uint32_t(s.id.at("<|endoftext|>")));
  w.set_u32("tokenizer.ggml.eos_token_id", uint32_t(s.id.at("<|endoftext|>")));
  return w;
}

TEST(VocabBpe, MergesByRank) {
  const BpeSpec s = bpe_spec();
  auto v = load(bpe_writer(s, "gpt-2"));
  EXPECT_EQ(v->kind(), Vocab::Kind::BPE);
  EXPECT_EQ(v->pre(), "gpt-2");
  EXPECT_FALSE(v->add_bos());  // gpt2 default
  EXPECT_EQ(v->tokenize("hello world", true, false), (std::vector<Token>{s.id.at("hello"), s.id.at(kG + "world")}));
  // "b c" has the lower rank, so it is merged first and "a b" never applies.
  EXPECT_EQ(v->tokenize("abc", false, false), (std::vector<Token>{s.id.at("a"), s.id.at("bc")}));
  // No merges for "xyz": byte tokens.
  EXPECT_EQ(v->tokenize("xyz", false, false), (std::vector<Token>{s.id.at("x"), s.id.at("y"), s.id.at("z")}));
  // Bytes, including non-ASCII and newlines, come back exactly.
  const std::string odd = "h\xC3\xA9llo\n\tworld \xF0\x9F\x98\x80";
  EXPECT_EQ(v->detokenize(v->tokenize(odd, false, false)), odd);
}

TEST(VocabBpe, IgnoreMergesTakesWholeWordsForLlama3) {
  const BpeSpec s = bpe_spec();
  auto v = load(bpe_writer(s, "llama-bpe"));
  EXPECT_TRUE(v->add_bos());  // llama-bpe default
  EXPECT_EQ(v->tokenize("xyz", false, false), std::vector<Token>{s.id.at("xyz")});
  const Token eot = s.id.at("<|endoftext|>");
  EXPECT_EQ(v->tokenize("xyz", true, false), (std::vector<Token>{eot, s.id.at("xyz")}));
}

TEST(VocabBpe, SpecialTokensAndPieces) {
  const BpeSpec s = bpe_spec();
  auto v = load(bpe_writer(s, "gpt-2"));
  const Token eot = s.id.at("<|endoftext|>");
  EXPECT_EQ(v->tokenize("hello<|endoftext|>", false, true), (std::vector<Token>{s.id.at("hello"), eot}));
  EXPECT_TRUE(v->is_eog(eot));
  EXPECT_EQ(v->token_to_piece(s.id.at(kG + "world")), " world");
  EXPECT_EQ(v->token_to_piece(s.id.at(unicode::byte_to_gpt2('\n'))), "\n");
  EXPECT_EQ(v->token_to_piece(eot, false), "");
  EXPECT_EQ(v->detokenize({s.id.at("hello"), eot}, false, true), "hello<|endoftext|>");
}

TEST(VocabBpe, CleanUpSpacesDependsOnThePreTokenizer) {
  const BpeSpec s = bpe_spec();
  const std::vector<Token> ids = {s.id.at("hello"), s.id.at(kG), s.id.at(","), s.id.at(kG), s.id.at("'"),
                                  s.id.at("s")};
  EXPECT_EQ(load(bpe_writer(s, "gpt-2"))->detokenize(ids), "hello,'s");   // clean_spaces on
  EXPECT_EQ(load(bpe_writer(s, "qwen2"))->detokenize(ids), "hello , 's");  // off for qwen2
}

TEST(VocabBpe, RefusesUnknownPreTokenizerAndMissingMerges) {
  const BpeSpec s = bpe_spec();
  EXPECT_NE(error_of([&] { load(bpe_writer(s, "no-such-pre")); }).find("'no-such-pre'"), std::string::npos);
  gguf::Writer no_merges;
  no_merges.set_string("tokenizer.ggml.model", "gpt2");
  no_merges.set_string("tokenizer.ggml.pre", "gpt-2");
  no_merges.set_string_array("tokenizer.ggml.tokens", s.tokens);
  EXPECT_NE(error_of([&] { load(no_merges); }).find("merges"), std::string::npos);
}

// Random input: arbitrary bytes must never crash and give valid ids; valid UTF-8 (all planes) must
// come back exactly through SentencePiece and every splitting path (scanner, collapsed classes,
// literal classes).
TEST(VocabRandom, ArbitraryBytesAndRoundTrips) {
  std::mt19937 rng(20250220);
  auto random_bytes = [&](size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = char(rng() & 0xFF);
    return s;
  };
  auto random_utf8 = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      uint32_t c;
      switch (rng() % 4) {
        case 0: c = 0x20 + rng() % 0x5F; break;                 // ASCII
        case 1: c = "\t\n\r ,.'?!"[rng() % 10]; break;          // separators and punctuation
        case 2: c = 0x80 + rng() % (0xD800 - 0x80); break;      // rest of the BMP before surrogates
        default: c = 0x10000 + rng() % (0x110000 - 0x10000);    // supplementary planes
      }
      if (c == 0x2581) c = 'x';  // the SentencePiece space mark detokenizes to a space by design
      unicode::append_utf8(s, c);
    }
    return s;
  };
  const SpmSpec spm = spm_spec();
  auto sv = load(spm_writer(spm));
  const BpeSpec bpe = bpe_spec();
  std::vector<std::unique_ptr<Vocab>> bpes;
  for (const char* pre : {"qwen2", "deepseek-llm", "command-r", "llama-bpe", "gpt-2", "deepseek-coder", "default"})
    bpes.push_back(load(bpe_writer(bpe, pre)));
  for (int iter = 0; iter < 200; ++iter) {
    const std::string bytes = random_bytes(rng() % 64);
    for (bool special : {false, true}) {
      // (Not a round trip: a truncated UTF-8 lead byte followed by a space takes the first byte
      // of the space mark into its symbol, as in llama.cpp, so the mark comes back as bytes.)
      for (Token t : sv->tokenize(bytes, true, special)) ASSERT_TRUE(t >= 0 && t < sv->n_tokens());
      (void)sv->detokenize(sv->tokenize(bytes, false, special), true, true);
      for (const auto& v : bpes) {
        const auto ids = v->tokenize(bytes, true, special);
        for (Token t : ids) ASSERT_TRUE(t >= 0 && t < v->n_tokens());
        for (bool rs : {false, true})
          for (bool us : {false, true}) (void)v->detokenize(ids, rs, us);
      }
    }
    const std::string text = random_utf8(rng() % 48);
    SCOPED_TRACE(nlohmann::json(text).dump());
    EXPECT_EQ(sv->detokenize(sv->tokenize(text, false, false)), text);
    for (size_t i = 0; i < 3; ++i)  // the pre-tokenizers without clean-up of spaces
      EXPECT_EQ(bpes[i]->detokenize(bpes[i]->tokenize(text, false, false)), text) << bpes[i]->pre();
  }
}

// --- pre-tokenizer splitting ------------------------------------------------------------------

std::vector<std::string> split(const std::vector<std::string>& regexes, const std::string& text) {
  return unicode::RegexSplitter(regexes).split(text);
}

using Words = std::vector<std::string>;

const std::string kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

TEST(RegexSplit, Gpt2KeepsTheLastSpaceForTheNextWord) {
  EXPECT_EQ(split({kGpt2}, "Hello world's  test  \n"), (Words{"Hello", " world", "'s", " ", " test", "  \n"}));
  EXPECT_EQ(split({kGpt2}, "\t\ta"), (Words{"\t", "\t", "a"}));
  // Invalid UTF-8 becomes U+FFFD (a symbol), as in llama.cpp.
  EXPECT_EQ(split({kGpt2}, "\xFF" "a"), (Words{"\xEF\xBF\xBD", "a"}));
  EXPECT_TRUE(split({kGpt2}, "").empty());
}

TEST(RegexSplit, Llama3) {
  const std::string llama3 =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  EXPECT_EQ(split({llama3}, "I'M  fine123456\r\n\r\nok"),
            (Words{"I", "'M", " ", " fine", "123", "456", "\r\n\r\n", "ok"}));
}

TEST(RegexSplit, GeneralRegexOnCollapsedClasses) {
  // qwen2's expression runs on the regex engine with \p{..} collapsed to class bytes.
  const std::string qwen2 =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  EXPECT_EQ(split({qwen2}, "abc 12345 \xC3\xBC!!\n\n x"),
            (Words{"abc", " ", "1", "2", "3", "4", "5", " \xC3\xBC", "!!\n\n", " x"}));
  // A regex list: digits first, then GPT-2 on what is left (starcoder).
  EXPECT_EQ(split({"\\p{N}", kGpt2}, "abc 123"), (Words{"abc", " ", "1", "2", "3"}));
}

TEST(RegexSplit, LiteralClassesAndEndAnchor) {
  // deepseek-llm: literal character ranges (no \p), "$", and unmatched text kept as pieces.
  const Words deepseek_words = split(
      {"[\r\n]", "\\s?[A-Za-z]+", "\\s?[!-/:-~\xEF\xBC\x81-\xEF\xBC\x8F]+", "\\s+$",
       "[\xE4\xB8\x80-\xE9\xBE\xA5]+", "\\p{N}+"},
      "Hello \xE4\xB8\x96\xE7\x95\x8C" "123\n  ");
  EXPECT_EQ(deepseek_words, (Words{"Hello", " ", "\xE4\xB8\x96\xE7\x95\x8C", "123", "\n", "  "}));
}

TEST(RegexSplit, RefusesWhatItCannotTranslate) {
  EXPECT_THROW(split({"\\p{Han}+\\k"}, "x"), std::runtime_error);
  EXPECT_THROW(split({"[abc"}, "x"), std::runtime_error);
}

}  // namespace
}  // namespace nnb
