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

namespace {

const char* kind_name(OptionKind k) {
  switch (k) {
    case OptionKind::Bool: return "a boolean";
    case OptionKind::Int: return "an integer";
    case OptionKind::Float: return "a number";
    case OptionKind::String: return "a string";
  }
  return "?";
}

bool type_ok(OptionKind k, const nlohmann::json& v) {
  switch (k) {
    case OptionKind::Bool: return v.is_boolean();
    case OptionKind::Int: return v.is_number_integer();
    case OptionKind::Float: return v.is_number();
    case OptionKind::String: return v.is_string();
  }
  return false;
}

}  // namespace

void check_option_type(const nlohmann::json& obj, std::string_view key, OptionKind kind) {
  auto it = obj.find(std::string(key));
  if (it != obj.end() && !type_ok(kind, *it))
    throw Error(Errno::InvalidArgument, "metadata: \"" + std::string(key) + "\" must be " + kind_name(kind) + ", got " +
                                            it->type_name() + " " + it->dump());
}

}  // namespace nnb::nn
