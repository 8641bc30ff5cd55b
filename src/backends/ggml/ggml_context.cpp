#include "backends/ggml/ggml_context.h"

#include <algorithm>
#include <cstdio>
#include <new>
#include <nlohmann/json.hpp>

#include "backends/ggml/ggml_batching.h"
#include "engine/runtime/grammar_vocab.h"

namespace nnb::ggml {
namespace {

using nn::Errno;
using nn::Error;

// Runs f, turning the engine's exceptions into the errno a WASI-NN caller must see.
template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const Error&) {
    throw;
  } catch (const PromptTooLongError& e) {
    throw Error(Errno::PromptTooLong, e.what());
  } catch (const ContextFullError& e) {
    throw Error(Errno::ContextFull, e.what());
  } catch (const CancelledError& e) {
    throw Error(Errno::RuntimeError, e.what());
  } catch (const std::bad_alloc&) {
    throw Error(Errno::RuntimeError, "out of memory");
  } catch (const std::exception& e) {
    throw Error(Errno::RuntimeError, e.what());
  }
}

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::optional<nn::StopReason> to_nn(StopReason r) {
  switch (r) {
    case StopReason::None: return std::nullopt;
    case StopReason::EndOfGeneration: return nn::StopReason::EndOfGeneration;
    case StopReason::NPredict: return nn::StopReason::NPredict;
    case StopReason::ReversePrompt: return nn::StopReason::ReversePrompt;
    case StopReason::ContextFull: return nn::StopReason::ContextFull;
  }
  return std::nullopt;
}

}  // namespace

GgmlExecutionContext::GgmlExecutionContext(std::shared_ptr<const Model> model, GgmlOptions defaults,
                                           std::shared_ptr<const GgmlBackendOptions> runtime)
    : model_(std::move(model)), rt_(std::move(runtime)), opts_(std::move(defaults)) {}

// The Generation refers to the Context or slot and the Sampler: destroy it first.
GgmlExecutionContext::~GgmlExecutionContext() { gen_.reset(); }

std::unique_lock<std::mutex> GgmlExecutionContext::enter() {
  std::unique_lock<std::mutex> lk(mu_, std::try_to_lock);
  if (!lk.owns_lock())
    throw Error(Errno::Busy, "execution context is busy: another call on it is still running");
  return lk;
}

void GgmlExecutionContext::log(LogLevel level, const std::string& line) const {
  const bool on = level == LogLevel::Note ||
                  (level == LogLevel::Info && (opts_.enable_log || opts_.enable_debug_log)) ||
                  (level == LogLevel::Debug && opts_.enable_debug_log);
  if (on) rt_->logger(level, line);
}

void GgmlExecutionContext::set_input(uint32_t index, const nn::TensorView& tensor) {
  auto lk = enter();
  const std::string_view data(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
  guarded([&] {
    if (index == 1) {
      for (const auto& note : apply_options_json(opts_, data)) log(LogLevel::Note, note);
      log(LogLevel::Debug, "options: " + options_to_json(opts_));
      return;
    }
    // dims and type are ignored: apps send dims=[1] for any length (COMPAT §1).
    refuse_oversized_prompt(data.size());
    auto tokens = model_->vocab().tokenize(data, /*add_special=*/true, /*parse_special=*/true);
    end_generation();  // a new prompt starts a new run: the previous text and stream are gone
    prompt_ = std::move(tokens);
    prompt_pending_ = true;
    log(LogLevel::Debug, "prompt: " + std::to_string(data.size()) + " bytes, " + std::to_string(prompt_.size()) +
                             " tokens");
  });
}

// A token stands for at most as many input bytes as its longest vocabulary text (SentencePiece
// and byte-level BPE store each piece at least as long as the bytes it matches), so a prompt
// of n_ctx * that many bytes or more is certain not to fit: refuse it before tokenizing, which
// would otherwise cost time and memory in proportion to whatever a client sends.
void GgmlExecutionContext::refuse_oversized_prompt(size_t bytes) {
  if (max_token_bytes_ == 0) {
    const Vocab& v = model_->vocab();
    for (Token t = 0; t < v.n_tokens(); ++t) max_token_bytes_ = std::max(max_token_bytes_, v.token_text(t).size());
    max_token_bytes_ = std::max<size_t>(max_token_bytes_, 1);
  }
  // The larger of the context asked for now and the model's own, so that options sent after
  // the prompt (a larger ctx-size) never make a prompt refused here fit later.
  const int64_t n_train = model_->hparams().n_ctx_train;
  const int64_t n_ctx = std::max<int64_t>({opts_.ctx_size, n_train, 512});
  const uint64_t limit = uint64_t(n_ctx) * max_token_bytes_;
  if (bytes >= limit)
    throw Error(Errno::PromptTooLong, "prompt of " + std::to_string(bytes) + " bytes cannot fit in a context of " +
                                          std::to_string(n_ctx) + " tokens (at most " + std::to_string(limit) +
                                          " bytes are accepted for this model and ctx-size)");
}

ContextParams GgmlExecutionContext::wanted_params() const {
  ContextParams want;
  // ctx-size 0 means the model's training context (llama.cpp), 512 if the model names none.
  const int32_t n_train = model_->hparams().n_ctx_train;
  want.n_ctx = opts_.ctx_size > 0 ? int32_t(opts_.ctx_size) : (n_train > 0 ? n_train : 512);
  const int64_t ubatch = opts_.ubatch_size > 0 ? opts_.ubatch_size : opts_.batch_size;
  want.n_batch = int32_t(std::min({opts_.batch_size, ubatch, int64_t(want.n_ctx)}));
  want.n_threads = opts_.threads > 0 ? int32_t(opts_.threads) : rt_->default_threads;
  want.device = opts_.device;
  want.n_gpu_layers = opts_.n_gpu_layers > 0 ? int32_t(std::min<int64_t>(opts_.n_gpu_layers, INT32_MAX)) : rt_->n_gpu_layers;
  want.kv_type = rt_->kv_type;
  return want;
}

void GgmlExecutionContext::ensure_engine_context() {
  const ContextParams want = wanted_params();
  const int32_t n_train = model_->hparams().n_ctx_train;
  if (ctx_ && want.n_ctx == ctx_params_.n_ctx && want.n_batch == ctx_params_.n_batch &&
      want.n_threads == ctx_params_.n_threads && want.n_gpu_layers == ctx_params_.n_gpu_layers) {
    ctx_->set_abort_check(abort_check_);
    return;  // keep the KV cache allocation
  }
  if (seq_ == ctx_.get()) {  // the last generation ran on the context about to go
    gen_.reset();
    kv_tokens_.clear();
    seq_ = nullptr;
  }
  ctx_.reset();  // free the old cache before allocating the new one
  if (n_train > 0 && want.n_ctx > n_train)
    log(LogLevel::Info, "ctx-size " + std::to_string(want.n_ctx) + " exceeds the model's training context " +
                            std::to_string(n_train) + ": quality may degrade");
  try {
    ctx_ = std::make_unique<Context>(*model_, want);
  } catch (const std::bad_alloc&) {
    throw Error(Errno::RuntimeError, "out of memory allocating a context of " + std::to_string(want.n_ctx) + " tokens");
  }
  ctx_params_ = want;
  ctx_->set_abort_check(abort_check_);
  if (opts_.n_gpu_layers > 0 && ctx_->device().is_cpu())
    log(LogLevel::Note, "n-gpu-layers=" + std::to_string(opts_.n_gpu_layers) + ": this host computes on the CPU");
  log(LogLevel::Debug, "engine context: n_ctx " + std::to_string(ctx_->n_ctx()) + ", " +
                           kv_type_name(want.kv_type) + " KV cache, threads " + std::to_string(ctx_->n_threads()) +
                           ", device " + ctx_->device().describe() +
                           (ctx_->n_device_layers() < model_->hparams().n_layer
                                ? " for " + std::to_string(ctx_->n_device_layers()) + " layers, the rest on the CPU"
                                : ""));
}

void GgmlExecutionContext::ensure_slot() {
  const ContextParams want = wanted_params();
  if (slot_ && want.n_ctx == slot_params_.n_ctx && want.n_threads == slot_params_.n_threads &&
      want.device == slot_params_.device && want.n_gpu_layers == slot_params_.n_gpu_layers) {
    // Keep the slot: its cells hold the last run (cache-prompt), unless they were reclaimed for
    // another context while this one was idle.
    bool kept = false;
    try {
      kept = slot_->acquire();
    } catch (const BatcherBusyError& e) {
      throw Error(Errno::Busy, e.what());
    }
    if (!kept) {
      kv_tokens_.clear();
      log(LogLevel::Debug, "batch slot: reclaimed while idle, its cache is gone");
    }
    slot_->set_abort_check(abort_check_);
    return;
  }
  if (seq_ == slot_.get()) {
    gen_.reset();
    kv_tokens_.clear();
    seq_ = nullptr;
  }
  slot_.reset();  // give its cells back before asking for new ones
  const int32_t n_train = model_->hparams().n_ctx_train;
  if (n_train > 0 && want.n_ctx > n_train)
    log(LogLevel::Info, "ctx-size " + std::to_string(want.n_ctx) + " exceeds the model's training context " +
                            std::to_string(n_train) + ": quality may degrade");
  std::shared_ptr<Batcher> batcher;
  try {
    batcher = rt_->batchers->get(model_, *rt_, want);
    slot_ = batcher->open(want.n_ctx);
  } catch (const BatcherBusyError& e) {
    throw Error(Errno::Busy, e.what());
  } catch (const std::invalid_argument& e) {
    throw Error(Errno::InvalidArgument, e.what());
  } catch (const std::bad_alloc&) {
    throw Error(Errno::RuntimeError, "out of memory allocating the batched context");
  }
  slot_params_ = want;
  slot_->set_abort_check(abort_check_);
  log(LogLevel::Debug, "batch slot " + std::to_string(slot_->seq()) + ": n_ctx " + std::to_string(want.n_ctx) +
                           ", " + std::to_string(batcher->n_slots_open()) + " of " +
                           std::to_string(batcher->params().max_slots) + " slots and " +
                           std::to_string(batcher->n_cells_reserved()) + " of " + std::to_string(batcher->n_cells()) +
                           " cells in use, threads " + std::to_string(batcher->n_threads()) + ", device " +
                           batcher->describe_device());
}

Sequence& GgmlExecutionContext::ensure_sequence() {
  Sequence* const before = seq_;
  bool batched = rt_->batch_parallel > 0 && rt_->batchers;
  if (batched) {
    try {
      ensure_slot();
    } catch (const Error& e) {
      if (!rt_->batch_overflow_alone || (e.code() != Errno::Busy && e.code() != Errno::InvalidArgument)) throw;
      log(LogLevel::Debug, std::string("no batch slot (") + e.what() + "): computing alone");
      batched = false;
    }
  }
  if (batched) {
    seq_ = slot_.get();
  } else {
    ensure_engine_context();
    seq_ = ctx_.get();
  }
  if (seq_ != before) kv_tokens_.clear();  // they described the other sequence
  return *seq_;
}

void GgmlExecutionContext::pause_slot() {
  if (slot_ && seq_ == slot_.get()) slot_->idle();
}

void GgmlExecutionContext::start_generation() {
  if (!prompt_pending_)
    throw Error(Errno::InvalidArgument,
                "no new prompt: each compute consumes its input, call set_input with a prompt first");
  if (opts_.embedding)
    throw Error(Errno::UnsupportedOperation,
                "embedding mode has no stream: use compute, whose output 0 is the embedding");
  end_generation();
  Sequence& seq = ensure_sequence();
  try {
    start_on(seq);
  } catch (...) {
    pause_slot();  // a run that did not start must not hold its slot
    throw;
  }
}

void GgmlExecutionContext::start_on(Sequence& seq) {
  if (prompt_.empty()) throw Error(Errno::InvalidArgument, "empty prompt: nothing to generate from");
  if (int64_t(prompt_.size()) >= seq.n_ctx())
    throw Error(Errno::PromptTooLong, "prompt of " + std::to_string(prompt_.size()) +
                                          " tokens does not fit in the context (ctx-size " +
                                          std::to_string(seq.n_ctx()) + ")");
  SamplerParams sp;
  sp.temp = float(opts_.temp);
  sp.top_k = int32_t(std::clamp<int64_t>(opts_.top_k, INT32_MIN, INT32_MAX));
  sp.top_p = float(opts_.top_p);
  sp.min_p = float(opts_.min_p);
  sp.repeat_penalty = float(opts_.repeat_penalty);
  sp.presence_penalty = float(opts_.presence_penalty);
  sp.frequency_penalty = float(opts_.frequency_penalty);
  sp.seed = opts_.seed < 0 ? Sampler::kRandomSeed : uint64_t(opts_.seed);
  sampler_ = std::make_unique<Sampler>(sp, model_->hparams().n_vocab);
  if (opts_.constraint) {
    // The vocabulary's index is built once and kept with the context for its next runs.
    if (!grammar_index_) grammar_index_ = grammar_token_index(model_->vocab());
    sampler_->set_grammar(std::make_unique<grammar::TokenFilter>(opts_.constraint, grammar_index_));
  }
  GenerationParams gp;
  gp.n_predict = int32_t(std::clamp<int64_t>(opts_.n_predict, -1, INT32_MAX));
  if (!opts_.reverse_prompt.empty()) gp.reverse_prompts.push_back(opts_.reverse_prompt);
  auto gen = std::make_unique<Generation>(seq, *sampler_, std::move(gp));
  int32_t reuse = 0;
  if (opts_.cache_prompt) {
    const size_t n = std::min(kv_tokens_.size(), prompt_.size());
    while (size_t(reuse) < n && kv_tokens_[size_t(reuse)] == prompt_[size_t(reuse)]) ++reuse;
  }
  kv_tokens_.clear();  // until this start has succeeded, the cache is in no known state
  // A batch slot may also take the prompt's beginning from another context's slot (batcher.h).
  BatchSlot* const slot = slot_ && &seq == slot_.get() ? slot_.get() : nullptr;
  if (slot) slot->set_prefix_sharing(opts_.cache_prompt);
  gen->start(prompt_, reuse);
  const int32_t shared = slot ? slot->last_shared() : 0;
  reused_ = gen->reused() + shared;
  if (reused_ > 0)
    log(LogLevel::Debug, "cache-prompt: " + std::to_string(reused_) + " of " + std::to_string(prompt_.size()) +
                             " prompt tokens reused" +
                             (shared > 0 ? " (" + std::to_string(shared) + " from another context's batch slot)" : ""));
  gen_ = std::move(gen);
  prompt_pending_ = false;
  last_piece_.clear();
  summary_logged_ = false;
}

void GgmlExecutionContext::end_generation() {
  if (gen_) kv_tokens_ = gen_->cached();
  pause_slot();
  gen_.reset();
  mode_ = Mode::Idle;
  last_piece_.clear();
  stop_.reset();
}

void GgmlExecutionContext::record_stop() { stop_ = gen_ ? to_nn(gen_->stop_reason()) : std::nullopt; }

template <class F>
void GgmlExecutionContext::cancellable(F&& f) {
  try {
    f();
  } catch (const CancelledError&) {
    stop_ = nn::StopReason::Cancelled;
    pause_slot();
    throw;
  }
}

void GgmlExecutionContext::log_summary() {
  if (summary_logged_ || !gen_) return;
  summary_logged_ = true;
  const double pp = gen_->prompt_seconds(), tg = gen_->generation_seconds();
  const size_t n = gen_->tokens().size();
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "prompt %zu tokens in %.1f ms; generated %zu tokens in %.1f ms (%.1f t/s); stop: %s; context %d/%d",
                prompt_.size(), pp * 1e3, n, tg * 1e3, tg > 0 ? double(n) / tg : 0.0,
                stop_reason_name(gen_->stop_reason()), seq_ ? seq_->n_past() : 0, seq_ ? seq_->n_ctx() : 0);
  log(LogLevel::Info, buf);
}

void GgmlExecutionContext::compute() {
  auto lk = enter();
  if (opts_.embedding) return compute_embedding();
  guarded([&] {
    cancellable([&] {
      start_generation();
      mode_ = Mode::Compute;
      const std::string& text = gen_->text();
      while (true) {
        const size_t before = text.size();
        if (!gen_->next()) break;
        if (opts_.stream_stdout) rt_->stdout_sink(std::string_view(text).substr(before));
      }
    });
    pause_slot();
    record_stop();
    log_summary();
    if (gen_->stop_reason() == StopReason::ContextFull)
      throw Error(Errno::ContextFull, "context full after " + std::to_string(gen_->tokens().size()) +
                                          " generated tokens (ctx-size " + std::to_string(seq_->n_ctx()) +
                                          "); the text so far is in output 0");
  });
}

// COMPAT §4: output 0 is {"n_embedding": N, "embedding": [f, …]}, the L2-normalized pooled
// hidden state of the prompt (Context::embed).
void GgmlExecutionContext::compute_embedding() {
  guarded([&] {
    if (!prompt_pending_)
      throw Error(Errno::InvalidArgument,
                  "no new prompt: each compute consumes its input, call set_input with a text first");
    end_generation();
    embedding_json_.clear();
    ensure_engine_context();
    if (prompt_.empty()) throw Error(Errno::InvalidArgument, "empty prompt: nothing to embed");
    if (int64_t(prompt_.size()) > ctx_->n_ctx())
      throw Error(Errno::PromptTooLong, "text of " + std::to_string(prompt_.size()) +
                                            " tokens does not fit in the context (ctx-size " +
                                            std::to_string(ctx_->n_ctx()) + ")");
    std::vector<float> e;
    // embed() leaves the private cache empty; a slot (batching) keeps its tokens.
    if (!(slot_ && seq_ == slot_.get())) kv_tokens_.clear();
    cancellable([&] { e = ctx_->embed(prompt_); });
    prompt_pending_ = false;
    mode_ = Mode::Embedding;
    nlohmann::json j;
    j["n_embedding"] = e.size();
    j["embedding"] = std::move(e);
    embedding_json_ = j.dump();
    log(LogLevel::Info, "embedding of " + std::to_string(prompt_.size()) + " tokens, " +
                            std::to_string(model_->hparams().n_embd) + " values");
  });
}

void GgmlExecutionContext::compute_single() {
  auto lk = enter();
  guarded([&] {
    if (prompt_pending_) {
      cancellable([&] { start_generation(); });  // a new prompt starts a new stream, even if one was running
      mode_ = Mode::Stream;
    } else if (mode_ != Mode::Stream || !gen_) {
      throw Error(Errno::InvalidArgument, "compute_single: no stream: call set_input with a prompt first");
    }
    const size_t before = gen_->text().size();
    bool produced = false;
    stop_.reset();  // a stream stopped by its abort check may be resumed
    cancellable([&] { produced = gen_->next().has_value(); });
    if (produced) {
      last_piece_ = gen_->text().substr(before);
      return;
    }
    pause_slot();
    record_stop();
    log_summary();
    // The reason travels as data (stop_reason(), metadata "stop_reason"); the message is for people.
    if (gen_->stop_reason() == StopReason::ContextFull)
      throw Error(Errno::ContextFull, "context full (ctx-size " + std::to_string(seq_->n_ctx()) + ")");
    throw Error(Errno::EndOfSequence, std::string("end of sequence: ") + stop_reason_name(gen_->stop_reason()));
  });
}

void GgmlExecutionContext::fini_single() {
  auto lk = enter();
  end_generation();
  // WasmEdge's fini_single frees the stream's state: the cache allocation (or slot) is kept for
  // the next stream, its contents not — unless cache-prompt (nnbridge's option) asks for them to
  // be reused, as the HTTP API's pooled contexts do after each streamed completion.
  if (seq_ && !opts_.cache_prompt) {
    seq_->truncate(0);
    kv_tokens_.clear();
  }
}

void GgmlExecutionContext::set_abort_check(std::function<bool()> check) {
  auto lk = enter();
  abort_check_ = std::move(check);
  if (ctx_) ctx_->set_abort_check(abort_check_);
  if (slot_) slot_->set_abort_check(abort_check_);
}

std::optional<nn::StopReason> GgmlExecutionContext::stop_reason() {
  auto lk = enter();
  return stop_;
}

std::vector<uint8_t> GgmlExecutionContext::metadata() const {
  nlohmann::json j;
  j["input_tokens"] = prompt_.size();
  j["output_tokens"] = gen_ ? gen_->tokens().size() : 0;
  j["llama_build_number"] = rt_->llama_build_number;
  j["llama_commit"] = rt_->llama_commit;
  // An nnbridge addition (COMPAT §4 allows keys): how the last run ended, once it has. This is
  // how a client speaking only WasmEdge's protocol learns more than errno 100 / 101.
  if (stop_) j["stop_reason"] = std::string(nn::stop_reason_name(*stop_));
  if (opts_.cache_prompt && gen_) j["reused_tokens"] = reused_;  // nnbridge: prompt tokens not evaluated
  return bytes(j.dump());
}

std::vector<uint8_t> GgmlExecutionContext::get_output(uint32_t index) {
  auto lk = enter();
  if (index == 1) return metadata();
  if (mode_ == Mode::Embedding) return bytes(embedding_json_);
  return gen_ ? bytes(gen_->text()) : std::vector<uint8_t>{};
}

std::vector<uint8_t> GgmlExecutionContext::get_output_single(uint32_t index) {
  auto lk = enter();
  if (index == 1) return metadata();
  return bytes(last_piece_);
}

}  // namespace nnb::ggml
