// The metadata JSON every backend's set_input(1) takes (COMPAT §4), read the one way all of
// them must: a trailing NUL and surrounding whitespace ignored (guests send C strings), empty
// text meaning "no options", anything else a JSON object.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace nnb::nn {

// The object, or null for empty text. Throws Error(InvalidEncoding) when the text is not JSON
// or not an object.
nlohmann::json parse_options_object(std::string_view text);

// The type a known key must have. Int takes JSON integers only (512.0 is refused, as WasmEdge's
// get_int64 does); Float any number.
enum class OptionKind { Bool, Int, Float, String };

// Throws Error(InvalidArgument) naming the key, the type it must have and what it got when obj
// holds `key` with another type; nothing when the key is absent or of its type.
void check_option_type(const nlohmann::json& obj, std::string_view key, OptionKind kind);

}  // namespace nnb::nn
