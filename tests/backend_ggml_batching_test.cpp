// Continuous batching (issue 11) on a generated model: concurrent greedy generations of
// different prompt lengths and lengths, joining mid-way and some cancelled mid-way, each give
// the tokens the same request gives alone on an unbatched context — on the engine's Batcher
// directly (token ids) and through the GGML backend with batching on (pieces, errno, stop
// reasons). Admission answers Busy naming the limit only when the generating contexts leave no
// room (idle ones are reclaimed, least recently used first) and frees what it reserved;
// cache-prompt still reuses a slot's cells, and starts afresh once they were reclaimed.
#include <atomic>
#include <chrono>
#include <thread>

#include "backends/ggml/ggml_backend.h"
#include "engine/model/model_gen.h"
#include "engine/runtime/batcher.h"
#include "engine/runtime/generation.h"
#include "ggml_backend_util.h"
#include "test_util.h"

namespace nnb::ggml {
namespace {

using nlohmann::json;
using nn::Errno;
using namespace nnb::test;
using namespace std::chrono_literals;

const std::filesystem::path& model_path() {
  static const std::filesystem::path p = test::generated_model("backend_ggml_batching", 11);
  return p;
}

// ---- the engine's Batcher ------------------------------------------------------------------

struct Request {
  std::vector<Token> prompt;
  int n_predict;
  std::chrono::milliseconds start_after;  // joins the others mid-way
  int cancel_after = -1;                  // abort check fires after this many tokens
};

std::vector<Request> requests(const Model& m) {
  // Prompt lengths below, at and above the 16-token prompt chunk used here (several steps).
  const int lengths[8] = {3, 40, 7, 16, 90, 1, 25, 60};
  const int n_predict[8] = {30, 12, 45, 20, 8, 50, 33, 25};
  const int delay_ms[8] = {0, 0, 5, 20, 0, 40, 10, 60};
  std::vector<Request> r(8);
  for (int k = 0; k < 8; ++k) {
    for (int i = 0; i < lengths[k]; ++i)
      r[size_t(k)].prompt.push_back(Token(3 + (i * 31 + k * 97) % (m.hparams().n_vocab - 3)));
    r[size_t(k)].n_predict = n_predict[k];
    r[size_t(k)].start_after = std::chrono::milliseconds(delay_ms[k]);
  }
  r[2].cancel_after = 10;  // mid-generation
  r[5].cancel_after = 4;
  return r;
}

std::vector<Token> generate(Sequence& seq, const Request& r, bool* cancelled = nullptr) {
  SamplerParams sp;
  sp.temp = 0;
  Sampler sampler(sp, seq.model().hparams().n_vocab);
  GenerationParams gp;
  gp.n_predict = r.n_predict;
  Generation gen(seq, sampler, gp);
  std::atomic<size_t> produced{0};
  if (r.cancel_after >= 0) seq.set_abort_check([&] { return produced.load() >= size_t(r.cancel_after); });
  try {
    gen.start(r.prompt);
    while (gen.next()) produced = gen.tokens().size();
  } catch (const CancelledError&) {
    if (cancelled) *cancelled = true;
  }
  seq.set_abort_check({});
  return gen.tokens();
}

// A batcher of `slots` slots sharing n_ctx KV cells, computing on `threads` threads.
BatcherParams batcher_params(int32_t n_ctx, int32_t threads, int32_t slots) {
  BatcherParams bp;
  bp.context.n_ctx = n_ctx;
  bp.context.n_threads = threads;
  bp.max_slots = slots;
  return bp;
}

std::vector<Token> alone(const Model& m, const Request& r) {
  ContextParams cp;
  cp.n_ctx = 256;
  cp.n_threads = 1;
  Context ctx(m, cp);
  Request plain = r;
  plain.cancel_after = -1;
  return generate(ctx, plain);
}

TEST(Batcher, ConcurrentGenerationsMatchAlone) {
  auto model = Model::load(model_path());
  const auto reqs = requests(*model);
  auto batcher = Batcher::make(*model, batcher_params(8 * 256, 2, 8));

  std::vector<std::vector<Token>> got(reqs.size());
  std::vector<int> cancelled(reqs.size(), 0);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < reqs.size(); ++k)
    threads.emplace_back([&, k] {
      std::this_thread::sleep_for(reqs[k].start_after);
      auto slot = batcher->open(256);
      bool c = false;
      got[k] = generate(*slot, reqs[k], &c);
      cancelled[k] = c;
    });
  for (auto& t : threads) t.join();

  size_t survivors = 0;
  for (size_t k = 0; k < reqs.size(); ++k) {
    const auto want = alone(*model, reqs[k]);
    if (reqs[k].cancel_after < 0) survivors += want.size();
    if (reqs[k].cancel_after >= 0) {
      EXPECT_TRUE(cancelled[k]) << "request " << k;
      ASSERT_LE(got[k].size(), want.size());
      EXPECT_EQ(got[k], std::vector<Token>(want.begin(), want.begin() + ptrdiff_t(got[k].size()))) << "request " << k;
      EXPECT_GE(got[k].size(), size_t(reqs[k].cancel_after));
    } else {
      EXPECT_FALSE(cancelled[k]);
      EXPECT_EQ(got[k], want) << "request " << k << " (prompt " << reqs[k].prompt.size() << " tokens)";
    }
  }
  EXPECT_GT(survivors, 100u);  // the model generates, rather than stopping at once
  // Tokens of different clients shared forward passes.
  std::printf("steps %lld, tokens %lld (%.2f per step)\n", (long long)batcher->n_steps(),
              (long long)batcher->n_step_tokens(), double(batcher->n_step_tokens()) / double(batcher->n_steps()));
  EXPECT_LT(batcher->n_steps(), batcher->n_step_tokens());
  // Every slot is closed: its cells and its admission are back.
  EXPECT_EQ(batcher->n_slots_open(), 0);
  EXPECT_EQ(batcher->n_cells_reserved(), 0);
  EXPECT_EQ(batcher->n_blocks_used(), 0);
}

// A slot alone reads its prompt in one step (a whole batch, less room for every slot's next
// token); while another slot is in use, in steps of prompt_chunk tokens (their tokens wait for
// each step), whether or not that slot is submitting right now.
TEST(Batcher, PromptChunksAreSmallOnlyWhileAnotherSlotIsInUse) {
  auto model = Model::load(model_path());
  BatcherParams bp = batcher_params(4 * 256, 1, 4);
  bp.context.n_batch = 128;
  bp.prompt_chunk = 16;  // the chunk this test measures (also the default)
  auto batcher = Batcher::make(*model, bp);
  auto a = batcher->open(256);
  auto steps_for = [&](BatchSlot& s, int n) {
    const int64_t before = batcher->n_steps();
    s.decode(std::vector<Token>(size_t(n), 9));
    return batcher->n_steps() - before;
  };
  EXPECT_EQ(steps_for(*a, 100), 1);  // alone: up to 128 - 4 tokens a step
  EXPECT_EQ(steps_for(*a, 130), 2);  // 124 + 6
  auto b = batcher->open(64);        // in use from here on
  EXPECT_EQ(steps_for(*a, 20), 2);   // 16 + 4
  b->idle();                         // its generation ended: a is alone again
  EXPECT_EQ(steps_for(*a, 5), 1);
  EXPECT_EQ(a->n_past(), 255);
}

// A slot allowed to (its context's cache-prompt) takes the beginning its prompt shares with
// another admitted slot's cache — here an idle one's, whose client is done for now — instead of
// evaluating it: only the rest goes through a step, the blocks are shared (copy-on-write), and
// its greedy tokens are those of the same prompt alone, also after the donor has closed. A common
// beginning shorter than a block, or a slot not allowed to, shares nothing.
TEST(Batcher, SlotsShareAPromptBeginningWhenAllowed) {
  auto model = Model::load(model_path());
  auto batcher = Batcher::make(*model, batcher_params(4 * 128, 1, 4));
  const auto reqs = requests(*model);
  const std::vector<Token>& p = reqs[4].prompt;  // 90 tokens
  ASSERT_GE(p.size(), 40u);
  Request donor_req{std::vector<Token>(p.begin(), p.begin() + 40), 5, {}};
  Request q{std::vector<Token>(p.begin(), p.begin() + 37), 10, {}};
  for (int i = 0; i < 13; ++i) q.prompt.push_back(Token(5 + i * 7));

  auto a = batcher->open(128);
  a->set_prefix_sharing(true);
  generate(*a, donor_req);
  a->idle();
  const int32_t a_pos = a->n_past();
  EXPECT_EQ(batcher->n_blocks_used(), (a_pos + 15) / 16);

  auto b = batcher->open(128);
  b->set_prefix_sharing(true);
  SamplerParams sp;
  sp.temp = 0;
  Sampler sampler(sp, model->hparams().n_vocab);
  GenerationParams gp;
  gp.n_predict = q.n_predict;
  Generation gen(*b, sampler, gp);
  const int64_t tokens_before = batcher->n_step_tokens();
  gen.start(q.prompt);
  EXPECT_EQ(b->last_shared(), 37);
  EXPECT_EQ(batcher->n_step_tokens() - tokens_before, 13);  // only what follows the shared part
  EXPECT_EQ(b->n_past(), 50);
  // Two whole blocks shared; the third (positions 32-36 shared, then written by b) copied.
  EXPECT_EQ(batcher->n_blocks_used(), (a_pos + 15) / 16 + (50 + 15) / 16 - 2);
  a.reset();  // the donor goes; b's blocks stay referenced
  while (gen.next()) {
  }
  EXPECT_EQ(gen.tokens(), alone(*model, q));

  // Not allowed: the same prompt is evaluated whole.
  auto c = batcher->open(128);
  const int64_t before_c = batcher->n_step_tokens();
  c->decode(q.prompt);
  EXPECT_EQ(c->last_shared(), 0);
  EXPECT_EQ(batcher->n_step_tokens() - before_c, 50);
  // Allowed, but only 10 tokens in common with b's cache: less than a block, nothing shared.
  auto d = batcher->open(128);
  d->set_prefix_sharing(true);
  std::vector<Token> r(q.prompt.begin(), q.prompt.begin() + 10);
  r.push_back(Token(4));
  r.push_back(Token(6));
  d->decode(r);
  EXPECT_EQ(d->last_shared(), 0);
  // A slot with positions of its own takes a longer common beginning too (its own 12 tokens,
  // then 28 more of c's 50 ahead of 5 new ones), and the result is the same as evaluating all.
  auto e = batcher->open(128);
  e->set_prefix_sharing(true);
  e->decode(std::vector<Token>(q.prompt.begin(), q.prompt.begin() + 12));
  EXPECT_EQ(e->last_shared(), 0);  // 12 tokens: too few to look
  std::vector<Token> more(q.prompt.begin() + 12, q.prompt.begin() + 40);
  for (int i = 0; i < 5; ++i) more.push_back(Token(40 + i));
  e->decode(more);
  EXPECT_EQ(e->last_shared(), 28);
  EXPECT_EQ(e->n_past(), 45);
  std::vector<Token> all(q.prompt.begin(), q.prompt.begin() + 40);
  all.insert(all.end(), more.end() - 5, more.end());
  ContextParams cp;
  cp.n_ctx = 128;
  cp.n_threads = 1;
  Context ref(*model, cp);
  ref.decode(all);
  const int V = model->hparams().n_vocab;
  double worst = 0;
  for (int i = 0; i < V; ++i) worst = std::max(worst, double(std::abs(e->logits()[i] - ref.logits()[i])));
  std::printf("shared then evaluated vs all evaluated: max |d logit| %.3g\n", worst);
  EXPECT_LT(worst, 2e-4) << "shared then evaluated, against all evaluated (measured 9.5e-7)";
  b.reset();
  c.reset();
  d.reset();
  e.reset();
  EXPECT_EQ(batcher->n_blocks_used(), 0);
}

TEST(Batcher, AdmissionAndLimits) {
  auto model = Model::load(model_path());
  auto batcher = Batcher::make(*model, batcher_params(512, 1, 3));
  auto a = batcher->open(256);
  auto b = batcher->open(200);  // 13 blocks: 208 cells
  EXPECT_EQ(batcher->n_cells_reserved(), 256 + 208);
  try {
    batcher->open(64);
    FAIL() << "opened past the KV budget";
  } catch (const BatcherBusyError& e) {
    EXPECT_NE(std::string(e.what()).find("464 of 512 cells"), std::string::npos) << e.what();
  }
  auto c = batcher->open(48);
  try {
    batcher->open(16);
    FAIL() << "opened past max_slots";
  } catch (const BatcherBusyError& e) {
    EXPECT_NE(std::string(e.what()).find("all 3 batch slots are generating"), std::string::npos) << e.what();
  }
  EXPECT_THROW(batcher->open(1024), std::invalid_argument);  // never fits
  // A slot's own limit, not the budget's, ends its context; its cells hold what it decoded.
  std::vector<Token> toks(40, 5);
  c->decode(toks);
  EXPECT_EQ(c->n_past(), 40);
  EXPECT_THROW(c->decode(std::vector<Token>(9, 5)), ContextFullError);
  EXPECT_THROW(c->decode(std::vector<Token>{Token(model->hparams().n_vocab)}), std::invalid_argument);
  EXPECT_EQ(c->n_past(), 40);
  c->truncate(10);
  EXPECT_EQ(c->n_past(), 10);
  EXPECT_EQ(batcher->n_blocks_used(), 1);
  c.reset();
  EXPECT_EQ(batcher->n_blocks_used(), 0);
  b.reset();
  auto d = batcher->open(256);  // the freed cells admit another
  EXPECT_EQ(batcher->n_slots_open(), 2);

  // An idle slot keeps its cache until another slot needs the room; then it is reclaimed.
  a->decode(std::vector<Token>(20, 7));
  a->idle();
  EXPECT_TRUE(a->acquire());  // nothing needed the room: the cache is kept
  EXPECT_EQ(a->n_past(), 20);
  a->idle();
  auto e = batcher->open(100);  // a and d fill the budget: idle a is reclaimed
  EXPECT_EQ(batcher->n_cells_reserved(), 256 + 112);
  e->idle();
  // a's continuation has no cache any more: refused (a is admitted again, e reclaimed).
  EXPECT_THROW(a->decode(std::vector<Token>{7}), std::runtime_error);
  EXPECT_EQ(a->n_past(), 0);
  a->decode(std::vector<Token>(5, 7));  // a new sequence on it is fine
  EXPECT_EQ(a->n_past(), 5);
  EXPECT_THROW(e->acquire(), BatcherBusyError);  // a and d in use: no room for e
  a.reset();
  EXPECT_FALSE(e->acquire());  // admitted again, empty
}

// ---- the GGML backend with batching on ----------------------------------------------------

std::unique_ptr<GgmlBackend> backend(int32_t parallel, int32_t kv_cells = 0, bool overflow_alone = false) {
  GgmlBackendOptions o;
  o.batch_overflow_alone = overflow_alone;
  o.default_threads = 1;
  o.batch_parallel = parallel;
  o.batch_kv_cells = kv_cells;
  o.batch_prompt_chunk = 16;
  o.logger = [](LogLevel, std::string_view) {};
  o.stdout_sink = [](std::string_view) {};
  nn::PreloadSpec p;
  p.name = "default";
  p.encoding = nn::GraphEncoding::GGML;
  p.path = model_path().string();
  return std::make_unique<GgmlBackend>(std::vector<nn::PreloadSpec>{p}, o);
}

struct StreamRun {
  std::vector<std::string> pieces;
  Errno end = Errno::Success;
  std::optional<nn::StopReason> stop;
};

// A stream of compute_single calls (or one compute when whole), as an app runs it.
StreamRun stream(nn::Graph& g, const std::string& prompt, int n_predict, bool whole, int cancel_after = -1) {
  auto c = g.init_execution_context();
  c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", n_predict}, {"ctx-size", 256}}.dump()));
  c->set_input(0, tensor(prompt));
  std::atomic<int> produced{0};
  if (cancel_after >= 0) c->set_abort_check([&] { return produced.load() >= cancel_after; });
  StreamRun r;
  if (whole) {
    r.end = errno_of([&] { c->compute(); });
    r.pieces.push_back(str(c->get_output(0)));
  } else {
    while ((r.end = errno_of([&] { c->compute_single(); })) == Errno::Success) {
      r.pieces.push_back(str(c->get_output_single(0)));
      produced = int(r.pieces.size());
    }
  }
  r.stop = c->stop_reason();
  return r;
}

TEST(BackendBatching, ConcurrentStreamsMatchUnbatched) {
  auto plain = backend(0);
  auto batched = backend(8);
  auto gp = plain->load_by_name("default", "");
  auto gb = batched->load_by_name("default", "");
  struct Req {
    std::string prompt;
    int n_predict;
    bool whole;
    int delay_ms, cancel_after;
  };
  std::string long_prompt;
  for (int i = 0; i < 12; ++i) long_prompt += "Once upon a time there was a little model. ";
  const std::vector<Req> reqs = {
      {"Once upon a time", 30, false, 0, -1},  {long_prompt, 20, false, 0, -1}, {"Hello", 40, false, 15, 8},
      {"The cat sat", 25, true, 5, -1},       {long_prompt + "And", 10, false, 30, -1},
      {"A", 50, false, 10, 3},                {"In a land far away", 35, true, 45, -1}, {"Why", 15, false, 60, -1},
  };
  std::vector<StreamRun> got(reqs.size());
  std::vector<std::thread> threads;
  for (size_t k = 0; k < reqs.size(); ++k)
    threads.emplace_back([&, k] {
      std::this_thread::sleep_for(std::chrono::milliseconds(reqs[k].delay_ms));
      got[k] = stream(*gb, reqs[k].prompt, reqs[k].n_predict, reqs[k].whole, reqs[k].cancel_after);
    });
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < reqs.size(); ++k) {
    const StreamRun want = stream(*gp, reqs[k].prompt, reqs[k].n_predict, reqs[k].whole);
    if (reqs[k].cancel_after >= 0) {
      EXPECT_EQ(got[k].end, Errno::RuntimeError) << k;
      EXPECT_EQ(got[k].stop, nn::StopReason::Cancelled) << k;
      ASSERT_LE(got[k].pieces.size(), want.pieces.size());
      EXPECT_EQ(got[k].pieces, std::vector<std::string>(want.pieces.begin(),
                                                        want.pieces.begin() + ptrdiff_t(got[k].pieces.size())));
    } else {
      EXPECT_EQ(got[k].end, want.end) << k;
      EXPECT_EQ(got[k].stop, want.stop) << k;
      EXPECT_EQ(got[k].pieces, want.pieces) << "request " << k;
    }
  }
}

TEST(BackendBatching, BusyOnlyWhenGeneratingContextsLeaveNoRoom) {
  auto b = backend(2, 1024);
  auto g = b->load_by_name("default", "");
  auto open = [&](int ctx_size) {
    auto c = g->init_execution_context();
    c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 40}, {"ctx-size", ctx_size}}.dump()));
    c->set_input(0, tensor("Hello"));
    return c;
  };
  auto busy_message = [](nn::ExecutionContext& c, auto&& call) {
    try {
      call(c);
    } catch (const nn::Error& e) {
      EXPECT_EQ(e.code(), Errno::Busy) << e.what();
      return std::string(e.what());
    }
    ADD_FAILURE() << "not refused";
    return std::string();
  };
  auto c1 = open(512);
  c1->compute_single();  // mid-stream: generating
  auto c2 = open(256);
  c2->compute_single();
  auto c3 = open(256);  // the budget has room, the slots do not
  EXPECT_NE(busy_message(*c3, [](auto& c) { c.compute(); }).find("all 2 batch slots are generating"),
            std::string::npos);
  while (errno_of([&] { c2->compute_single(); }) == Errno::Success) {
  }
  EXPECT_EQ(errno_of([&] { c3->compute(); }), Errno::Success);  // c2's stream ended: its slot is reclaimed
  auto c4 = open(768);  // c3 (idle) is reclaimed, but generating c1 holds 512 of 1024 cells
  EXPECT_NE(busy_message(*c4, [](auto& c) { c.compute(); }).find("512 of 1024 cells are reserved by generating"),
            std::string::npos);
  auto c5 = open(4096);
  EXPECT_EQ(errno_of([&] { c5->compute(); }), Errno::InvalidArgument);  // never fits
  c1->fini_single();
  c4->set_input(0, tensor("Hello"));
  EXPECT_EQ(errno_of([&] { c4->compute(); }), Errno::Success);
  c2->set_input(0, tensor("Hello"));
  EXPECT_EQ(errno_of([&] { c2->compute(); }), Errno::Success);  // 768 + 256 cells: the whole budget
  c4.reset();  // a dropped context frees its slot
  c1->set_input(0, tensor("Hello"));
  EXPECT_EQ(errno_of([&] { c1->compute(); }), Errno::Success);
}

TEST(BackendBatching, OverflowComputesAloneWhenAsked) {
  auto plain = backend(0);
  auto b = backend(1, 1024, /*overflow_alone=*/true);
  auto g = b->load_by_name("default", "");
  auto open = [&](nn::Graph& gr, int ctx_size) {
    auto c = gr.init_execution_context();
    c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 20}, {"ctx-size", ctx_size}}.dump()));
    c->set_input(0, tensor("Hello there"));
    return c;
  };
  auto c1 = open(*g, 256);
  c1->compute_single();  // holds the only slot
  auto want = open(*plain->load_by_name("default", ""), 256);
  want->compute();
  for (int ctx_size : {256, 4096}) {  // no slot free; larger than the budget
    auto c = open(*g, ctx_size);
    EXPECT_EQ(errno_of([&] { c->compute(); }), Errno::Success) << ctx_size;
    EXPECT_EQ(str(c->get_output(0)), str(want->get_output(0)));
  }
}

// With cache-prompt, a context's first prompt takes the beginning it shares with another
// context's batch slot (the same system prompt) rather than evaluating it, and answers as the
// same prompt does alone; without cache-prompt nothing is shared.
TEST(BackendBatching, CachePromptSharesAnotherContextsPromptBeginning) {
  auto plain = backend(0);
  auto batched = backend(4);
  const std::string system = "You are a small model. You answer in short sentences and you count well. ";
  const std::string q1 = system + "How many legs has a cat?", q2 = system + "Name a colour.";
  auto answer = [](GgmlBackend& be, const std::string& prompt, bool cache_prompt) {
    auto g = be.load_by_name("default", "");
    auto c = g->init_execution_context();
    c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 10}, {"ctx-size", 256}, {"cache-prompt", cache_prompt}}.dump()));
    c->set_input(0, tensor(prompt));
    c->compute();
    return std::pair(str(c->get_output(0)), json::parse(str(c->get_output(1))).value("reused_tokens", -1));
  };
  auto g = batched->load_by_name("default", "");
  auto first = g->init_execution_context();  // stays open: its slot keeps the system prompt
  first->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 10}, {"ctx-size", 256}, {"cache-prompt", true}}.dump()));
  first->set_input(0, tensor(q1));
  first->compute();
  EXPECT_EQ(str(first->get_output(0)), answer(*plain, q1, true).first);

  const auto [text, reused] = answer(*batched, q2, true);
  EXPECT_EQ(text, answer(*plain, q2, true).first);
  EXPECT_GE(reused, 16);  // at least a block of the system prompt
  EXPECT_EQ(answer(*batched, q2, false).second, -1);  // no cache-prompt: no reuse reported
}

TEST(BackendBatching, CachePromptReusesTheSlot) {
  auto plain = backend(0);
  auto batched = backend(4);
  const std::string first = "Once upon a time there was a little model that";
  const std::string second = first + " liked to count";
  auto run = [&](GgmlBackend& be) {
    auto g = be.load_by_name("default", "");
    auto c = g->init_execution_context();
    c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 12}, {"ctx-size", 256}, {"cache-prompt", true}}.dump()));
    c->set_input(0, tensor(first));
    c->compute();
    const std::string t1 = str(c->get_output(0));
    c->set_input(0, tensor(second));
    c->compute();
    const json meta = json::parse(str(c->get_output(1)));
    return std::tuple(t1, str(c->get_output(0)), meta.value("reused_tokens", -1));
  };
  const auto [p1, p2, p_reused] = run(*plain);
  const auto [b1, b2, b_reused] = run(*batched);
  EXPECT_EQ(b1, p1);
  EXPECT_EQ(b2, p2);
  EXPECT_GT(b_reused, 5);
  EXPECT_EQ(b_reused, p_reused);

  // A slot reclaimed while idle: the next run evaluates its whole prompt, with the same answer.
  auto two = backend(2);
  auto g = two->load_by_name("default", "");
  auto ctx = [&](const std::string& prompt) {
    auto c = g->init_execution_context();
    c->set_input(1, tensor(json{{"temp", 0}, {"n-predict", 12}, {"ctx-size", 256}, {"cache-prompt", true}}.dump()));
    c->set_input(0, tensor(prompt));
    c->compute();
    return c;
  };
  auto a = ctx(first);
  auto b = ctx("Something else");
  auto c = ctx("And a third");  // reclaims a's slot (least recently used)
  a->set_input(0, tensor(second));
  a->compute();
  EXPECT_EQ(str(a->get_output(0)), p2);
  EXPECT_EQ(json::parse(str(a->get_output(1))).value("reused_tokens", -1), 0);
}

}  // namespace
}  // namespace nnb::ggml
