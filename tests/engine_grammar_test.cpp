// GBNF grammars: the parser (syntax, errors with positions, hostile sizes), the matcher (accept
// and reject over code points, UTF-8 split anywhere), JSON Schema -> GBNF, the token filter
// (its masks against a token-by-token check) and the sampler constrained by it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "engine/grammar/gbnf.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/matcher.h"
#include "engine/grammar/token_filter.h"
#include "engine/model/model.h"
#include "engine/runtime/context.h"
#include "engine/runtime/generation.h"
#include "engine/runtime/grammar_vocab.h"
#include "engine/runtime/sampler.h"

namespace nnb {
namespace {

using grammar::Grammar;
using grammar::GrammarError;
using grammar::Matcher;

std::shared_ptr<const Grammar> parse(const std::string& text) {
  return std::make_shared<const Grammar>(grammar::parse_gbnf(text));
}

// Whether the whole of s is a sentence of the grammar.
bool matches(const std::shared_ptr<const Grammar>& g, const std::string& s) {
  Matcher m(g);
  return m.accept(s) && m.can_end();
}

struct Case {
  const char* name;
  const char* grammar;
  std::vector<std::string> accept, reject;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"literal", R"(root ::= "a")", {"a"}, {"", "b", "aa"}},
      {"alternatives", R"(root ::= "cat" | "dog")", {"cat", "dog"}, {"ca", "cow", "catdog"}},
      {"group", R"(root ::= ("ab" | "c") "d")", {"abd", "cd"}, {"ad", "abcd", "d"}},
      {"star", R"(root ::= "a"*)", {"", "a", "aaaa"}, {"b", "aab"}},
      {"plus", R"(root ::= [0-9]+)", {"0", "123"}, {"", "1a"}},
      {"optional", R"(root ::= "-"? [0-9])", {"5", "-5"}, {"--5", "-"}},
      {"exact-count", R"(root ::= "x"{3})", {"xxx"}, {"xx", "xxxx"}},
      {"at-least", R"(root ::= "x"{2,})", {"xx", "xxxxxxx"}, {"", "x"}},
      {"between", R"(root ::= [ab]{1,3})", {"a", "ab", "bab"}, {"", "abab"}},
      {"up-to", R"(root ::= "x"{0,2} "y")", {"y", "xy", "xxy"}, {"xxxy"}},
      {"identifier", R"(root ::= [a-zA-Z_] [a-zA-Z0-9_]*)", {"x", "_a1", "Zz9"}, {"1a", "a-b"}},
      {"negated-class", R"(root ::= "\"" [^"\\]* "\"")", {"\"\"", "\"hi there\""}, {"\"a\"b\"", "\"a\\\""}},
      {"any-char", R"(root ::= "<" . ">")", {"<a>", "<\xC3\xA9>", "<\xF0\x9F\x98\x80>"}, {"<>", "<ab>"}},
      {"escapes", R"(root ::= "\n\t\\\"" "\x41" "\u00e9" "\U0001F600" [\]\-])",
       {"\n\t\\\"A\xC3\xA9\xF0\x9F\x98\x80]", "\n\t\\\"A\xC3\xA9\xF0\x9F\x98\x80-"}, {"\n\t\\\"A"}},
      {"recursion", "root ::= p\np ::= \"(\" p* \")\"", {"()", "(()())", "((()))"}, {"(()", "())", ""}},
      {"mutual-recursion",
       "root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= num | \"(\" expr \")\"\nnum ::= [0-9]+",
       {"1", "1+2", "(1+2)+3", "((4))"}, {"1+", "(1", "+1"}},
      {"comments-and-lines",
       "# a comment\nroot ::= ( # inside a group\n  \"a\"\n  | \"b\" ) # after\n\n# end\n", {"a", "b"}, {"ab"}},
      {"forward-reference", "root ::= item-list\nitem-list ::= item (\",\" item)*\nitem ::= [a-z]+",
       {"a", "ab,c,def"}, {"a,", ",a"}},
      {"nested-repetition", R"(root ::= ("a" "b"?)+)", {"a", "ab", "aab", "abab"}, {"", "b", "abb"}},
      {"utf8-class", R"(root ::= [α-ω]+)", {"\xCE\xB1\xCE\xB2\xCE\xB3", "\xCF\x89"}, {"abc", ""}},
      {"empty-alternative", "root ::= \"a\" | ", {"", "a"}, {"aa"}},
      {"nested-optional", R"(root ::= ("a" ("b" ("c")?)?)?)", {"", "a", "ab", "abc"}, {"ac", "b"}},
      {"repeated-group-bounds", R"(root ::= ("ab"){2,3})", {"abab", "ababab"}, {"ab", "abababab"}},
      {"json",
       "root ::= value\n"
       "value ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
       "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
       "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
       "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
       "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)? ws\n"
       "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n",
       {"{\"a\": [1, 2.5, true, null], \"b\": {\"c\": \"d\\n\"}}", "[]", "-0.5e+3"},
       {"{\"a\" 1}", "[1,]", "{'a': 1}"}},
  };
  return c;
}

TEST(GbnfMatch, AcceptsAndRejects) {
  ASSERT_GE(cases().size(), 20u);
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    std::shared_ptr<const Grammar> g;
    ASSERT_NO_THROW(g = parse(c.grammar)) << c.grammar;
    for (const auto& s : c.accept) EXPECT_TRUE(matches(g, s)) << "should accept: " << s;
    for (const auto& s : c.reject) EXPECT_FALSE(matches(g, s)) << "should reject: " << s;
  }
}

TEST(GbnfMatch, Utf8SplitAtEveryByteAcrossCalls) {
  // A multi-byte character arriving in pieces, as token texts do.
  auto g = parse(R"(root ::= "[" [α-ω] "\U0001F600" "]")");
  const std::string s = "[\xCE\xBB\xF0\x9F\x98\x80]";
  for (size_t cut1 = 0; cut1 <= s.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= s.size(); ++cut2) {
      Matcher m(g);
      ASSERT_TRUE(m.accept(s.substr(0, cut1)));
      ASSERT_TRUE(m.accept(s.substr(cut1, cut2 - cut1)));
      ASSERT_TRUE(m.accept(s.substr(cut2)));
      EXPECT_TRUE(m.can_end());
    }
  }
  Matcher m(g);
  ASSERT_TRUE(m.accept("["));
  EXPECT_FALSE(m.accepts("\xC3"));      // starts a Latin-1 letter: outside [α-ω]
  EXPECT_TRUE(m.accepts("\xCE"));       // may become α..ω
  ASSERT_TRUE(m.accept("\xCE"));
  EXPECT_FALSE(m.can_end());            // mid-character
  EXPECT_FALSE(m.accepts("a"));         // a lead byte where a continuation is due
  EXPECT_FALSE(m.accepts("\x80"));      // U+0380 is not in [α-ω]
  EXPECT_TRUE(m.accepts("\xBB"));
}

TEST(GbnfMatch, OverlongAndSurrogateBytesAreNotCharacters) {
  // E0 81 BB spells '{' overlong; ED A0 80 is a surrogate: neither may pass for a character.
  auto g = parse(R"(root ::= .+)");
  EXPECT_TRUE(matches(g, "{"));
  for (const char* bad : {"\xE0\x81\xBB", "\xC1\xBB", "\xED\xA0\x80", "\xF4\x90\x80\x80"}) {
    Matcher m(g);
    EXPECT_FALSE(m.accept(bad)) << bad;
  }
  Matcher m(g);
  EXPECT_FALSE(m.accepts("\xE0\x81"));  // can only end overlong
  EXPECT_TRUE(m.accepts("\xE0\xA0"));   // can become U+0800..U+083F
  EXPECT_FALSE(m.accepts("\xED\xA0"));  // can only become a surrogate
}

TEST(GbnfMatch, DoneOnlyWhenNothingCanFollow) {
  Matcher a(parse(R"(root ::= "ab")"));
  ASSERT_TRUE(a.accept("a"));
  EXPECT_FALSE(a.done());
  ASSERT_TRUE(a.accept("b"));
  EXPECT_TRUE(a.done());
  Matcher b(parse(R"(root ::= "a"+)"));
  ASSERT_TRUE(b.accept("aaa"));
  EXPECT_TRUE(b.can_end());
  EXPECT_FALSE(b.done());  // more a's may follow: the model decides
}

void expect_error(const std::string& text, const std::string& part) {
  try {
    grammar::parse_gbnf(text);
    ADD_FAILURE() << "no error for: " << text;
  } catch (const GrammarError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "error: " << e.what() << "\nexpected: " << part;
  }
}

TEST(GbnfParse, ErrorsNamePositions) {
  expect_error("root ::= \"a\"\nfoo \"b\"", "expected '::=' at 2:5");
  expect_error("root ::= \"abc", "unterminated string literal at 1:10");
  expect_error("root ::= [a-", "unterminated character class at 1:10");
  expect_error("root ::= \"\\q\"", "unknown escape '\\q' at 1:11");
  expect_error("root ::= \"\\x4\"", "hex digits in escape at 1:11");
  expect_error("root ::= \"a\"{3,2}", "n < m at 1:13");
  expect_error("root ::= * \"a\"", "nothing before it to repeat at 1:10");
  expect_error("root ::= (\"a\"", "expected ')' at 1:14");
  expect_error("root ::= [z-a]", "end before its start at 1:11");
  expect_error("root ::= []", "empty character class at 1:10");
  expect_error("root ::= \"a\" )", "expected newline or end after rule");
  expect_error("root ::= \"a\"\nroot ::= \"b\"", "defined twice at 2:1");
}

TEST(GbnfParse, WholeGrammarErrors) {
  expect_error("root ::= foo", "undefined rule 'foo' (first used at 1:10)");
  expect_error("start ::= \"a\"", "no 'root' rule");
  expect_error("root ::= root \"a\" | \"a\"", "left recursion in rule 'root'");
  expect_error("root ::= a\na ::= b \"x\"\nb ::= c a | \"y\"\nc ::= \"z\"?", "left recursion in rule");
  expect_error("root ::= (\"a\"?)*", "repetition of an expression that can match the empty string");
  expect_error("root ::= x+\nx ::= \"a\" | ", "can match the empty string (it would loop forever) at 1:11");
}

TEST(GbnfParse, HostileSizesAreBounded) {
  expect_error(std::string("root ::= ") + std::string(100, '(') + "\"a\"" + std::string(100, ')'), "nested deeper");
  expect_error("root ::= \"" + std::string(200, 'a') + "\"{10000}", "expands to more than");
  expect_error("root ::= \"a\"{99999999999}", "above the limit");
  std::string many = "root ::= \"a\"\n";
  for (int i = 0; i < 30000; ++i) many.append("r").append(std::to_string(i)).append(" ::= \"a\"\n");
  expect_error(many, "more than 20000 rules");
  // A long chain of rules: no recursion in the checks or the matcher.
  std::string chain = "root ::= r0\n";
  for (int i = 0; i < 15000; ++i)
    chain.append("r").append(std::to_string(i)).append(" ::= r").append(std::to_string(i + 1)).append("\n");
  chain += "r15000 ::= \"z\"\n";
  auto g = parse(chain);
  EXPECT_TRUE(matches(g, "z"));
}

// --- JSON Schema ----------------------------------------------------------------------------

std::shared_ptr<const Grammar> schema(const std::string& s) { return parse(grammar::json_schema_to_gbnf(s)); }

TEST(JsonSchema, ObjectsPropertiesInOrderRequiredAndOptional) {
  auto g = schema(R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
                      "tags":{"type":"array","items":{"type":"string"}}},"required":["age","name"]})");
  EXPECT_TRUE(matches(g, R"({"name": "Bob", "age": 42})"));
  EXPECT_TRUE(matches(g, R"({"name":"Bob","age":-1,"tags":["a","b"]})"));
  EXPECT_FALSE(matches(g, R"({"age": 42, "name": "Bob"})"));  // declaration order
  EXPECT_FALSE(matches(g, R"({"name": "Bob"})"));             // age is required
  EXPECT_FALSE(matches(g, R"({"name": "Bob", "age": 4.5})"));
  EXPECT_FALSE(matches(g, R"({"name": "Bob", "age": 4, "x": 1})"));  // no additional properties

  auto opt = schema(R"({"properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"const":7}}})");
  for (const char* ok : {"{}", R"({"a": true})", R"({"b": null})", R"({"a": false, "c": 7})", R"({"a":true,"b":null,"c":7})"})
    EXPECT_TRUE(matches(opt, ok)) << ok;
  for (const char* bad : {R"({"c": 7, "a": true})", R"({, "a": true})", R"({"c": 8})"}) EXPECT_FALSE(matches(opt, bad)) << bad;
}

TEST(JsonSchema, EnumConstArraysStringsRefsAnyOf) {
  auto e = schema(R"({"enum":["red","green",3,null]})");
  EXPECT_TRUE(matches(e, "\"green\""));
  EXPECT_TRUE(matches(e, "3"));
  EXPECT_TRUE(matches(e, "null"));
  EXPECT_FALSE(matches(e, "\"blue\""));

  auto a = schema(R"({"type":"array","items":{"type":"number"},"minItems":1,"maxItems":3})");
  EXPECT_TRUE(matches(a, "[1]"));
  EXPECT_TRUE(matches(a, "[1, 2.5e3, -0.5]"));
  EXPECT_FALSE(matches(a, "[]"));
  EXPECT_FALSE(matches(a, "[1,2,3,4]"));

  auto s = schema(R"({"type":"string","minLength":2,"maxLength":3})");
  EXPECT_TRUE(matches(s, "\"ab\""));
  EXPECT_TRUE(matches(s, "\"a\\nb\""));
  EXPECT_FALSE(matches(s, "\"a\""));
  EXPECT_FALSE(matches(s, "\"abcd\""));

  auto r = schema(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
                     "next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},
                     "$ref":"#/$defs/node"})");
  EXPECT_TRUE(matches(r, R"({"v": 1, "next": {"v": 2, "next": null}})"));
  EXPECT_FALSE(matches(r, R"({"v": 1, "next": {"v": 2}})"));

  auto t = schema(R"({"type":["string","null"]})");
  EXPECT_TRUE(matches(t, "null"));
  EXPECT_TRUE(matches(t, "\"x\""));
  EXPECT_FALSE(matches(t, "1"));

  auto tuple = schema(R"({"prefixItems":[{"type":"integer"},{"type":"boolean"}]})");
  EXPECT_TRUE(matches(tuple, "[1, true]"));
  EXPECT_FALSE(matches(tuple, "[1]"));

  auto any = schema("{}");
  EXPECT_TRUE(matches(any, R"({"deep": [1, {"x": "y"}, [], false]})"));

  auto defs = schema(R"({"definitions":{"p":{"type":"boolean"}},"type":"object","properties":{"x":{"$ref":"#/definitions/p"}},"required":["x"]})");
  EXPECT_TRUE(matches(defs, R"({"x": true})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreRefusedByName) {
  auto refused = [](const std::string& s, const std::string& part) {
    try {
      grammar::json_schema_to_gbnf(s);
      ADD_FAILURE() << "no error for " << s;
    } catch (const GrammarError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  refused(R"({"type":"string","pattern":"^a+$"})", "keyword \"pattern\" is not supported");
  refused(R"({"type":"string","format":"date"})", "keyword \"format\"");
  refused(R"({"if":{"type":"string"},"then":{"minLength":1}})", "keyword \"if\"");
  refused(R"({"type":"integer","minimum":3})", "keyword \"minimum\"");
  refused(R"({"properties":{"a":{"allOf":[{}]}}})", "keyword \"allOf\" is not supported (at #/properties/a)");
  refused(R"({"$ref":"#/$defs/missing"})", "does not resolve");
  refused(R"({"type":"object","properties":{"a":{}},"additionalProperties":true})", "additionalProperties");
  refused(R"({"type":"sting"})", "type \"sting\"");
  refused("{\"type\": ", "not valid JSON");
  refused(R"({"const": 1E999})", "not valid JSON");  // found by gbnf_fuzz: a number overflow
}

// --- Token filter and sampler --------------------------------------------------------------

// A small vocabulary with multi-character, whitespace, byte-fallback (partial UTF-8) and
// control tokens; token 0 is EOS.
std::shared_ptr<const grammar::TokenIndex> toy_vocab() {
  std::vector<std::string> p = {"", "{", "}", "\"", ":", ",", " ", "\n", "a", "b", "ab", "ba", "\"a", "\": ",
                                "1", "12", "-", ".", "true", "false", "null", "[", "]", "\xCE", "\xB1", "\xCE\xB1",
                                "\xE2\x82", "\xAC", "\xE2\x82\xAC", "x\xCE", "\\", "n", "\\n", "0", "e", "E+"};
  for (char c = 'c'; c <= 'z'; ++c) p.push_back(std::string{c, 'q'});
  // Every printable ASCII character on its own, as real vocabularies have (byte fallback):
  // without them a grammar can reach a prefix no token continues ("n" of "null").
  for (char c = 0x20; c < 0x7F; ++c)
    if (std::find(p.begin(), p.end(), std::string(1, c)) == p.end()) p.push_back(std::string(1, c));
  p.push_back("");  // a control token: never text
  std::vector<bool> eog(p.size(), false);
  eog[0] = true;
  return std::make_shared<const grammar::TokenIndex>(p, eog);
}

TEST(TokenFilter, MaskEqualsTokenByTokenCheckInEveryStateVisited) {
  auto vocab = toy_vocab();
  auto g = schema(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"array","items":{"type":"number"}}}})");
  grammar::TokenFilter f(g, vocab);
  std::mt19937 rng(7);
  for (int run = 0; run < 30; ++run) {
    f.reset();
    for (int step = 0; step < 40; ++step) {
      const auto mask = f.mask();
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < vocab->n_vocab(); ++t) {
        const bool bit = (mask[size_t(t) >> 6] >> (t & 63)) & 1;
        grammar::Matcher m = f.matcher();  // a copy, checked the slow way
        bool slow;
        if (vocab->kind(t) == grammar::TokenIndex::Kind::Eog) slow = m.can_end();
        else if (vocab->kind(t) == grammar::TokenIndex::Kind::Never) slow = false;
        else slow = m.accepts(vocab->piece(t));
        ASSERT_EQ(bit, slow) << "token " << t << " '" << vocab->piece(t) << "' run " << run << " step " << step;
        ASSERT_EQ(bit, f.allows(t));
        if (bit) allowed.push_back(t);
      }
      ASSERT_FALSE(allowed.empty());
      const int32_t t = allowed[rng() % allowed.size()];
      if (t == 0) break;
      ASSERT_TRUE(f.accept(t));
      if (f.done()) break;
    }
  }
  EXPECT_GT(f.cached_masks(), 0u);
}

TEST(TokenFilter, MultiByteCharacterSplitAcrossTokens) {
  auto vocab = toy_vocab();
  grammar::TokenFilter f(parse(R"(root ::= "x" [α-ω] "€")"), vocab);
  ASSERT_TRUE(f.accept(29));             // "x\xCE": x, then half of a character
  EXPECT_FALSE(f.allows(8));             // "a" cannot finish it
  EXPECT_TRUE(f.allows(24));             // "\xB1" makes α
  const auto mask = f.mask();
  for (int32_t t = 0; t < vocab->n_vocab(); ++t) EXPECT_EQ(((mask[size_t(t) / 64] >> (t % 64)) & 1) != 0, t == 24) << t;
  ASSERT_TRUE(f.accept(24));
  EXPECT_TRUE(f.allows(26));             // "\xE2\x82": the start of €
  EXPECT_TRUE(f.allows(28));             // the whole €
  EXPECT_FALSE(f.allows(0));             // EOS: not complete yet
  ASSERT_TRUE(f.accept(26));
  ASSERT_TRUE(f.accept(27));
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.allows(0));
}

TEST(GrammarSampler, RandomLogitsAlwaysGiveASentence) {
  // Random logits are a model with no idea of the grammar: only the constraint makes the text
  // valid. Greedy and sampled, with and without top-k.
  auto vocab = toy_vocab();
  auto g = schema(R"({"type":"object","properties":{"a":{"type":"string","maxLength":4},"b":{"enum":[true,null]},
                      "c":{"type":"array","items":{"type":"integer"},"maxItems":3}},"required":["a","b","c"]})");
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> logits(size_t(vocab->n_vocab()));
  int complete = 0;
  for (int run = 0; run < 40; ++run) {
    SamplerParams sp;
    sp.seed = uint64_t(run);
    sp.temp = run % 4 == 0 ? 0.0f : 1.0f;
    sp.top_k = run % 2 ? 40 : 0;
    Sampler s(sp, vocab->n_vocab());
    s.set_grammar(std::make_unique<grammar::TokenFilter>(g, vocab));
    s.reset();
    std::string text;
    bool ended = false;
    for (int step = 0; step < 300 && !ended; ++step) {
      for (auto& l : logits) l = nd(rng);
      const Token t = s.sample(logits.data());
      ASSERT_NE(t, Sampler::kNoToken) << "run " << run << " step " << step << " text " << text;
      if (t == 0) break;
      s.accept_generated(t);
      text += vocab->piece(t);
      ended = s.grammar_done();
    }
    Matcher m(g);
    ASSERT_TRUE(m.accept(text)) << text;
    if (m.can_end()) ++complete;
  }
  EXPECT_GT(complete, 20);
}

// Per-token cost of constrained sampling on a real vocabulary: NNB_GRAMMAR_BENCH_MODEL=path.gguf
// (e.g. nnbridge mkmodel --preset bench). Random logits: the chain's pick is nearly always
// rejected, so every token takes the mask path (the worst case).
TEST(GrammarSampler, PerTokenCostOnAModelVocabulary) {
  const char* path = std::getenv("NNB_GRAMMAR_BENCH_MODEL");
  if (!path) GTEST_SKIP() << "set NNB_GRAMMAR_BENCH_MODEL to a GGUF file";
  auto model = Model::load(path);
  const Vocab& vocab = model->vocab();
  const int32_t n_vocab = vocab.n_tokens();
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto index = grammar_token_index(vocab);
  const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  // A schema whose answer is mostly one long string (the state repeats), and one of short
  // structured values (a new state nearly every token).
  const std::vector<std::pair<const char*, const char*>> schemas = {
      {"strings", R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
                      "tags":{"type":"array","items":{"type":"string"}}},"required":["name","age","tags"]})"},
      {"structured", R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"integer"},
                      "ok":{"type":"boolean"},"kind":{"enum":["alpha","beta",null]}},"required":["id","ok","kind"]}})"}};
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<std::vector<float>> logits(64, std::vector<float>(size_t(n_vocab)));
  for (auto& l : logits)
    for (auto& v : l) v = nd(rng);
  for (const auto& [label, json_schema] : schemas) {
    auto g = schema(json_schema);
    for (bool constrained : {false, true}) {
      SamplerParams sp;  // the defaults: top-k 40, top-p 0.95, min-p 0.05, temp 0.8
      sp.seed = 5;
      Sampler s(sp, n_vocab);
      if (constrained) s.set_grammar(std::make_unique<grammar::TokenFilter>(g, index));
      int tokens = 0, runs = 0;
      double secs = 0;
      std::string text;
      while (tokens < 2000) {
        s.reset();
        ++runs;
        for (int step = 0; step < 400; ++step) {
          const float* l = logits[size_t(tokens) % logits.size()].data();
          const auto a = Clock::now();
          const Token t = s.sample(l);
          if (t == Sampler::kNoToken || vocab.is_eog(t)) break;
          s.accept_generated(t);
          secs += std::chrono::duration<double>(Clock::now() - a).count();
          ++tokens;
          if (runs == 1 && constrained) text += vocab.token_to_piece(t);
          if (s.grammar_done()) break;
        }
      }
      std::printf("%s, %s: %d tokens in %d answers, %.1f us/token (sample + accept; vocabulary %d)\n", label,
                  constrained ? "constrained" : "unconstrained", tokens, runs, secs * 1e6 / tokens, n_vocab);
      if (constrained) {
        std::printf("  cached token masks at the end: %zu\n  first answer: %.160s\n", s.grammar()->cached_masks(),
                    text.c_str());
        grammar::Matcher m(g);
        EXPECT_TRUE(m.accept(text));
      }
    }
  }
  // One mask computed from nothing (no cache), where nearly every token is allowed: the
  // worst single step.
  auto g = schema(schemas[0].second);
  grammar::TokenFilter f(g, index);
  for (const char* prefix : {"", "{ \"name\": \"", "{ \"name\": \"x\", \"age\": 1"}) {
    f.reset();
    bool ok = true;
    for (const auto& piece : {std::string(prefix)}) ok = ok && grammar::Matcher(f.matcher()).accepts(piece);
    ASSERT_TRUE(ok);
    grammar::TokenFilter fresh(g, index);
    grammar::Matcher probe(g);
    // Drive the fresh filter with single-character tokens of the prefix.
    for (char c : std::string(prefix)) {
      const std::string one(1, c);
      Token id = -1;
      for (Token t = 0; t < n_vocab && id < 0; ++t)
        if (index->kind(t) == grammar::TokenIndex::Kind::Text && index->piece(t) == one) id = t;
      ASSERT_GE(id, 0) << "no token for '" << one << "'";
      ASSERT_TRUE(fresh.accept(id));
    }
    const auto a = Clock::now();
    const auto& mask = fresh.mask();
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - a).count();
    size_t allowed = 0;
    for (uint64_t w : mask) allowed += size_t(__builtin_popcountll(w));
    std::printf("uncached mask after '%s': %.2f ms, %zu of %d tokens allowed\n", prefix, ms, allowed, n_vocab);
  }
  std::printf("token index built in %.1f ms\n", build_ms);

  // End to end: the model's own logits, 64 generated tokens with and without the schema
  // (generation_seconds covers decode + sample per token).
  ContextParams cp;
  cp.n_ctx = 256;
  Context ctx(*model, cp);
  const auto prompt = vocab.tokenize("Reply in JSON:", true, true);
  for (bool constrained : {false, true, false, true}) {
    SamplerParams sp;
    sp.seed = 9;
    Sampler s(sp, n_vocab);
    if (constrained) s.set_grammar(std::make_unique<grammar::TokenFilter>(g, index));
    GenerationParams gp;
    gp.n_predict = 64;
    Generation gen(ctx, s, gp);
    gen.start(prompt);
    while (gen.next()) {
    }
    std::printf("end to end, %s: %zu tokens, %.2f ms/token (stop: %s)\n", constrained ? "constrained" : "unconstrained",
                gen.tokens().size(), gen.generation_seconds() * 1e3 / double(std::max<size_t>(gen.tokens().size(), 1)),
                stop_reason_name(gen.stop_reason()));
  }
}

}  // namespace
}  // namespace nnb
