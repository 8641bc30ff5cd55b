// Whether this machine has a usable Vulkan device (Mesa's lavapipe in CI), for the tests that
// run the Vulkan device; and the skip that becomes a failure under NNB_REQUIRE_VULKAN=1 (.ci/run
// sets it: CI installs lavapipe, so a missing device there is a broken setup, not a skip).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/runtime/devices.h"

namespace nnb::test {

inline bool vulkan_available() {
  static const bool have = [] {
    for (const DeviceListing& d : list_devices())
      if (d.spec.rfind("vulkan:", 0) == 0 && d.usable) {
        std::printf("[ vulkan ] %s: %s\n", d.spec.c_str(), d.description.c_str());
        return true;
      }
    return false;
  }();
  return have;
}

inline bool vulkan_required() {
  const char* req = std::getenv("NNB_REQUIRE_VULKAN");
  return req && std::string(req) == "1";
}

}  // namespace nnb::test

#define NNB_VULKAN_OR_SKIP()                                                                      \
  do {                                                                                            \
    if (!::nnb::test::vulkan_available()) {                                                       \
      if (::nnb::test::vulkan_required()) FAIL() << "NNB_REQUIRE_VULKAN=1 but no usable Vulkan device"; \
      GTEST_SKIP() << "no usable Vulkan device (install mesa-vulkan-drivers for lavapipe)";       \
    }                                                                                             \
  } while (0)
