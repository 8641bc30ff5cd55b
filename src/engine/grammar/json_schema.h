// JSON Schema -> GBNF for the common subset, the way llama.cpp's json-schema-to-grammar does it:
// objects (properties in order, required ones first; no other keys unless the schema has no
// properties), enum, const, arrays (items, prefixItems, minItems, maxItems), strings
// (minLength, maxLength), number, integer, boolean, null, type lists, anyOf / oneOf, $ref into
// #/$defs or #/definitions (recursion allowed), and llama.cpp's whitespace rule between tokens.
// Annotations (title, description, default, examples, ...) are ignored. Any other keyword
// (pattern, format, minimum, allOf, if/then, ...) is refused naming it: output that ignored it
// would not be what the schema asked for.
#pragma once

#include <string>
#include <string_view>

#include "engine/grammar/gbnf.h"

namespace nnb::grammar {

// Throws GrammarError for JSON that does not parse (with its position), a schema that is not an
// object or boolean, an unsupported keyword (named, with the JSON pointer of its schema) or a
// $ref that does not resolve.
std::string json_schema_to_gbnf(std::string_view schema);

}  // namespace nnb::grammar
