// The nnbridge subcommands. Each registers itself on the CLI11 app; main() dispatches.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "engine/runtime/context.h"  // KvType
#include "engine/runtime/devices.h"

namespace nnb::cli {

void add_generate(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_info(CLI::App& app);
void add_mkmodel(CLI::App& app);
void add_bench(CLI::App& app);
void add_serve(CLI::App& app);  // cmd_serve.cpp: the host server
void add_chat(CLI::App& app);   // cmd_chat.cpp: native streaming chat client
void add_run(CLI::App& app);    // cmd_run.cpp: run a WASI app (wasmedge replacement)
void add_template(CLI::App& app);  // cmd_template.cpp: render a chat template
void add_gateway(CLI::App& app);  // cmd_gateway.cpp: the OpenAI-compatible HTTP API in the guest

// Default model resolution: --model, then $NNBRIDGE_MODEL, then
// ../shared/fixtures/models/stories260K.gguf (beside the source tree or the working
// directory), else a small model generated once into the cache directory (said on stderr).
std::filesystem::path resolve_model(const std::string& flag);

// --device: refuses a value that is not auto, cpu, vulkan or vulkan:N at parse time (exit 1),
// before a model is loaded.
inline CLI::Validator device_spec_validator() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          check_device_spec(v);
          return "";
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
      },
      "auto|cpu|vulkan[:N]");
}

// --kv-type of a host (serve, run's local WASI-NN): a type other than f32 exists only on the CPU
// device, so a --device that resolves to a GPU is refused before anything starts, naming both
// (rather than every context failing later). `chosen`: what the spec resolves to, when the
// caller has it already; else it is looked up here, and only for a type other than f32 (it opens
// the Vulkan driver).
inline void check_kv_type_for_device(const std::string& kv_type, const std::string& device, std::string chosen = {}) {
  if (parse_kv_type(kv_type) == KvType::F32) return;
  if (chosen.empty()) chosen = describe_device_choice(device);
  if (chosen.rfind("cpu", 0) != 0)
    throw std::invalid_argument("--kv-type " + kv_type + ": only the CPU device has it, and --device " + device + " is " +
                                chosen);
}

// --kv-type on a command; `whose` says which caches it sets ("" for the command's own context).
inline CLI::Option* add_kv_type_option(CLI::App* c, std::string& kv_type, const std::string& whose) {
  return c
      ->add_option("--kv-type", kv_type,
                   "KV cache element type" + whose +
                       ": f32 (exact agreement with f32-cache runs), f16 (half the memory and the bytes attention "
                       "reads per token) or q8_0 (8-bit values with a scale per 32, as llama.cpp's q8_0 cache: about "
                       "a quarter; head dimensions a multiple of 32, at most 512); f16 and q8_0 on the CPU device only")
      ->capture_default_str()
      ->check(CLI::IsMember({kv_type_name(KvType::F32), kv_type_name(KvType::F16), kv_type_name(KvType::Q8_0)}));
}

}  // namespace nnb::cli
