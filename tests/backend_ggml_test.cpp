// The GGML WASI-NN backend against COMPAT §4 and nnbridge's rules: generation equals the
// engine's own, streaming equals compute, options stay per context / per graph, every misuse is
// the right errno, models are loaded lazily, shared and never cached when broken. Runs on a
// generated model (no fixtures needed) and on stories260K when ../shared is present.
#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "backends/ggml/ggml_backend.h"
#include "backends/ggml/ggml_context.h"
#include "engine/runtime/generation.h"
#include "engine/model/model_gen.h"
#include "nn/stream.h"
#include "ggml_backend_util.h"
#include "test_util.h"
#include "vulkan_available.h"

namespace nnb::ggml {
namespace {

using nlohmann::json;
using nn::Errno;
using namespace nnb::test;

// ---- helpers ------------------------------------------------------------------------------

// The engine's own greedy generation, the reference every backend result is compared with.
struct Reference {
  std::vector<Token> prompt, tokens;
  std::vector<std::string> pieces;
  std::string text;
  StopReason stop;
};
Reference engine_greedy(const Model& m, const std::string& prompt, int n_ctx, int n_predict,
                        const std::string& reverse_prompt = "", KvType kv_type = KvType::F32) {
  ContextParams cp;
  cp.n_ctx = n_ctx;
  cp.n_threads = 1;
  cp.kv_type = kv_type;
  Context ctx(m, cp);
  SamplerParams sp;
  sp.temp = 0;
  Sampler sampler(sp, m.hparams().n_vocab);
  GenerationParams gp;
  gp.n_predict = n_predict;
  if (!reverse_prompt.empty()) gp.reverse_prompts.push_back(reverse_prompt);
  Generation gen(ctx, sampler, gp);
  Reference r;
  r.prompt = m.vocab().tokenize(prompt, true, true);
  gen.start(r.prompt);
  while (auto t = gen.next()) r.pieces.push_back(m.vocab().token_to_piece(*t));
  r.tokens = gen.tokens();
  r.text = gen.text();
  r.stop = gen.stop_reason();
  return r;
}

// Captures what the backend writes to stdout and its log, thread-safely.
struct Capture {
  std::mutex mu;
  std::string out;
  std::vector<std::pair<LogLevel, std::string>> log;

  GgmlBackendOptions options() {
    GgmlBackendOptions o;
    o.default_threads = 1;  // the test machine's cores are shared with other test processes
    o.stdout_sink = [this](std::string_view s) {
      std::lock_guard<std::mutex> lk(mu);
      out.append(s);
    };
    o.logger = [this](LogLevel l, std::string_view s) {
      std::lock_guard<std::mutex> lk(mu);
      log.emplace_back(l, std::string(s));
    };
    return o;
  }
  size_t count(LogLevel l, const std::string& needle) {
    std::lock_guard<std::mutex> lk(mu);
    size_t n = 0;
    for (auto& [lv, s] : log) n += (lv == l && s.find(needle) != std::string::npos) ? 1 : 0;
    return n;
  }
};

// A generated model shared by the tests of this file (written once per process).
const std::filesystem::path& gen_model_path() {
  static const std::filesystem::path p = test::generated_model("backend_ggml", 11);
  return p;
}

const char* kPrompt = "Once upon a time there was";

class GgmlBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend = std::make_unique<GgmlBackend>(
        std::vector<nn::PreloadSpec>{{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO,
                                      gen_model_path().string()}},
        cap.options());
    model = Model::load(gen_model_path());
  }
  std::shared_ptr<nn::Graph> load(std::string_view config = "") { return backend->load_by_name("default", config); }
  // A context with greedy sampling and the given extra options.
  std::unique_ptr<nn::ExecutionContext> greedy_ctx(nn::Graph& g, const std::string& extra = "") {
    auto c = g.init_execution_context();
    json j = {{"temp", 0.0}, {"ctx-size", 128}, {"n-predict", 24}};
    if (!extra.empty()) j.update(json::parse(extra));
    set_opts(*c, j.dump());
    return c;
  }

  Capture cap;
  std::unique_ptr<GgmlBackend> backend;
  std::unique_ptr<Model> model;  // the same file, loaded separately for the engine reference
};

// ---- generation --------------------------------------------------------------------------

TEST_F(GgmlBackendTest, GreedyComputeEqualsEngineGreedy) {
  const auto ref = engine_greedy(*model, kPrompt, 128, 24);
  ASSERT_FALSE(ref.text.empty());
  auto g = load();
  auto c = greedy_ctx(*g);
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(text(*c), ref.text);
  EXPECT_EQ(text(*c), ref.text) << "re-reading gives the same bytes";
  const json m = meta(*c);
  EXPECT_EQ(m["input_tokens"], ref.prompt.size());
  EXPECT_EQ(m["output_tokens"], ref.tokens.size());
}

// The host's KV cache type (serve / run --kv-type) reaches the engine context of every graph:
// the context says so in its log, and its greedy text is the engine's with that cache.
TEST_F(GgmlBackendTest, HostKvTypeReachesTheEngineContext) {
  ModelSpec spec;  // head dimension 32: q8_0 takes it (the shared model's 16 it refuses, below)
  spec.n_head = 2;
  spec.n_head_kv = 1;
  spec.seed = 12;
  const auto path = test::scratch_dir("backend_ggml_hd32") / "hd32.gguf";
  write_model(spec, path);
  auto hd32 = Model::load(path.string());
  for (KvType kv : {KvType::F16, KvType::Q8_0}) {
    const std::string name = kv_type_name(kv);
    SCOPED_TRACE(name);
    const auto ref = engine_greedy(*hd32, kPrompt, 128, 24, "", kv);
    GgmlBackendOptions o = cap.options();
    o.kv_type = kv;
    GgmlBackend b({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, path.string()}}, o);
    auto g = b.load_by_name("default", "");
    const size_t before = cap.count(LogLevel::Debug, name + " KV cache");
    auto c = greedy_ctx(*g, R"({"enable-debug-log": true})");
    set_prompt(*c, kPrompt);
    c->compute();
    EXPECT_EQ(text(*c), ref.text);
    EXPECT_EQ(cap.count(LogLevel::Debug, name + " KV cache"), before + 1);
  }
  EXPECT_EQ(cap.count(LogLevel::Debug, "f32 KV cache"), 0u);
}

// A host cache type the model cannot have (q8_0 with a head dimension of 16) is refused when the
// graph is loaded (and when a preload is described at start-up), with a message naming both,
// not at each context, and never a silent f32 cache.
TEST_F(GgmlBackendTest, HostQ8KvTypeRefusesAModelWhoseHeadsDoNotFit) {
  GgmlBackendOptions o = cap.options();
  o.kv_type = KvType::Q8_0;
  GgmlBackend b({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, gen_model_path().string()}}, o);
  for (int how = 0; how < 2; ++how)
    try {
      if (how == 0) b.load_by_name("default", "");
      else b.describe_preload("default");
      FAIL() << "a q8_0 cache accepted over 16-dimension heads";
    } catch (const nn::Error& e) {
      EXPECT_EQ(e.code(), Errno::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find("KV cache type q8_0 (--kv-type) needs a head dimension that is a multiple of "
                                           "32, at most 512; this model's is 16"),
                std::string::npos)
          << e.what();
    }
}

TEST_F(GgmlBackendTest, StreamingPiecesConcatenateToComputeText) {
  const auto ref = engine_greedy(*model, kPrompt, 128, 24);
  auto g = load();
  auto c = greedy_ctx(*g);
  set_prompt(*c, kPrompt);
  int n = 0;
  auto [all, end] = stream_all(*c, &n);
  EXPECT_EQ(end, Errno::EndOfSequence);
  EXPECT_EQ(all, ref.text);
  EXPECT_EQ(size_t(n), ref.tokens.size());
  EXPECT_EQ(text(*c), ref.text) << "get_output(0) mid/after stream is the text so far";
  EXPECT_EQ(meta(*c)["output_tokens"], ref.tokens.size());
  // Further calls keep answering end of sequence.
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::EndOfSequence);
}

TEST_F(GgmlBackendTest, NPredictRespectedInBothModes) {
  const auto ref = engine_greedy(*model, kPrompt, 128, 5);
  ASSERT_EQ(ref.stop, StopReason::NPredict) << "the generated model should not stop by itself this early";
  auto g = load();
  auto c = greedy_ctx(*g, R"({"n-predict":5})");
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 5);
  EXPECT_EQ(text(*c), ref.text);
  set_prompt(*c, kPrompt);
  int n = 0;
  auto [all, end] = stream_all(*c, &n);
  EXPECT_EQ(n, 5);
  EXPECT_EQ(end, Errno::EndOfSequence);
  EXPECT_EQ(all, ref.text);
  // Metadata mid-stream: output_tokens counts what was produced so far.
  set_prompt(*c, kPrompt);
  c->compute_single();
  c->compute_single();
  EXPECT_EQ(meta(*c)["output_tokens"], 2);
  EXPECT_EQ(json::parse(c->get_output_single(1))["output_tokens"], 2);
}

TEST_F(GgmlBackendTest, ReversePromptStopsBothModes) {
  const auto full = engine_greedy(*model, kPrompt, 128, 24);
  // Stop text: a printable piece after the first two (the random model also emits byte tokens,
  // which are not valid UTF-8 on their own and cannot go in JSON).
  std::string rp;
  for (size_t i = 2; i < full.pieces.size() && rp.empty(); ++i) {
    const std::string& p = full.pieces[i];
    if (!p.empty() && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= 0x21 && ch < 0x7f; })) rp = p;
  }
  ASSERT_FALSE(rp.empty()) << "no printable piece in the greedy output";
  const auto ref = engine_greedy(*model, kPrompt, 128, 24, rp);
  ASSERT_EQ(ref.stop, StopReason::ReversePrompt);
  ASSERT_LT(ref.tokens.size(), full.tokens.size());
  ASSERT_TRUE(ref.text.ends_with(rp));

  auto g = load();
  auto c = greedy_ctx(*g, json{{"reverse-prompt", rp}}.dump());
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(text(*c), ref.text);
  set_prompt(*c, kPrompt);
  auto [all, end] = stream_all(*c);
  EXPECT_EQ(end, Errno::EndOfSequence);
  EXPECT_EQ(all, ref.text);
}

TEST_F(GgmlBackendTest, SecondSetInputReplacesThePrompt) {
  const std::string other = "The little dog";
  const auto ref = engine_greedy(*model, other, 128, 24);
  auto g = load();
  auto c = greedy_ctx(*g);
  set_prompt(*c, kPrompt);
  set_prompt(*c, other);
  EXPECT_EQ(meta(*c)["input_tokens"], ref.prompt.size());
  c->compute();
  EXPECT_EQ(text(*c), ref.text);
}

TEST_F(GgmlBackendTest, ComputeConsumesItsInput) {
  auto g = load();
  auto c = greedy_ctx(*g, R"({"n-predict":3})");
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::InvalidArgument) << "no prompt yet";
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::InvalidArgument) << "no prompt yet";
  set_prompt(*c, kPrompt);
  c->compute();
  const std::string first = text(*c);
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::InvalidArgument);
  EXPECT_EQ(text(*c), first) << "a refused compute leaves the previous text readable";
  set_opts(*c, R"({"n-predict":4})");  // options alone are not a new input
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::InvalidArgument);
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 4);
}

TEST_F(GgmlBackendTest, MetadataBeforeAndAfterCompute) {
  auto g = load();
  auto c = greedy_ctx(*g, R"({"n-predict":6})");
  json m = meta(*c);
  EXPECT_EQ(m["input_tokens"], 0);
  EXPECT_EQ(m["output_tokens"], 0);
  set_prompt(*c, kPrompt);
  m = meta(*c);
  EXPECT_EQ(m["input_tokens"], model->vocab().tokenize(kPrompt, true, true).size());
  EXPECT_EQ(m["output_tokens"], 0);
  ASSERT_TRUE(m.contains("llama_build_number"));
  EXPECT_TRUE(m["llama_build_number"].is_number_integer());
  ASSERT_TRUE(m.contains("llama_commit"));
  EXPECT_TRUE(m["llama_commit"].is_string());
  c->compute();
  m = meta(*c);
  EXPECT_EQ(m["output_tokens"], 6);
  EXPECT_EQ(m["input_tokens"], model->vocab().tokenize(kPrompt, true, true).size());
  // A new prompt starts a new run: the counts follow it.
  set_prompt(*c, "Hi");
  EXPECT_EQ(meta(*c)["output_tokens"], 0);
  EXPECT_EQ(text(*c), "");
}

// ---- options -----------------------------------------------------------------------------

TEST_F(GgmlBackendTest, OptionsStayInTheirContext) {
  auto g = load(R"({"n-predict":7,"temp":0})");
  auto a = g->init_execution_context();
  auto b = g->init_execution_context();
  set_opts(*a, R"({"n-predict":3,"ctx-size":8})");
  set_prompt(*a, kPrompt);
  set_prompt(*b, kPrompt);
  EXPECT_EQ(errno_of([&] { a->compute(); }), Errno::PromptTooLong) << "a's ctx-size 8 is too small";
  b->compute();
  EXPECT_EQ(meta(*b)["output_tokens"], 7) << "b keeps the graph's options";
  set_opts(*a, R"({"ctx-size":128})");
  a->compute();  // the prompt refused for its length is still pending
  EXPECT_EQ(meta(*a)["output_tokens"], 3);
  // The graph and new contexts are untouched.
  auto* gg = dynamic_cast<GgmlGraph*>(g.get());
  ASSERT_NE(gg, nullptr);
  EXPECT_EQ(gg->defaults().n_predict, 7);
  EXPECT_EQ(gg->defaults().ctx_size, 512);
  auto c = g->init_execution_context();
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 7);
}

TEST_F(GgmlBackendTest, ConfigsStayInTheirGraph) {
  auto g4 = load(R"({"n-predict":4,"temp":0})");
  auto g9 = load(R"({"n-predict":9,"temp":0})");
  auto g0 = load();
  auto c4 = g4->init_execution_context();
  auto c9 = g9->init_execution_context();
  set_prompt(*c4, kPrompt);
  set_prompt(*c9, kPrompt);
  c4->compute();
  c9->compute();
  EXPECT_EQ(meta(*c4)["output_tokens"], 4);
  EXPECT_EQ(meta(*c9)["output_tokens"], 9);
  EXPECT_EQ(dynamic_cast<GgmlGraph&>(*g0).defaults().n_predict, 512);
  // One model (one mmap) underneath all three.
  EXPECT_EQ(dynamic_cast<GgmlGraph&>(*g4).model(), dynamic_cast<GgmlGraph&>(*g9).model());
  EXPECT_EQ(dynamic_cast<GgmlGraph&>(*g4).model(), dynamic_cast<GgmlGraph&>(*g0).model());
  EXPECT_EQ(backend->live_models(), 1u);
}

TEST_F(GgmlBackendTest, OptionErrorsAndUnknownKeys) {
  auto g = load();
  auto c = g->init_execution_context();
  EXPECT_EQ(errno_of([&] { set_opts(*c, "{not json"); }), Errno::InvalidEncoding);
  EXPECT_EQ(errno_of([&] { set_opts(*c, "[1,2]"); }), Errno::InvalidEncoding);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"n-predict":"5"})"); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"n-predict":5.5})"); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"temp":"hot"})"); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"stream-stdout":1})"); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"reverse-prompt":3})"); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"ctx-size":-1})"); }), Errno::InvalidArgument);
  // A refused JSON changes nothing, even its valid keys.
  EXPECT_EQ(errno_of([&] { set_opts(*c, R"({"n-predict":2,"temp":"x"})"); }), Errno::InvalidArgument);
  auto* gc = dynamic_cast<GgmlExecutionContext*>(c.get());
  ASSERT_NE(gc, nullptr);
  EXPECT_EQ(gc->options().n_predict, 512);
  // Unknown keys (apps' private ones) are ignored; temp accepts integers; a trailing NUL is fine.
  set_opts(*c, std::string(R"({"llama3":true,"n-predict":2,"temp":0,"n-gpu-layers":0})") + '\0');
  EXPECT_EQ(gc->options().n_predict, 2);
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 2);
  // Every key of the table is accepted with its type.
  set_opts(*c, R"({"enable-log":false,"enable-debug-log":false,"stream-stdout":false,"embedding":false,
    "n-predict":3,"reverse-prompt":"","ctx-size":256,"batch-size":64,"ubatch-size":32,"threads":1,"temp":0.5,
    "top-p":0.9,"repeat-penalty":1.1,"presence-penalty":0.1,"frequency-penalty":0.1,"n-gpu-layers":0,
    "main-gpu":0,"tensor-split":"","use-mmap":true,"grammar":"","json-schema":"","mmproj":"","image":"",
    "top-k":20,"min-p":0.1,"seed":42})");
  EXPECT_EQ(gc->options().ctx_size, 256);
  EXPECT_EQ(gc->options().seed, 42);
  // Bad configs at load time.
  EXPECT_EQ(errno_of([&] { load("{"); }), Errno::InvalidEncoding);
  EXPECT_EQ(errno_of([&] { load(R"({"ctx-size":"big"})"); }), Errno::InvalidArgument);
}

// The sampling defaults are the engine's (SamplerParams, written once there); for the keys
// COMPAT §4 lists they must stay WasmEdge's, and the JSON shows them as written.
TEST(GgmlOptionsDefaults, SamplingDefaultsAreWasmEdgesAndTheEngines) {
  const GgmlOptions o;
  EXPECT_EQ(o.temp, 0.8);
  EXPECT_EQ(o.top_p, 0.95);
  EXPECT_EQ(o.repeat_penalty, 1.0);
  EXPECT_EQ(o.presence_penalty, 0.0);
  EXPECT_EQ(o.frequency_penalty, 0.0);
  const SamplerParams engine;
  EXPECT_EQ(float(o.temp), engine.temp);
  EXPECT_EQ(float(o.top_p), engine.top_p);
  EXPECT_EQ(float(o.min_p), engine.min_p);
  EXPECT_EQ(float(o.repeat_penalty), engine.repeat_penalty);
  EXPECT_EQ(float(o.presence_penalty), engine.presence_penalty);
  EXPECT_EQ(float(o.frequency_penalty), engine.frequency_penalty);
  EXPECT_EQ(o.top_k, engine.top_k);
  EXPECT_LT(o.seed, 0);  // random, as the engine's 0xFFFFFFFF
  const json j = json::parse(options_to_json(o));
  EXPECT_EQ(j["temp"].dump(), "0.8");
  EXPECT_EQ(j["top-p"].dump(), "0.95");
  EXPECT_EQ(j["min-p"].dump(), "0.05");
  EXPECT_EQ(j["top-k"], 40);
}

TEST_F(GgmlBackendTest, UnhonouredOptionsAreLoggedNotRefused) {
  auto g = load(R"({"n-gpu-layers":99,"main-gpu":1})");
  EXPECT_EQ(cap.count(LogLevel::Note, "main-gpu=1 ignored"), 1u);
  auto c = g->init_execution_context();
  set_opts(*c, R"({"use-mmap":false,"n-predict":2,"temp":0})");
  EXPECT_EQ(cap.count(LogLevel::Note, "use-mmap"), 1u);
  // Features that are not implemented are refused naming the option (errno 6), at load and per
  // context, and leave the options as they were.
  for (const char* bad : {R"({"mmproj":"clip.gguf"})", R"({"image":"cat.png"})"}) {
    EXPECT_EQ(errno_of([&] { set_opts(*c, bad); }), Errno::UnsupportedOperation) << bad;
    EXPECT_EQ(errno_of([&] { load(bad); }), Errno::UnsupportedOperation) << bad;
  }
  set_prompt(*c, kPrompt);
  c->compute();
  // This backend computes on the CPU: the context says so once.
  EXPECT_EQ(cap.count(LogLevel::Note, "n-gpu-layers=99: this host computes on the CPU"), 1u);
  EXPECT_EQ(cap.count(LogLevel::Info, "generated"), 0u) << "no run log without enable-log";
  set_opts(*c, R"({"enable-log":true})");
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(cap.count(LogLevel::Info, "generated 2 tokens"), 1u);
}

// embedding: true: output 0 is {"n_embedding": N, "embedding": [...]} (COMPAT §4), the model's
// width, unit norm, the engine's embed() of the same tokens; streaming it is errno 6; the same
// context generates text again once the option is off.
TEST_F(GgmlBackendTest, EmbeddingModeReturnsTheEnginesUnitVector) {
  auto g = load();
  auto c = g->init_execution_context();
  set_opts(*c, R"({"embedding":true})");
  set_prompt(*c, kPrompt);
  c->compute();
  const json j = json::parse(text(*c));
  ASSERT_EQ(j["n_embedding"].get<int>(), model->hparams().n_embd);
  const auto e = j["embedding"].get<std::vector<float>>();
  ASSERT_EQ(e.size(), size_t(model->hparams().n_embd));
  double norm = 0;
  for (float v : e) norm += double(v) * v;
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
  Context ctx(*model, ContextParams{});
  const auto want = ctx.embed(model->vocab().tokenize(kPrompt, true, true));
  for (size_t d = 0; d < e.size(); ++d) ASSERT_NEAR(e[d], want[d], 1e-6) << d;
  EXPECT_EQ(meta(*c)["input_tokens"], model->vocab().tokenize(kPrompt, true, true).size());
  EXPECT_EQ(meta(*c)["output_tokens"], 0);
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::InvalidArgument) << "compute consumes its input";
  set_prompt(*c, kPrompt);
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::UnsupportedOperation);
  set_opts(*c, R"({"embedding":false,"n-predict":3,"temp":0})");
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 3);
}

// ---- stop conditions ---------------------------------------------------------------------

TEST_F(GgmlBackendTest, ContextFullKeepsTheText) {
  const auto ref = engine_greedy(*model, kPrompt, 16, -1);
  ASSERT_EQ(ref.stop, StopReason::ContextFull);
  auto g = load();
  auto c = greedy_ctx(*g, R"({"ctx-size":16,"n-predict":-1})");
  set_prompt(*c, kPrompt);
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::ContextFull);
  EXPECT_FALSE(text(*c).empty());
  EXPECT_EQ(text(*c), ref.text);
  EXPECT_EQ(meta(*c)["output_tokens"], ref.tokens.size());
  set_prompt(*c, kPrompt);
  auto [all, end] = stream_all(*c);
  EXPECT_EQ(end, Errno::ContextFull);
  EXPECT_EQ(all, ref.text);
}

TEST_F(GgmlBackendTest, PromptTooLong) {
  auto g = load();
  auto c = greedy_ctx(*g, R"({"ctx-size":8})");
  const std::string long_prompt = "one two three four five six seven eight nine ten eleven twelve";
  ASSERT_GE(model->vocab().tokenize(long_prompt, true, true).size(), 8u);
  set_prompt(*c, long_prompt);
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::PromptTooLong);
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::PromptTooLong);
}

TEST_F(GgmlBackendTest, FiniSingleResetsAndANewStreamWorks) {
  auto g = load();
  auto c = greedy_ctx(*g);
  set_prompt(*c, kPrompt);
  c->compute_single();
  const std::string first = piece(*c);
  c->compute_single();
  c->compute_single();
  EXPECT_EQ(meta(*c)["output_tokens"], 3);
  c->fini_single();
  EXPECT_EQ(meta(*c)["output_tokens"], 0);
  EXPECT_EQ(text(*c), "");
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::InvalidArgument) << "the stream is over";
  c->fini_single();  // harmless without a stream
  set_prompt(*c, kPrompt);
  c->compute_single();
  EXPECT_EQ(piece(*c), first) << "the new stream starts from a clean cache";
  EXPECT_EQ(meta(*c)["output_tokens"], 1);
  // A new prompt mid-stream starts a new stream too.
  set_prompt(*c, kPrompt);
  const auto ref = engine_greedy(*model, kPrompt, 128, 24);
  auto [all, end] = stream_all(*c);
  EXPECT_EQ(all, ref.text);
}

TEST_F(GgmlBackendTest, StreamStdoutWritesTheTextToTheSink) {
  auto g = load();
  auto quiet = greedy_ctx(*g);
  set_prompt(*quiet, kPrompt);
  quiet->compute();
  EXPECT_EQ(cap.out, "") << "nothing printed without stream-stdout";
  auto c = greedy_ctx(*g, R"({"stream-stdout":true})");
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_FALSE(cap.out.empty());
  EXPECT_EQ(cap.out, text(*c));
}

// ---- loading -----------------------------------------------------------------------------

TEST(GgmlBackendLoad, MissingPreloadFileIs103AndNeverCached) {
  Capture cap;
  const auto dir = test::scratch_dir("backend_ggml_missing");
  const auto path = dir / "later.gguf";
  GgmlBackend be({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, path.string()}}, cap.options());
  EXPECT_EQ(errno_of([&] { be.load_by_name("default", ""); }), Errno::ModelNotFound);
  EXPECT_EQ(errno_of([&] { be.load_by_name("default", ""); }), Errno::ModelNotFound) << "not cached as loaded";
  EXPECT_EQ(errno_of([&] { be.load_by_name("nope", ""); }), Errno::NotFound);
  // A malformed file: InvalidArgument, every time.
  {
    std::ofstream(path, std::ios::binary) << "GGUF but not really a model";
  }
  EXPECT_EQ(errno_of([&] { be.load_by_name("default", ""); }), Errno::InvalidArgument);
  EXPECT_EQ(errno_of([&] { be.load_by_name("default", ""); }), Errno::InvalidArgument);
  // Once the file is good, the next load succeeds.
  std::filesystem::copy_file(gen_model_path(), path, std::filesystem::copy_options::overwrite_existing);
  auto g = be.load_by_name("default", "");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->name(), "default");
}

// The guest's execution target within the host's --device: CPU is honoured, AUTO and GPU take
// the host's device (here the first Vulkan device, lavapipe in CI), and a host serving with
// --device cpu runs a GPU target on the CPU, saying so.
TEST(GgmlBackendLoad, ExecutionTargetsChooseTheDevice) {
  auto device_of = [](Capture& cap, GgmlBackend& be, const std::string& name) {
    auto g = be.load_by_name(name, R"({"enable-debug-log":true,"n-predict":1,"temp":0,"ctx-size":64})");
    auto c = g->init_execution_context();
    set_prompt(*c, "Once");
    c->compute();
    std::lock_guard<std::mutex> lk(cap.mu);
    for (auto it = cap.log.rbegin(); it != cap.log.rend(); ++it)
      if (auto at = it->second.find(", device "); at != std::string::npos) return it->second.substr(at + 9);
    return std::string("(no engine context line)");
  };
  const std::vector<nn::PreloadSpec> specs{
      {"cpu", nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU, gen_model_path().string()},
      {"gpu", nn::GraphEncoding::GGML, nn::ExecutionTarget::GPU, gen_model_path().string()},
      {"auto", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, gen_model_path().string()}};
  {
    Capture cap;
    GgmlBackend be(specs, cap.options());  // the host's --device cpu
    EXPECT_EQ(device_of(cap, be, "gpu").rfind("cpu", 0), 0u);
    EXPECT_EQ(cap.count(LogLevel::Note, "target GPU: this host computes on the CPU"), 1u);
    EXPECT_EQ(device_of(cap, be, "auto").rfind("cpu", 0), 0u);
  }
  if (!test::vulkan_available()) GTEST_SKIP() << "no usable Vulkan device: the GPU half is not checked";
  Capture cap;
  auto o = cap.options();
  o.device = "vulkan";
  GgmlBackend be(specs, o);
  EXPECT_EQ(device_of(cap, be, "cpu").rfind("cpu", 0), 0u) << "target CPU is honoured";
  EXPECT_EQ(device_of(cap, be, "gpu").rfind("vulkan:", 0), 0u);
  EXPECT_EQ(device_of(cap, be, "auto").rfind("vulkan:", 0), 0u);
}

TEST(GgmlBackendLoad, ConstructionChecksEncodingsNotFiles) {
  EXPECT_THROW(GgmlBackend({{"m", nn::GraphEncoding::ONNX, nn::ExecutionTarget::CPU, "x.onnx"}}), std::invalid_argument);
  EXPECT_THROW(GgmlBackend({{"m", nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU, "a.gguf"},
                            {"m", nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU, "b.gguf"}}),
               std::invalid_argument);
  EXPECT_NO_THROW(GgmlBackend({{"m", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, "/no/such/model.gguf"}}));
}

TEST_F(GgmlBackendTest, UnloadThenReloadFiveTimes) {
  for (int i = 0; i < 5; ++i) {
    auto g = load(R"({"n-predict":2,"temp":0})");
    EXPECT_EQ(backend->live_models(), 1u);
    auto c = g->init_execution_context();
    set_prompt(*c, kPrompt);
    c->compute();
    EXPECT_EQ(meta(*c)["output_tokens"], 2);
    backend->unload(g);
    EXPECT_EQ(backend->live_models(), 1u) << "the context still holds the model";
    EXPECT_EQ(errno_of([&] { g->init_execution_context(); }), Errno::InvalidArgument);
    c.reset();
    EXPECT_EQ(backend->live_models(), 0u) << "unmapped once nothing holds it";
  }
}

TEST_F(GgmlBackendTest, ConcurrentLoadsOfOneNameShareOneModel) {
  std::vector<std::shared_ptr<nn::Graph>> graphs(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < graphs.size(); ++i) threads.emplace_back([&, i] { graphs[i] = load(); });
  for (auto& t : threads) t.join();
  for (auto& g : graphs) {
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(dynamic_cast<GgmlGraph&>(*g).model(), dynamic_cast<GgmlGraph&>(*graphs[0]).model());
  }
  EXPECT_EQ(backend->live_models(), 1u);
}

TEST_F(GgmlBackendTest, LoadFromPathAndFromBytes) {
  const auto ref = engine_greedy(*model, kPrompt, 128, 24);
  const std::string path = "preload:" + gen_model_path().string();
  const std::string bytes = test::read_file(gen_model_path());
  for (const std::string* b : {&path, &bytes}) {
    const std::span<const uint8_t> builders[1] = {as_bytes(*b)};
    auto g = backend->load(builders, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU);
    auto c = greedy_ctx(*g);
    set_prompt(*c, kPrompt);
    c->compute();
    EXPECT_EQ(text(*c), ref.text) << (b == &path ? "path builder" : "bytes builder");
  }
  // A second builder is the config.
  const std::string config = R"({"n-predict":3,"temp":0})";
  const std::span<const uint8_t> with_config[2] = {as_bytes(path), as_bytes(config)};
  auto g = backend->load(with_config, nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO);
  auto c = g->init_execution_context();
  set_prompt(*c, kPrompt);
  c->compute();
  EXPECT_EQ(meta(*c)["output_tokens"], 3);
  // Errors.
  const std::span<const uint8_t> one[1] = {as_bytes(path)};
  EXPECT_EQ(errno_of([&] { backend->load(one, nn::GraphEncoding::ONNX, nn::ExecutionTarget::CPU); }),
            Errno::InvalidEncoding);
  EXPECT_EQ(errno_of([&] { backend->load({}, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU); }),
            Errno::InvalidArgument);
  // "preload:" may only name a preloaded model: any other host path is refused, existing or not.
  const std::string missing = path + ".missing";
  const std::span<const uint8_t> gone[1] = {as_bytes(missing)};
  EXPECT_EQ(errno_of([&] { backend->load(gone, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU); }),
            Errno::InvalidArgument);
  const std::string other = "preload:/etc/passwd";
  const std::span<const uint8_t> other_b[1] = {as_bytes(other)};
  EXPECT_EQ(errno_of([&] { backend->load(other_b, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU); }),
            Errno::InvalidArgument);
  const std::string junk = "GGUF\x03\0\0\0 truncated";
  const std::span<const uint8_t> bad[1] = {as_bytes(junk)};
  EXPECT_EQ(errno_of([&] { backend->load(bad, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU); }),
            Errno::InvalidArgument);
  // A bare path (no "preload:") is not opened: the guest cannot make the host read a file.
  const std::string bare = gen_model_path().string();
  const std::span<const uint8_t> bare_b[1] = {as_bytes(bare)};
  EXPECT_EQ(errno_of([&] { backend->load(bare_b, nn::GraphEncoding::GGML, nn::ExecutionTarget::CPU); }),
            Errno::InvalidArgument);
}

// ---- concurrency -------------------------------------------------------------------------

TEST_F(GgmlBackendTest, ConcurrentContextsGetTheirOwnText) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat sat", "Hello world", "A big red ball"};
  std::vector<Reference> refs;
  for (const auto& p : prompts) refs.push_back(engine_greedy(*model, p, 64, 16));
  auto g = load(R"({"temp":0,"ctx-size":64,"n-predict":16})");
  std::vector<std::string> got(prompts.size()), streamed(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) {
    threads.emplace_back([&, i] {
      auto c = g->init_execution_context();
      for (int round = 0; round < 2; ++round) {  // the second round reuses the KV cache
        set_prompt(*c, prompts[i]);
        c->compute();
        got[i] = text(*c);
      }
      set_prompt(*c, prompts[i]);
      streamed[i] = stream_all(*c).first;
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(got[i], refs[i].text) << prompts[i];
    EXPECT_EQ(streamed[i], refs[i].text) << prompts[i];
  }
}

TEST_F(GgmlBackendTest, ASecondCallWhileOneRunsIsBusy) {
  // The stream-stdout sink runs inside compute: from there, let another thread call in.
  std::mutex mu;
  std::condition_variable cv;
  bool checked = false;
  Errno seen = Errno::Success;
  nn::ExecutionContext* target = nullptr;
  std::thread other;
  GgmlBackendOptions o = cap.options();
  o.stdout_sink = [&](std::string_view) {
    std::unique_lock<std::mutex> lk(mu);
    if (other.joinable()) return;  // checked on the first piece only
    other = std::thread([&] {
      const Errno e = errno_of([&] { target->get_output(1); });
      std::lock_guard<std::mutex> lk2(mu);
      seen = e;
      checked = true;
      cv.notify_all();
    });
    cv.wait(lk, [&] { return checked; });
  };
  GgmlBackend be({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, gen_model_path().string()}}, o);
  auto g = be.load_by_name("default", R"({"temp":0,"n-predict":3,"stream-stdout":true})");
  auto c = g->init_execution_context();
  target = c.get();
  set_prompt(*c, kPrompt);
  c->compute();
  other.join();
  EXPECT_TRUE(checked);
  EXPECT_EQ(seen, Errno::Busy);
  EXPECT_EQ(meta(*c)["output_tokens"], 3) << "usable again once the call returned";
}

// ---- stop reasons as data ------------------------------------------------------------------

// A printable piece of the greedy output after its first two (a reverse prompt that stops it
// early; byte tokens alone are not valid UTF-8 and cannot go in JSON). "" if none.
std::string printable_piece_after_two(const Reference& full) {
  for (size_t i = 2; i < full.pieces.size(); ++i) {
    const std::string& p = full.pieces[i];
    if (!p.empty() && std::all_of(p.begin(), p.end(), [](char ch) { return ch >= 0x21 && ch < 0x7f; })) return p;
  }
  return "";
}

// Options under which the generated model ends by itself: near-uniform sampling (temp 100, no
// top-k / top-p / min-p cut) draws </s> (1 token in 512) within a few hundred tokens for most
// seeds; the first seed whose run stops before n-predict 400 in a 512 context (so neither
// n_predict nor context_full: end of generation is what is left). nullopt if none of 40 does.
std::optional<std::string> end_of_generation_options(nn::Graph& g) {
  for (int seed = 1; seed <= 40; ++seed) {
    const json j = {{"temp", 100.0}, {"top-k", 0},       {"top-p", 1.0},      {"min-p", 0.0},
                    {"seed", seed},  {"n-predict", 400}, {"ctx-size", 512}};
    auto c = g.init_execution_context();
    set_opts(*c, j.dump());
    set_prompt(*c, kPrompt);
    c->compute();
    if (meta(*c)["output_tokens"].get<int>() < 400) return j.dump();
  }
  return std::nullopt;
}

TEST_F(GgmlBackendTest, EachStopReasonIsDataInBothModesAndThroughTheStreamHelper) {
  auto g = load();
  const std::string rp = printable_piece_after_two(engine_greedy(*model, kPrompt, 128, 24));
  ASSERT_FALSE(rp.empty());
  const auto eog = end_of_generation_options(*g);
  ASSERT_TRUE(eog) << "no seed of 40 made the generated model end by itself";
  struct Case {
    std::string options;  // over greedy_ctx's
    nn::StopReason want;
    Errno compute_errno, stream_errno;
  };
  const Case cases[] = {
      {R"({"n-predict":5})", nn::StopReason::NPredict, Errno::Success, Errno::EndOfSequence},
      {json{{"reverse-prompt", rp}}.dump(), nn::StopReason::ReversePrompt, Errno::Success, Errno::EndOfSequence},
      {R"({"ctx-size":16,"n-predict":-1})", nn::StopReason::ContextFull, Errno::ContextFull, Errno::ContextFull},
      {*eog, nn::StopReason::EndOfGeneration, Errno::Success, Errno::EndOfSequence},
  };
  for (const Case& k : cases) {
    const std::string name(nn::stop_reason_name(k.want));
    SCOPED_TRACE(name);
    auto c = greedy_ctx(*g, k.options);
    EXPECT_FALSE(c->stop_reason()) << "nothing has run";
    // compute
    set_prompt(*c, kPrompt);
    EXPECT_EQ(errno_of([&] { c->compute(); }), k.compute_errno);
    EXPECT_EQ(c->stop_reason(), k.want);
    EXPECT_EQ(meta(*c).value("stop_reason", ""), name);
    const std::string computed = text(*c);
    const auto computed_tokens = meta(*c)["output_tokens"];
    // A new prompt forgets it.
    set_prompt(*c, kPrompt);
    EXPECT_FALSE(c->stop_reason());
    EXPECT_FALSE(meta(*c).contains("stop_reason"));
    // compute_single: unknown mid-stream, the same reason at its end, and still after.
    ASSERT_EQ(errno_of([&] { c->compute_single(); }), Errno::Success);
    EXPECT_FALSE(c->stop_reason()) << "mid-stream";
    set_prompt(*c, kPrompt);
    auto [all, end] = stream_all(*c);
    EXPECT_EQ(end, k.stream_errno);
    EXPECT_EQ(all, computed);
    EXPECT_EQ(c->stop_reason(), k.want);
    EXPECT_EQ(meta(*c).value("stop_reason", ""), name);
    EXPECT_EQ(errno_of([&] { c->compute_single(); }), k.stream_errno);
    EXPECT_EQ(c->stop_reason(), k.want);
    // The streaming helper the server and the client's fallback share.
    set_prompt(*c, kPrompt);
    std::string streamed;
    const nn::Outcome o = nn::stream_generation(*c, [&](std::string_view p) {
      streamed += p;
      return true;
    });
    EXPECT_EQ(o.stop, k.want);
    EXPECT_EQ(streamed, computed);
    EXPECT_EQ(o.output_tokens, computed_tokens);
    EXPECT_EQ(o.produced, o.output_tokens);
    EXPECT_EQ(o.input_tokens, model->vocab().tokenize(kPrompt, true, true).size());
    EXPECT_EQ(json::parse(o.metadata_json).value("stop_reason", ""), name);
    // fini_single forgets it.
    c->fini_single();
    EXPECT_FALSE(c->stop_reason());
  }
}

TEST_F(GgmlBackendTest, AbortCheckStopIsCancelled) {
  auto g = load();
  auto c = greedy_ctx(*g, R"({"n-predict":-1,"ctx-size":128})");
  // Polled before the prompt and before each token's forward pass: true on the 4th poll.
  int polls = 0;
  c->set_abort_check([&] { return ++polls >= 4; });
  set_prompt(*c, kPrompt);
  EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::RuntimeError);
  EXPECT_EQ(c->stop_reason(), nn::StopReason::Cancelled);
  EXPECT_EQ(meta(*c).value("stop_reason", ""), "cancelled");
  // Mid-prompt, in streaming mode.
  polls = 10;
  set_prompt(*c, kPrompt);
  EXPECT_EQ(errno_of([&] { c->compute_single(); }), Errno::RuntimeError);
  EXPECT_EQ(c->stop_reason(), nn::StopReason::Cancelled);
  // The helper: its own should_stop, or the abort check it shares, end the stream as
  // Cancelled without an exception; so does a consumer that stops reading.
  polls = 0;
  set_prompt(*c, kPrompt);
  std::string got;
  nn::Outcome o = nn::stream_generation(*c, [&](std::string_view p) {
    got += p;
    return true;
  }, [&] { return polls >= 4; });
  EXPECT_EQ(o.stop, nn::StopReason::Cancelled);
  EXPECT_EQ(o.produced, 3u);  // polls: the prompt, tokens 2 and 3; the 4th poll stops token 4
  EXPECT_TRUE(o.metadata_json.empty());
  c->set_abort_check({});
  set_prompt(*c, kPrompt);
  o = nn::stream_generation(*c, [&](std::string_view) { return false; });
  EXPECT_EQ(o.stop, nn::StopReason::Cancelled);
  EXPECT_EQ(o.produced, 1u);
  EXPECT_EQ(o.output_tokens, 1u);
}

// ---- the real model ----------------------------------------------------------------------

TEST(GgmlBackendStories, GreedyMatchesEngineAndLlamaCpp) {
  NNB_FIXTURE_OR_SKIP(path, "models/stories260K.gguf");
  NNB_FIXTURE_OR_SKIP(golden_path, "golden/stories260K.json");
  const json golden = test::load_json(golden_path);
  Capture cap;
  GgmlBackend be({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, path.string()}}, cap.options());
  auto g = be.load_by_name("default", R"({"temp":0,"ctx-size":256,"n-predict":32})");
  auto c = g->init_execution_context();
  set_prompt(*c, "Once upon a time");
  EXPECT_EQ(meta(*c)["input_tokens"], golden["prompt_token_ids"].size());
  c->compute();
  const std::string out = text(*c);
  EXPECT_EQ(out, golden["greedy_text"].get<std::string>());
  auto m = Model::load(path);
  EXPECT_EQ(out, engine_greedy(*m, "Once upon a time", 256, 32).text);
  set_prompt(*c, "Once upon a time");
  auto [all, end] = stream_all(*c);
  EXPECT_EQ(end, Errno::EndOfSequence);
  EXPECT_EQ(all, out);
}

TEST(GgmlBackendStories, SampledRunsAreReproducibleWithASeed) {
  NNB_FIXTURE_OR_SKIP(path, "models/stories260K.gguf");
  Capture cap;
  GgmlBackend be({{"default", nn::GraphEncoding::GGML, nn::ExecutionTarget::AUTO, path.string()}}, cap.options());
  auto g = be.load_by_name("default", R"({"temp":0.8,"seed":1234,"n-predict":40})");
  auto a = g->init_execution_context();
  auto b = g->init_execution_context();
  set_prompt(*a, "Once upon a time");
  set_prompt(*b, "Once upon a time");
  a->compute();
  b->compute();
  EXPECT_EQ(text(*a), text(*b));
  EXPECT_EQ(meta(*a)["output_tokens"], meta(*b)["output_tokens"]);
}

}  // namespace
}  // namespace nnb::ggml

namespace nnb::ggml {
namespace {

// cache-prompt: the next prompt that begins with the previous prompt and answer evaluates only
// its new tokens, and answers as a fresh context does.
TEST_F(GgmlBackendTest, CachePromptEvaluatesOnlyTheNewPartOfTheNextTurn) {
  auto g = load();
  auto cached = greedy_ctx(*g, R"({"cache-prompt": true, "n-predict": 8})");
  set_prompt(*cached, kPrompt);
  cached->compute();
  const std::string first = text(*cached);
  const json m1 = meta(*cached);
  EXPECT_EQ(m1["reused_tokens"], 0);

  const std::string turn2 = std::string(kPrompt) + first + " and then";
  set_prompt(*cached, turn2);
  cached->compute();
  const std::string second = text(*cached);
  const json m2 = meta(*cached);
  // Everything the cache held is a prefix of turn 2 except the last answer token, which was
  // sampled but never evaluated; so at least the first prompt is reused.
  const int first_prompt_tokens = m1["input_tokens"];
  EXPECT_GE(m2["reused_tokens"].get<int>(), first_prompt_tokens);
  EXPECT_LT(m2["reused_tokens"].get<int>(), m2["input_tokens"].get<int>());

  auto fresh = greedy_ctx(*g, R"({"n-predict": 8})");
  set_prompt(*fresh, turn2);
  fresh->compute();
  EXPECT_EQ(text(*fresh), second);
  EXPECT_FALSE(meta(*fresh).contains("reused_tokens"));

  // A prompt sharing nothing starts over; a repeated prompt re-evaluates its last token only.
  set_prompt(*cached, "Zebras");
  cached->compute();
  // Only BOS is shared (and the word-start piece, in this small vocabulary).
  EXPECT_GE(meta(*cached)["reused_tokens"].get<int>(), 1);
  EXPECT_LE(meta(*cached)["reused_tokens"].get<int>(), 2);
  set_prompt(*cached, "Zebras");
  cached->compute();
  EXPECT_EQ(meta(*cached)["reused_tokens"], meta(*cached)["input_tokens"].get<int>() - 1);
}

}  // namespace
}  // namespace nnb::ggml
