#include "engine/vulkan/vk_gpu.h"

#include <algorithm>
#include <cstring>

#include "engine/vulkan/vk_shaders.h"

namespace nnb::vk {
namespace {

void check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw Error(std::string("vulkan: ") + what + " failed (VkResult " + std::to_string(int(r)) + ")");
}

// The process's instance, created on first use (Vulkan 1.2: the shaders' target).
VkInstance instance() {
  static std::once_flag once;
  static VkInstance inst = VK_NULL_HANDLE;
  static std::string failure;
  std::call_once(once, [] {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "nnbridge";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    // MoltenVK (macOS hosts) lists its devices only to instances that accept portability
    // drivers.
    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> ext(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, ext.data());
    std::vector<const char*> want;
    for (const auto& e : ext)
      if (std::strcmp(e.extensionName, "VK_KHR_portability_enumeration") == 0) {
        want.push_back("VK_KHR_portability_enumeration");
        ci.flags |= 0x00000001;  // VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR
      }
    ci.enabledExtensionCount = uint32_t(want.size());
    ci.ppEnabledExtensionNames = want.data();
    const VkResult r = vkCreateInstance(&ci, nullptr, &inst);
    if (r != VK_SUCCESS) {
      inst = VK_NULL_HANDLE;
      failure = "vulkan: no Vulkan 1.2 instance (VkResult " + std::to_string(int(r)) +
                "): is a Vulkan driver installed (mesa-vulkan-drivers for lavapipe)?";
    }
  });
  if (!inst) throw Error(failure);
  return inst;
}

std::vector<VkPhysicalDevice> physical_devices() {
  uint32_t n = 0;
  check(vkEnumeratePhysicalDevices(instance(), &n, nullptr), "vkEnumeratePhysicalDevices");
  std::vector<VkPhysicalDevice> v(n);
  check(vkEnumeratePhysicalDevices(instance(), &n, v.data()), "vkEnumeratePhysicalDevices");
  v.resize(n);
  return v;
}

DeviceInfo describe(VkPhysicalDevice pd, uint32_t index) {
  DeviceInfo d;
  d.index = index;
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sg;
  vkGetPhysicalDeviceProperties2(pd, &p2);
  const VkPhysicalDeviceProperties& p = p2.properties;
  d.name = p.deviceName;
  switch (p.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: d.type = "discrete"; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: d.type = "integrated"; break;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: d.type = "virtual"; break;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: d.type = "cpu"; break;
    default: d.type = "other";
  }
  d.max_buffer_range = p.limits.maxStorageBufferRange;
  d.subgroup_size = sg.subgroupSize;
  d.subgroup_arithmetic = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) && sg.subgroupSize >= 4 &&
                          (sg.subgroupSize & (sg.subgroupSize - 1)) == 0;
  d.max_shared_bytes = p.limits.maxComputeSharedMemorySize;
  d.max_invocations = std::min(p.limits.maxComputeWorkGroupInvocations, p.limits.maxComputeWorkGroupSize[0]);
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  for (uint32_t h = 0; h < mp.memoryHeapCount; ++h)
    if (mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.device_local_bytes += mp.memoryHeaps[h].size;

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  if (p.apiVersion >= VK_API_VERSION_1_2) vkGetPhysicalDeviceFeatures2(pd, &f2);
  std::vector<std::string> miss;
  if (p.apiVersion < VK_API_VERSION_1_2) miss.push_back("Vulkan 1.2");
  else {
    if (!f11.storageBuffer16BitAccess) miss.push_back("storageBuffer16BitAccess");
    if (!f12.storageBuffer8BitAccess) miss.push_back("storageBuffer8BitAccess");
  }
  d.usable = miss.empty();
  for (const auto& m : miss) d.missing += (d.missing.empty() ? "" : ", ") + m;
  return d;
}

}  // namespace

std::vector<DeviceInfo> list_devices() {
  std::vector<DeviceInfo> out;
  const auto pds = physical_devices();
  for (uint32_t i = 0; i < pds.size(); ++i) out.push_back(describe(pds[i], i));
  return out;
}

// ---- buffers ---------------------------------------------------------------------------------

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    reset();
    gpu = o.gpu;
    buf = o.buf;
    mem = o.mem;
    map = o.map;
    size = o.size;
    o.buf = VK_NULL_HANDLE;
    o.mem = VK_NULL_HANDLE;
    o.map = nullptr;
  }
  return *this;
}

void Buffer::reset() {
  if (!gpu) return;
  if (map) vkUnmapMemory(gpu->dev_, mem);
  if (buf) vkDestroyBuffer(gpu->dev_, buf, nullptr);
  if (mem) vkFreeMemory(gpu->dev_, mem, nullptr);
  buf = VK_NULL_HANDLE;
  mem = VK_NULL_HANDLE;
  map = nullptr;
}

// ---- the device ------------------------------------------------------------------------------

std::shared_ptr<Gpu> Gpu::open(uint32_t index) {
  static std::mutex mu;
  static std::map<uint32_t, std::weak_ptr<Gpu>> open_gpus;
  std::lock_guard<std::mutex> lock(mu);
  if (auto g = open_gpus[index].lock()) return g;

  const auto pds = physical_devices();
  if (pds.empty()) throw Error("vulkan: no Vulkan device on this machine");
  if (index >= pds.size())
    throw Error("vulkan: no device " + std::to_string(index) + " (this machine has " + std::to_string(pds.size()) +
                ": 0.." + std::to_string(pds.size() - 1) + ")");
  std::shared_ptr<Gpu> g(new Gpu());
  g->phys_ = pds[index];
  g->info_ = describe(g->phys_, index);
  if (!g->info_.usable)
    throw Error("vulkan: device " + std::to_string(index) + " (" + g->info_.name + ") lacks " + g->info_.missing);
  vkGetPhysicalDeviceMemoryProperties(g->phys_, &g->mem_);
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(g->phys_, &props);
  g->align_ = std::max<uint64_t>(props.limits.minStorageBufferOffsetAlignment, 16);

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(g->phys_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(g->phys_, &nq, qf.data());
  bool found = false;
  for (uint32_t i = 0; i < nq && !found; ++i)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      g->family_ = i;
      found = true;
    }
  if (!found) throw Error("vulkan: device " + g->info_.name + " has no compute queue");

  const float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = g->family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f12.storageBuffer8BitAccess = VK_TRUE;
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.storageBuffer16BitAccess = VK_TRUE;
  f11.pNext = &f12;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &f11;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  check(vkCreateDevice(g->phys_, &dci, nullptr, &g->dev_), "vkCreateDevice");
  vkGetDeviceQueue(g->dev_, g->family_, 0, &g->queue_);
  open_gpus[index] = g;
  return g;
}

Gpu::~Gpu() {
  if (!dev_) return;
  vkDeviceWaitIdle(dev_);
  for (auto& [name, p] : pipes_) {
    vkDestroyPipeline(dev_, p.pipe, nullptr);
    vkDestroyPipelineLayout(dev_, p.layout, nullptr);
    vkDestroyDescriptorSetLayout(dev_, p.set_layout, nullptr);
  }
  vkDestroyDevice(dev_, nullptr);
}

uint32_t Gpu::memory_type(uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags avoid) const {
  for (uint32_t i = 0; i < mem_.memoryTypeCount; ++i)
    if ((bits & (1u << i)) && (mem_.memoryTypes[i].propertyFlags & want) == want &&
        (mem_.memoryTypes[i].propertyFlags & avoid) == 0)
      return i;
  return UINT32_MAX;
}

Buffer Gpu::buffer(uint64_t bytes, bool host_visible) {
  bytes = std::max<uint64_t>(bytes, 16);
  if (bytes > info_.max_buffer_range)
    throw Error("vulkan: a buffer of " + std::to_string(bytes) + " bytes exceeds the device's maxStorageBufferRange (" +
                std::to_string(info_.max_buffer_range) + ")");
  Buffer b;
  b.gpu = this;
  b.size = bytes;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  check(vkCreateBuffer(dev_, &bci, nullptr, &b.buf), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_, b.buf, &req);
  const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type = UINT32_MAX;
  if (host_visible) {
    // Prefer memory the device also reads fast (integrated GPUs, resizable BAR), else plain host memory.
    type = memory_type(req.memoryTypeBits, hv | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) type = memory_type(req.memoryTypeBits, hv);
  } else {
    type = memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) type = memory_type(req.memoryTypeBits, hv);
  }
  if (type == UINT32_MAX) throw Error("vulkan: no memory type for a storage buffer");
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  const VkResult r = vkAllocateMemory(dev_, &mai, nullptr, &b.mem);
  if (r != VK_SUCCESS)
    throw Error("vulkan: out of device memory allocating " + std::to_string(bytes >> 20) + " MiB on " + info_.name);
  check(vkBindBufferMemory(dev_, b.buf, b.mem, 0), "vkBindBufferMemory");
  if ((mem_.memoryTypes[type].propertyFlags & hv) == hv) check(vkMapMemory(dev_, b.mem, 0, VK_WHOLE_SIZE, 0, &b.map), "vkMapMemory");
  return b;
}

void Gpu::upload(Buffer& dst, uint64_t offset, const void* data, uint64_t bytes) {
  if (bytes == 0) return;
  if (dst.map) {
    std::memcpy(static_cast<uint8_t*>(dst.map) + offset, data, bytes);
    return;
  }
  // Through a staging buffer, in pieces of at most 64 MiB.
  const uint64_t piece = std::min<uint64_t>(bytes, uint64_t(64) << 20);
  Buffer staging = buffer(piece, true);
  Recorder rec(std::shared_ptr<Gpu>(std::shared_ptr<Gpu>(), this));  // non-owning: *this outlives rec
  for (uint64_t done = 0; done < bytes; done += piece) {
    const uint64_t n = std::min(piece, bytes - done);
    std::memcpy(staging.map, static_cast<const uint8_t*>(data) + done, n);
    rec.copy(staging, 0, dst, offset + done, n);
    rec.submit();
  }
}

const Pipeline& Gpu::pipeline(const std::string& shader, uint32_t n_bindings, uint32_t push_bytes,
                              std::initializer_list<uint32_t> spec) {
  std::string key = shader;
  for (uint32_t v : spec) key += "/" + std::to_string(v);
  std::lock_guard<std::mutex> lock(pipe_mu_);
  auto it = pipes_.find(key);
  if (it != pipes_.end()) return it->second;
  const ShaderBlob* blob = vk_shader(shader);
  if (!blob) throw Error("vulkan: no shader named " + shader + " in this build");
  Pipeline p;
  p.n_bindings = n_bindings;
  p.push_bytes = push_bytes;
  std::vector<VkDescriptorSetLayoutBinding> b(n_bindings);
  for (uint32_t i = 0; i < n_bindings; ++i) {
    b[i].binding = i;
    b[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i].descriptorCount = 1;
    b[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo dl{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  dl.bindingCount = n_bindings;
  dl.pBindings = b.data();
  check(vkCreateDescriptorSetLayout(dev_, &dl, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
  VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &p.set_layout;
  pl.pushConstantRangeCount = push_bytes ? 1 : 0;
  pl.pPushConstantRanges = &pr;
  check(vkCreatePipelineLayout(dev_, &pl, nullptr, &p.layout), "vkCreatePipelineLayout");
  VkShaderModuleCreateInfo sm{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  sm.codeSize = size_t(blob->n_words) * 4;
  sm.pCode = blob->words;
  VkShaderModule mod;
  check(vkCreateShaderModule(dev_, &sm, nullptr, &mod), "vkCreateShaderModule");
  VkComputePipelineCreateInfo cp{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  cp.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  cp.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  cp.stage.module = mod;
  cp.stage.pName = "main";
  std::vector<VkSpecializationMapEntry> entries;
  for (uint32_t i = 0; i < spec.size(); ++i) entries.push_back({i, i * 4, 4});
  VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), spec.size() * 4, spec.begin()};
  if (spec.size()) cp.stage.pSpecializationInfo = &si;
  cp.layout = p.layout;
  const VkResult r = vkCreateComputePipelines(dev_, VK_NULL_HANDLE, 1, &cp, nullptr, &p.pipe);
  vkDestroyShaderModule(dev_, mod, nullptr);
  check(r, ("vkCreateComputePipelines (" + shader + ")").c_str());
  return pipes_.emplace(key, p).first->second;
}

// ---- recording -------------------------------------------------------------------------------

Recorder::Recorder(std::shared_ptr<Gpu> gpu) : gpu_(std::move(gpu)) {
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = gpu_->queue_family();
  check(vkCreateCommandPool(gpu_->device(), &ci, nullptr, &pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool_;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  check(vkAllocateCommandBuffers(gpu_->device(), &ai, &cmd_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  check(vkCreateFence(gpu_->device(), &fi, nullptr, &fence_), "vkCreateFence");
}

Recorder::~Recorder() {
  VkDevice d = gpu_->device();
  if (recording_) {
    vkEndCommandBuffer(cmd_);  // recorded work is dropped, never submitted
  }
  for (VkDescriptorPool p : dpools_) vkDestroyDescriptorPool(d, p, nullptr);
  vkDestroyFence(d, fence_, nullptr);
  vkDestroyCommandPool(d, pool_, nullptr);
}

void Recorder::begin() {
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  recording_ = true;
}

void Recorder::barrier() {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
}

Binding Recorder::stage(const void* data, uint64_t bytes) {
  const uint64_t a = gpu_->offset_alignment();
  const uint64_t need = (std::max<uint64_t>(bytes, 4) + a - 1) / a * a;
  constexpr uint64_t kChunk = uint64_t(4) << 20;
  while (arena_chunk_ < arena_.size() && arena_off_ + need > arena_[arena_chunk_].size) {
    ++arena_chunk_;
    arena_off_ = 0;
  }
  if (arena_chunk_ == arena_.size()) {
    arena_.push_back(gpu_->buffer(std::max(kChunk, need), true));
    arena_off_ = 0;
  }
  Buffer& b = arena_[arena_chunk_];
  if (bytes) std::memcpy(static_cast<uint8_t*>(b.map) + arena_off_, data, bytes);
  Binding out{&b, arena_off_, need};
  arena_off_ += need;
  return out;
}

void Recorder::dispatch(const Pipeline& p, std::initializer_list<Binding> bindings, const void* push, uint32_t gx,
                        uint32_t gy, uint32_t gz) {
  if (bindings.size() != p.n_bindings) throw std::logic_error("vulkan: dispatch with the wrong number of buffers");
  if (gx == 0 || gy == 0 || gz == 0) return;
  begin();
  VkDevice d = gpu_->device();
  if (sets_left_ == 0) {
    if (dpool_used_ == dpools_.size()) {
      constexpr uint32_t kSets = 1024;
      VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSets * 8};
      VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
      pci.maxSets = kSets;
      pci.poolSizeCount = 1;
      pci.pPoolSizes = &ps;
      VkDescriptorPool pool;
      check(vkCreateDescriptorPool(d, &pci, nullptr, &pool), "vkCreateDescriptorPool");
      dpools_.push_back(pool);
    }
    ++dpool_used_;
    sets_left_ = 1024;
  }
  if (p.n_bindings > 8) throw std::logic_error("vulkan: more than 8 buffers in one dispatch");
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = dpools_[dpool_used_ - 1];
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &p.set_layout;
  VkDescriptorSet set;
  check(vkAllocateDescriptorSets(d, &ai, &set), "vkAllocateDescriptorSets");
  --sets_left_;
  VkDescriptorBufferInfo bi[8];
  VkWriteDescriptorSet w[8];
  uint32_t i = 0;
  for (const Binding& b : bindings) {
    bi[i] = {b.b->buf, b.offset, b.range};
    w[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    w[i].dstSet = set;
    w[i].dstBinding = i;
    w[i].descriptorCount = 1;
    w[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    w[i].pBufferInfo = &bi[i];
    ++i;
  }
  vkUpdateDescriptorSets(d, i, w, 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipe);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  if (p.push_bytes) vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p.push_bytes, push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  barrier();
}

void Recorder::copy(const Buffer& src, uint64_t src_off, const Buffer& dst, uint64_t dst_off, uint64_t bytes) {
  if (bytes == 0) return;
  begin();
  VkBufferCopy c{src_off, dst_off, bytes};
  vkCmdCopyBuffer(cmd_, src.buf, dst.buf, 1, &c);
  barrier();
}

void Recorder::discard() {
  if (!recording_) return;
  recording_ = false;
  vkEndCommandBuffer(cmd_);
  vkResetCommandBuffer(cmd_, 0);
  for (size_t i = 0; i < dpool_used_; ++i) vkResetDescriptorPool(gpu_->device(), dpools_[i], 0);
  dpool_used_ = 0;
  sets_left_ = 0;
  arena_chunk_ = 0;
  arena_off_ = 0;
}

void Recorder::submit() {
  if (!recording_) return;
  recording_ = false;
  check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  {
    std::lock_guard<std::mutex> lock(gpu_->queue_mutex());
    check(vkQueueSubmit(gpu_->queue(), 1, &si, fence_), "vkQueueSubmit");
  }
  const VkResult r = vkWaitForFences(gpu_->device(), 1, &fence_, VK_TRUE, UINT64_MAX);
  vkResetFences(gpu_->device(), 1, &fence_);
  vkResetCommandBuffer(cmd_, 0);
  for (size_t i = 0; i < dpool_used_; ++i) vkResetDescriptorPool(gpu_->device(), dpools_[i], 0);
  dpool_used_ = 0;
  sets_left_ = 0;
  arena_chunk_ = 0;
  arena_off_ = 0;
  check(r, "vkWaitForFences (device lost?)");
}

}  // namespace nnb::vk
