#include "nn/options_json.h"

#include <cctype>
#include <string>

#include "nn/types.h"

namespace nnb::nn {

nlohmann::json parse_options_object(std::string_view text) {
  while (!text.empty() && (text.back() == '\0' || std::isspace(static_cast<unsigned char>(text.back()))))
    text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.empty()) return nullptr;
  nlohmann::json obj;
  try {
    obj = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errno::InvalidEncoding, std::string("metadata is not valid JSON: ") + e.what());
  }
  if (!obj.is_object())
    throw Error(Errno::InvalidEncoding, std::string("metadata must be a JSON object, got ") + obj.type_name());
  return obj;
}

}  // namespace nnb::nn
