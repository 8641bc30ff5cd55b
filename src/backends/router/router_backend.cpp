#include "backends/router/router_backend.h"

#include <stdexcept>

namespace nnb::router {

void RouterBackend::route(const std::string& name, std::shared_ptr<nn::Backend> backend) {
  if (!routes_.emplace(name, std::move(backend)).second)
    throw std::invalid_argument("model name '" + name + "' is given to two backends");
}

nn::Backend& RouterBackend::backend_for(std::string_view name) const {
  auto it = routes_.find(name);
  return it != routes_.end() ? *it->second : *fallback_;
}

}  // namespace nnb::router
