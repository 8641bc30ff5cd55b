// The GGML backend's "grammar" and "json-schema" options (COMPAT §4): a random generated model
// produces valid output only because sampling never leaves the grammar. Every JSON answer is
// parsed and checked against its schema by a small checker written here (the subset the
// converter supports); compute and compute_single both honour the grammar; malformed grammars
// and schemas are errno 1 with the position.
#include <nlohmann/json.hpp>

#include "backends/ggml/ggml_backend.h"
#include "engine/model/model_gen.h"
#include "ggml_backend_util.h"
#include "test_util.h"

namespace nnb::ggml {
namespace {

using nlohmann::json;
using nn::Errno;
using namespace nnb::test;

// ---- a JSON Schema checker for the subset -------------------------------------------------

size_t code_points(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Empty when v satisfies s, else why not.
std::string check(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>() ? "" : "schema false";
  if (s.contains("$ref")) {
    const std::string r = s["$ref"];
    const std::string key = r.rfind("#/$defs/", 0) == 0 ? "$defs" : "definitions";
    return check(v, root[key][r.substr(key.size() + 3)], root);
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    if (!s.contains(key)) continue;
    int ok = 0;
    for (const auto& sub : s[key]) ok += check(v, sub, root).empty();
    if (ok == 0 || (std::string(key) == "oneOf" && ok > 1)) return std::string(key) + " not satisfied";
    return "";
  }
  if (s.contains("const") && v != s["const"]) return "not the const";
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return "not in enum";
  if (s.contains("type")) {
    auto is = [&](const std::string& t) {
      if (t == "object") return v.is_object();
      if (t == "array") return v.is_array();
      if (t == "string") return v.is_string();
      if (t == "integer") return v.is_number_integer();
      if (t == "number") return v.is_number();
      if (t == "boolean") return v.is_boolean();
      if (t == "null") return v.is_null();
      return false;
    };
    bool any = false;
    if (s["type"].is_array()) {
      for (const auto& t : s["type"]) any = any || is(t.get<std::string>());
    } else {
      any = is(s["type"].get<std::string>());
    }
    if (!any) return "wrong type for " + v.dump();
  }
  if (v.is_object() && s.contains("properties")) {
    for (const auto& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return "missing required " + r.dump();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!s["properties"].contains(it.key())) return "unexpected property " + it.key();
      if (auto why = check(it.value(), s["properties"][it.key()], root); !why.empty()) return it.key() + ": " + why;
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return "too few items";
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return "too many items";
    if (s.contains("prefixItems")) {
      if (v.size() != s["prefixItems"].size()) return "tuple of the wrong length";
      for (size_t i = 0; i < v.size(); ++i)
        if (auto why = check(v[i], s["prefixItems"][i], root); !why.empty()) return "item " + std::to_string(i) + ": " + why;
    }
    if (s.contains("items"))
      for (const auto& item : v)
        if (auto why = check(item, s["items"], root); !why.empty()) return "item: " + why;
  }
  if (v.is_string()) {
    const size_t n = code_points(v.get<std::string>());
    if (s.contains("minLength") && n < s["minLength"].get<size_t>()) return "string too short";
    if (s.contains("maxLength") && n > s["maxLength"].get<size_t>()) return "string too long";
  }
  return "";
}

// ---- fixture -------------------------------------------------------------------------------

const std::filesystem::path& model_path() {
  static const std::filesystem::path p = test::generated_model("backend_ggml_grammar", 23);
  return p;
}

class GgmlGrammarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GgmlBackendOptions o;
    o.logger = [](LogLevel, std::string_view) {};
    backend = std::make_unique<GgmlBackend>(
        std::vector<nn::PreloadSpec>{{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, model_path().string()}},
        o);
    graph = backend->load_by_name("default", "");
  }
  // A context generating with the given sampling and constraint options.
  std::unique_ptr<nn::ExecutionContext> ctx(const json& extra) {
    auto c = graph->init_execution_context();
    json j = {{"ctx-size", 2048}, {"n-predict", 1500}, {"threads", 1}};
    j.update(extra);
    set_opts(*c, j.dump());
    return c;
  }
  std::unique_ptr<GgmlBackend> backend;
  std::shared_ptr<nn::Graph> graph;
};

const char* kPrompt = "Answer in JSON:";

TEST_F(GgmlGrammarTest, JsonFromTenSchemasIsValid) {
  // Bounded strings and arrays, so that a model with random weights ends well within n-predict.
  const std::vector<std::string> schemas = {
      R"({"type":"object","properties":{"name":{"type":"string","maxLength":8},"age":{"type":"integer"}},"required":["name","age"]})",
      R"({"enum":["red","green","blue"]})",
      R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":4})",
      R"({"type":"boolean"})",
      R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"null"},"c":{"const":"fixed"}}})",
      R"({"type":"array","items":{"type":"number"},"maxItems":3})",
      R"({"type":"string","minLength":2,"maxLength":5})",
      R"({"anyOf":[{"type":"integer"},{"type":"string","maxLength":4}]})",
      R"({"$defs":{"pt":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"integer"}},"required":["x","y"]}},
          "type":"array","items":{"$ref":"#/$defs/pt"},"maxItems":3})",
      R"({"type":["integer","null"]})",
      R"({"prefixItems":[{"type":"string","maxLength":3},{"type":"boolean"}]})",
      R"({"type":"object","properties":{"user":{"type":"object","properties":{"id":{"type":"integer"},
          "tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},"required":["id","tags"]}},"required":["user"]})",
      R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},
          "required":["v","next"]}},"$ref":"#/$defs/node"})",
  };
  int non_trivial = 0;
  for (const auto& s : schemas) {
    const json schema = json::parse(s);
    for (int seed : {-2, 1, 2, 3}) {  // -2: greedy
      // Greedy on a recursive schema repeats itself until n-predict, as greedy decoding does.
      if (seed < 0 && s.find("$ref\":\"#/$defs/node") != std::string::npos) continue;
      SCOPED_TRACE(s + " seed " + std::to_string(seed));
      auto c = ctx(seed < 0 ? json{{"temp", 0.0}, {"json-schema", s}}
                            : json{{"temp", 1.0}, {"seed", seed}, {"json-schema", s}});
      set_prompt(*c, kPrompt);
      ASSERT_EQ(error_of([&] { c->compute(); }).first, Errno::Success);
      const std::string out = text(*c);
      EXPECT_EQ(meta(*c)["stop_reason"], "end_of_generation") << out;
      json v;
      ASSERT_NO_THROW(v = json::parse(out)) << "not JSON: " << out;
      EXPECT_EQ(check(v, schema, schema), "") << out;
      non_trivial += out.size() > 8;
    }
  }
  EXPECT_GT(non_trivial, 10);
}

TEST_F(GgmlGrammarTest, GrammarThroughComputeAndComputeSingle) {
  // Multi-byte characters: the generated vocabulary has no Greek pieces, so each letter is made
  // of byte tokens, a character split across tokens every time.
  const std::string g = "root ::= (\"yes\" | \"no\") \" \" [α-ω]{3} \"!\"";
  auto ok = [](const std::string& s) {
    if (!(s.rfind("yes ", 0) == 0 || s.rfind("no ", 0) == 0)) return false;
    const std::string rest = s.substr(s.find(' ') + 1);
    if (rest.size() != 7 || rest.back() != '!') return false;
    for (size_t i = 0; i < 6; i += 2) {
      const unsigned char a = rest[i], b = rest[i + 1];
      const uint32_t cp = ((a & 0x1Fu) << 6) | (b & 0x3Fu);
      if ((a & 0xE0) != 0xC0 || cp < 0x3B1 || cp > 0x3C9) return false;
    }
    return true;
  };
  for (int seed : {1, 2, 3, 4, 5}) {
    auto c = ctx({{"temp", 1.0}, {"seed", seed}, {"grammar", g}});
    set_prompt(*c, kPrompt);
    c->compute();
    const std::string whole = text(*c);
    EXPECT_TRUE(ok(whole)) << whole;
    EXPECT_EQ(meta(*c)["stop_reason"], "end_of_generation");
    // The same seed streamed: the same text, ending with 100 (end of generation).
    set_prompt(*c, kPrompt);
    auto [streamed, e] = stream_all(*c);
    EXPECT_EQ(e, Errno::EndOfSequence);
    EXPECT_EQ(streamed, whole);
    c->fini_single();
  }
  // The grammar stays with the context for its next prompts, until set to "".
  auto c = ctx({{"temp", 0.0}, {"grammar", "root ::= \"ok\""}, {"n-predict", 8}});
  set_prompt(*c, "one");
  c->compute();
  EXPECT_EQ(text(*c), "ok");
  set_prompt(*c, "two");
  c->compute();
  EXPECT_EQ(text(*c), "ok");
  set_opts(*c, R"({"grammar":""})");
  set_prompt(*c, "three");
  c->compute();
  EXPECT_NE(text(*c), "ok");
}

TEST_F(GgmlGrammarTest, MalformedGrammarsAndSchemasAreErrno1WithThePosition) {
  auto c = graph->init_execution_context();
  struct Bad {
    json opts;
    const char* says;
  };
  const std::vector<Bad> bad = {
      {{{"grammar", "root ::= \"a\"\nitem \"b\""}}, "\"grammar\": expected '::=' at 2:6"},
      {{{"grammar", "root ::= missing"}}, "undefined rule 'missing'"},
      {{{"grammar", "root ::= root \"x\" | \"x\""}}, "left recursion"},
      {{{"json-schema", "{\"type\":\"string\",\"pattern\":\"a+\"}"}}, "\"json-schema\": json-schema: keyword \"pattern\""},
      {{{"json-schema", "{\"type\": "}}, "not valid JSON"},
      {{{"grammar", "root ::= \"a\""}, {"json-schema", "{}"}}, "both set"},
  };
  for (const auto& b : bad) {
    auto [e, msg] = error_of([&] { set_opts(*c, b.opts.dump()); });
    EXPECT_EQ(e, Errno::InvalidArgument) << b.opts.dump();
    EXPECT_NE(msg.find(b.says), std::string::npos) << msg;
    // At load too, as a graph's config.
    EXPECT_EQ(error_of([&] { backend->load_by_name("default", b.opts.dump()); }).first, Errno::InvalidArgument);
  }
  // The options are as they were: no constraint, a normal generation.
  set_opts(*c, R"({"n-predict":3,"temp":0})");
  set_prompt(*c, kPrompt);
  EXPECT_EQ(error_of([&] { c->compute(); }).first, Errno::Success);
  // Multimodal options are still refused as unsupported (6).
  EXPECT_EQ(error_of([&] { set_opts(*c, R"({"mmproj":"x.gguf"})"); }).first, Errno::UnsupportedOperation);
}

TEST_F(GgmlGrammarTest, GraphConfigGrammarIsEveryContextsDefault) {
  auto g = backend->load_by_name("default", R"({"grammar":"root ::= [0-9]{4}","temp":0})");
  for (int i = 0; i < 2; ++i) {
    auto c = g->init_execution_context();
    set_prompt(*c, kPrompt);
    c->compute();
    const std::string out = text(*c);
    ASSERT_EQ(out.size(), 4u) << out;
    for (char ch : out) EXPECT_TRUE(ch >= '0' && ch <= '9') << out;
  }
}

}  // namespace
}  // namespace nnb::ggml
