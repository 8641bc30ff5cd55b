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

}  // namespace nnb::nn
