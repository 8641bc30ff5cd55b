// Vulkan plumbing for the GPU device: one logical device per physical GPU (opened once per
// process and shared by every context on it), buffers, compute pipelines built from the
// embedded shaders, and a recorder that turns a forward pass into one command buffer and one
// submission. Nothing here knows about models or layers (vulkan_device.cpp does).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace nnb::vk {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A physical device as `nnbridge info --devices` lists it.
struct DeviceInfo {
  uint32_t index = 0;
  std::string name;
  std::string type;  // "discrete", "integrated", "virtual", "cpu", "other"
  uint64_t device_local_bytes = 0;
  uint64_t max_buffer_range = 0;  // maxStorageBufferRange
  uint32_t subgroup_size = 0;
  bool subgroup_arithmetic = false;  // subgroupAdd in compute shaders (else shared-memory sums)
  uint32_t max_shared_bytes = 16384;   // maxComputeSharedMemorySize
  uint32_t max_invocations = 128;      // maxComputeWorkGroupInvocations
  bool usable = false;            // has the features the shaders need (8/16-bit storage)
  std::string missing;            // what it lacks, when not usable
};

// Every Vulkan device of this machine; throws Error when there is no Vulkan loader or instance.
std::vector<DeviceInfo> list_devices();

class Gpu;

// A storage buffer. Host-visible buffers stay mapped (map != nullptr).
struct Buffer {
  Gpu* gpu = nullptr;
  VkBuffer buf = VK_NULL_HANDLE;
  VkDeviceMemory mem = VK_NULL_HANDLE;
  void* map = nullptr;
  uint64_t size = 0;

  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  ~Buffer() { reset(); }
  void reset();
  explicit operator bool() const { return buf != VK_NULL_HANDLE; }
};

// A range of a buffer bound to a shader.
struct Binding {
  const Buffer* b;
  uint64_t offset = 0;
  uint64_t range = VK_WHOLE_SIZE;
};

struct Pipeline {
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipe = VK_NULL_HANDLE;
  uint32_t n_bindings = 0;
  uint32_t push_bytes = 0;
};

class Gpu {
 public:
  // The device with that index (list_devices()), opened once per process.
  static std::shared_ptr<Gpu> open(uint32_t index);
  ~Gpu();

  const DeviceInfo& info() const { return info_; }
  VkDevice device() const { return dev_; }
  uint64_t offset_alignment() const { return align_; }
  uint64_t max_range() const { return info_.max_buffer_range; }

  // Device-local storage (host-visible too when the device has such memory: integrated GPUs,
  // lavapipe), or host-visible coherent memory for what the host writes or reads.
  Buffer buffer(uint64_t bytes, bool host_visible);
  // Copies bytes into a buffer (mapped, or through a staging buffer and a one-off submission).
  void upload(Buffer& dst, uint64_t offset, const void* data, uint64_t bytes);
  // The pipeline of an embedded shader with n_bindings storage buffers and push constants;
  // spec: the values of its specialization constants 0, 1, ... (one pipeline per distinct set).
  const Pipeline& pipeline(const std::string& shader, uint32_t n_bindings, uint32_t push_bytes,
                           std::initializer_list<uint32_t> spec = {});

  // One queue: submissions from several contexts are serialized.
  std::mutex& queue_mutex() { return queue_mu_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return family_; }

 private:
  Gpu() = default;
  uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid = 0) const;

  DeviceInfo info_;
  VkPhysicalDevice phys_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties mem_{};
  VkDevice dev_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t family_ = 0;
  uint64_t align_ = 256;
  std::mutex queue_mu_;
  std::mutex pipe_mu_;
  std::map<std::string, Pipeline> pipes_;
  friend struct Buffer;
};

// Records dispatches into one command buffer, with a barrier after each (every dispatch reads
// what the ones before wrote), and small host data into an arena of host-visible buffers that
// lives until the submission ends. submit() runs it all and waits.
class Recorder {
 public:
  explicit Recorder(std::shared_ptr<Gpu> gpu);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Host data for this submission's shaders: a binding of a copy of `bytes` bytes.
  Binding stage(const void* data, uint64_t bytes);
  void dispatch(const Pipeline& p, std::initializer_list<Binding> bindings, const void* push, uint32_t gx,
                uint32_t gy = 1, uint32_t gz = 1);
  void copy(const Buffer& src, uint64_t src_off, const Buffer& dst, uint64_t dst_off, uint64_t bytes);
  void copy(const Binding& src, const Buffer& dst, uint64_t dst_off, uint64_t bytes) {
    copy(*src.b, src.offset, dst, dst_off, bytes);
  }
  bool empty() const { return !recording_; }
  // Submits what was recorded (nothing: no-op) and waits for it.
  void submit();
  // Drops what was recorded (a forward pass that failed half-way).
  void discard();

 private:
  void begin();
  void barrier();

  std::shared_ptr<Gpu> gpu_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> dpools_;
  size_t dpool_used_ = 0;   // pools [0, dpool_used_) are (partly) used
  uint32_t sets_left_ = 0;  // in pool dpool_used_ - 1
  std::vector<Buffer> arena_;
  size_t arena_chunk_ = 0;
  uint64_t arena_off_ = 0;
  bool recording_ = false;
};

}  // namespace nnb::vk
