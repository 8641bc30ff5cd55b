// Which device a context computes on, the way users say it: "cpu", "vulkan" (the first usable
// Vulkan device, lavapipe included), "vulkan:N" (device N of `nnbridge info --devices`), or
// "auto" (the first usable Vulkan GPU that is not a CPU implementation such as lavapipe, if it
// can run the model — all its weight types have shaders and it fits — else the CPU).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device/device.h"

namespace nnb {

struct DeviceListing {
  std::string spec;         // what --device takes for it ("cpu", "vulkan:0")
  std::string description;  // name, type, memory
  bool usable = true;
  std::string why_not;      // when not usable
};

// The devices this build and machine offer (the CPU always; Vulkan devices when built with
// Vulkan and a driver is installed).
std::vector<DeviceListing> list_devices();

// Throws std::invalid_argument for a spec that is not one of the forms above, std::runtime_error
// when the device cannot be used (no Vulkan in this build, no such device, a weight type it
// lacks, out of memory), naming the problem.
// A GPU device computes layers [0, n_layers) and the output when that is all of them (the
// context runs the rest on the CPU); the CPU device computes everything, or from layer
// first_layer on when a GPU has the ones before (it then copies only those for generation).
std::unique_ptr<Device> make_device(const std::string& spec, const Model& model, int32_t max_rows, int32_t kv_cells,
                                    int32_t n_threads, int32_t n_layers = INT32_MAX, int32_t first_layer = 0);

// Checks the form of a spec without opening anything (for command-line parsing).
void check_device_spec(const std::string& spec);

// What a spec selects on this machine, before any model is known ("cpu", "vulkan:0 NVIDIA …");
// throws as make_device() does when the device cannot exist (no Vulkan, no such index). For
// "auto" it names the GPU it will try first; a model the GPU cannot run still falls back to the
// CPU then.
std::string describe_device_choice(const std::string& spec);

// What this build offers on this machine, for `nnbridge --version`: the CPU kernel paths
// compiled in, those this CPU can run, the one in use (the best, or a lower one NNB_ISA forces),
// and whether the Vulkan device is compiled in (which devices exist: list_devices()).
struct BuildInfo {
  std::vector<std::string> isa_compiled, isa_cpu;
  std::string isa_active;
  bool vulkan = false;
};
BuildInfo build_info();

}  // namespace nnb
