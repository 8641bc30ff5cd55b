#include "backends/openai/openai_backend.h"

#include <chrono>
#include <stdexcept>

#include "backends/openai/http_transfer.h"
#include "backends/openai/openai_graph.h"
#include "nn/types.h"

namespace nnb::openai {

using nn::Errno;
using nn::Error;

OpenAIBackend::OpenAIBackend(std::map<std::string, std::vector<Upstream>> models, OpenAIBackendOptions opts)
    : rt_(std::make_shared<Runtime>(std::move(opts))) {
  for (auto& [name, ups] : models) {
    if (ups.empty()) throw std::invalid_argument("model '" + name + "' has no upstream");
    pools_.emplace(name, std::make_shared<UpstreamPool>(name, std::move(ups)));
  }
  try {
    CompletionOptions probe;
    apply_options_json(probe, rt_->options().default_options_json);
  } catch (const Error& e) {
    throw std::invalid_argument(std::string("--nn-options: ") + e.what());
  }
  rt_->wake_health_check = [this] {
    {
      std::lock_guard<std::mutex> lk(mu_);
      woken_ = true;
    }
    cv_.notify_all();
  };
  health_ = std::thread([this] { health_loop(); });
}

OpenAIBackend::~OpenAIBackend() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  health_.join();
}

std::shared_ptr<nn::Graph> OpenAIBackend::load(std::span<const std::span<const uint8_t>>, nn::GraphEncoding,
                                               nn::ExecutionTarget) {
  throw Error(Errno::UnsupportedOperation,
              "models behind an OpenAI-compatible upstream are loaded by name (load_by_name), not from bytes");
}

std::shared_ptr<nn::Graph> OpenAIBackend::load_by_name(std::string_view name, std::string_view config) {
  auto it = pools_.find(name);
  if (it == pools_.end()) throw Error(Errno::NotFound, "no model named '" + std::string(name) + "'");
  CompletionOptions opts;
  apply_options_json(opts, rt_->options().default_options_json);
  for (const auto& note : apply_options_json(opts, config)) rt_->note_once("model '" + it->first + "': " + note);
  return std::make_shared<OpenAIGraph>(it->second, rt_, std::move(opts));
}

void OpenAIBackend::unload(const std::shared_ptr<nn::Graph>& graph) {
  if (!std::dynamic_pointer_cast<OpenAIGraph>(graph))
    throw Error(Errno::InvalidArgument, "unload: the graph does not belong to the OpenAI backend");
}

std::string OpenAIBackend::probe(UpstreamPool& pool, size_t index) {
  const Upstream& up = pool.upstream(index);
  HttpRequest req;
  req.url = up.base_url + "/models";
  req.api_key = up.api_key;
  req.connect_timeout_s = rt_->options().connect_timeout_s;
  req.idle_timeout_s = 5;  // a health check that takes longer is a failed one
  std::string why;
  try {
    HttpTransfer t(req, {});
    t.pump({}, [this] {
      std::lock_guard<std::mutex> lk(mu_);
      return stopping_;
    });
    if (!t.ok())
      why = t.error();
    else if (t.status() < 200 || t.status() >= 300)
      why = "GET /models answered HTTP " + std::to_string(t.status());
  } catch (const std::exception& e) {
    why = e.what();
  }
  const bool was_up = pool.is_up(index);
  if (why.empty()) {
    pool.mark_up(index);
    if (!was_up) rt_->log("model '" + pool.name() + "': upstream " + up.base_url + " is up again");
  } else {
    if (was_up) rt_->log("model '" + pool.name() + "': upstream " + up.base_url + " is down (" + why + ")");
    pool.mark_down(index, why);
  }
  return why;
}

std::string OpenAIBackend::describe(std::string_view name) {
  auto it = pools_.find(name);
  if (it == pools_.end()) throw Error(Errno::NotFound, "no model named '" + std::string(name) + "'");
  UpstreamPool& pool = *it->second;
  std::string s = std::to_string(pool.size()) + " OpenAI-compatible upstream" + (pool.size() == 1 ? "" : "s") + ":";
  for (size_t i = 0; i < pool.size(); ++i) {
    const std::string why = probe(pool, i);
    s += std::string(i ? "," : "") + " " + pool.upstream(i).base_url + "#" + pool.upstream(i).model_id +
         (pool.upstream(i).api_key.empty() ? "" : " (with a key)") + (why.empty() ? " up" : " down: " + why);
  }
  return s;
}

void OpenAIBackend::health_loop() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::duration<double>(std::max(0.1, rt_->options().health_interval_s));
  std::map<std::pair<std::string, size_t>, Clock::time_point> next;  // the next probe of each upstream
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    const bool woken = std::exchange(woken_, false);
    lk.unlock();
    const auto now = Clock::now();
    for (auto& [name, pool] : pools_)
      for (size_t i = 0; i < pool->size(); ++i) {
        auto& at = next[{name, i}];
        const bool down = !pool->is_up(i);
        if (at == Clock::time_point{}) at = now + std::chrono::duration_cast<Clock::duration>(interval);
        if (now < at && !(woken && down)) continue;
        probe(*pool, i);
        at = Clock::now() + (pool->is_up(i) ? std::chrono::duration_cast<Clock::duration>(interval)
                                            : std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)));
      }
    lk.lock();
    // At most a second's sleep: a down upstream is probed every second.
    cv_.wait_for(lk, std::chrono::milliseconds(1000), [this] { return stopping_ || woken_; });
  }
}

}  // namespace nnb::openai
