#include "engine/runtime/devices.h"

#include <stdexcept>

#include "engine/cpu/cpu_device.h"
#include "engine/cpu/vec_dot.h"
#ifdef NNB_HAVE_VULKAN
#include "engine/vulkan/vulkan_device.h"
#endif

namespace nnb {
namespace {

struct Spec {
  enum Kind { Cpu, Vulkan, Auto } kind;
  int index = -1;  // vulkan:N
};

Spec parse(const std::string& s) {
  if (s.empty() || s == "cpu") return {Spec::Cpu};
  if (s == "auto") return {Spec::Auto};
  if (s == "vulkan") return {Spec::Vulkan};
  if (s.rfind("vulkan:", 0) == 0) {
    const std::string n = s.substr(7);
    if (!n.empty() && n.size() < 4 && n.find_first_not_of("0123456789") == std::string::npos)
      return {Spec::Vulkan, std::stoi(n)};
  }
  throw std::invalid_argument("unknown device '" + s + "' (expected auto, cpu, vulkan or vulkan:N)");
}

#ifdef NNB_HAVE_VULKAN
// The first usable Vulkan device; with gpu_only, one that is not a CPU implementation.
int first_vulkan(bool gpu_only) {
  for (const vk::DeviceInfo& d : vk::list_devices())
    if (d.usable && (!gpu_only || d.type != "cpu")) return int(d.index);
  return -1;
}
#endif

}  // namespace

void check_device_spec(const std::string& spec) { parse(spec); }

std::vector<DeviceListing> list_devices() {
  std::vector<DeviceListing> out;
  out.push_back({"cpu", "the host CPU (the engine's kernels, run-time ISA choice)", true, ""});
#ifdef NNB_HAVE_VULKAN
  try {
    for (const vk::DeviceInfo& d : vk::list_devices())
      out.push_back({"vulkan:" + std::to_string(d.index),
                     d.name + " (" + d.type + ", " + std::to_string(d.device_local_bytes >> 20) + " MiB device-local, buffers up to " +
                         std::to_string(d.max_buffer_range >> 20) + " MiB, subgroup " + std::to_string(d.subgroup_size) + ")",
                     d.usable, d.usable ? "" : "lacks " + d.missing});
  } catch (const std::exception& e) {
    out.push_back({"vulkan", "no Vulkan devices", false, e.what()});
  }
#else
  out.push_back({"vulkan", "not in this build", false, "built without Vulkan (libvulkan-dev and glslc were not found)"});
#endif
  return out;
}

std::unique_ptr<Device> make_device(const std::string& spec, const Model& model, int32_t max_rows, int32_t kv_cells,
                                    int32_t n_threads, int32_t n_layers, int32_t first_layer) {
  Spec s = parse(spec);
#ifdef NNB_HAVE_VULKAN
  if (s.kind == Spec::Auto) {
    int idx = -1;
    try {
      idx = first_vulkan(true);
      if (idx >= 0) return make_vulkan_device(model, uint32_t(idx), max_rows, kv_cells, n_layers);
    } catch (const std::exception&) {
      // No Vulkan driver, or a GPU that cannot run this model (a weight type without shaders,
      // too little memory): the CPU does.
    }
    s = Spec{Spec::Cpu};
  }
  if (s.kind == Spec::Vulkan) {
    if (s.index < 0) s.index = first_vulkan(false);
    if (s.index < 0) throw std::runtime_error("vulkan: no usable Vulkan device on this machine");
    return make_vulkan_device(model, uint32_t(s.index), max_rows, kv_cells, n_layers);
  }
#else
  if (s.kind == Spec::Auto) s.kind = Spec::Cpu;
  if (s.kind == Spec::Vulkan) throw std::runtime_error("device '" + spec + "': this nnbridge was built without Vulkan");
#endif
  return make_cpu_device(model, max_rows, kv_cells, n_threads, first_layer);
}

std::string describe_device_choice(const std::string& spec) {
  Spec s = parse(spec);
#ifdef NNB_HAVE_VULKAN
  auto name = [](int idx) {
    for (const vk::DeviceInfo& d : vk::list_devices())
      if (int(d.index) == idx) return "vulkan:" + std::to_string(idx) + " " + d.name + " (" + d.type + ")";
    return std::string();
  };
  if (s.kind == Spec::Auto) {
    int idx = -1;
    try {
      idx = first_vulkan(true);
    } catch (const std::exception&) {
    }
    return idx >= 0 ? name(idx) + ", else the CPU for a model it cannot run" : "cpu (no Vulkan GPU)";
  }
  if (s.kind == Spec::Vulkan) {
    const auto all = vk::list_devices();
    if (s.index < 0) s.index = first_vulkan(false);
    if (s.index < 0) throw std::runtime_error("vulkan: no usable Vulkan device on this machine");
    if (size_t(s.index) >= all.size())
      throw std::runtime_error("vulkan: no device " + std::to_string(s.index) + " (this machine has " +
                               std::to_string(all.size()) + ")");
    if (!all[size_t(s.index)].usable)
      throw std::runtime_error("vulkan: device " + std::to_string(s.index) + " (" + all[size_t(s.index)].name +
                               ") lacks " + all[size_t(s.index)].missing);
    return name(s.index);
  }
#else
  if (s.kind == Spec::Vulkan) throw std::runtime_error("device '" + spec + "': this nnbridge was built without Vulkan");
  if (s.kind == Spec::Auto) return "cpu (built without Vulkan)";
#endif
  return "cpu";
}

BuildInfo build_info() {
  BuildInfo b;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
#if !(defined(__x86_64__) || defined(_M_X64))
    if (isa != Isa::Scalar) continue;  // engine/CMakeLists.txt compiles the SIMD kernels for x86-64 only
#endif
    b.isa_compiled.push_back(isa_name(isa));
    // dot_kernel_for() answers nullptr for an ISA this CPU lacks; every ISA has a Q8_0 kernel.
    if (dot_kernel_for(GgmlType::Q8_0, isa)) b.isa_cpu.push_back(isa_name(isa));
  }
  b.isa_active = isa_name(active_isa());
#ifdef NNB_HAVE_VULKAN
  b.vulkan = true;
#endif
  return b;
}

}  // namespace nnb
