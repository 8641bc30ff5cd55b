#include "engine/grammar/json_schema.h"

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace nnb::grammar {
namespace {

using json = nlohmann::ordered_json;  // properties keep the order they were written in

// llama.cpp's building blocks (json-schema-to-grammar's PRIMITIVE_RULES, same language).
struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> deps;
};
const std::vector<Primitive>& primitives() {
  static const std::vector<Primitive> p = {
      {"space", R"(| " " | "\n" [ \t]{0,20})", {}},
      {"boolean", R"(("true" | "false") space)", {"space"}},
      {"decimal-part", R"([0-9]{1,16})", {}},
      {"integral-part", R"([0] | [1-9] [0-9]{0,15})", {}},
      {"number", R"(("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space)",
       {"integral-part", "decimal-part", "space"}},
      {"integer", R"(("-"? integral-part) space)", {"integral-part", "space"}},
      {"char", R"([^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4}))", {}},
      {"string", R"("\"" char* "\"" space)", {"char", "space"}},
      {"null", R"("null" space)", {"space"}},
      {"value", R"(object | array | string | number | boolean | null)",
       {"object", "array", "string", "number", "boolean", "null"}},
      {"object", R"("{" space ( string ":" space value ("," space string ":" space value)* )? "}" space)",
       {"string", "value", "space"}},
      {"array", R"("[" space ( value ("," space value)* )? "]" space)", {"value", "space"}},
  };
  return p;
}

const std::set<std::string>& ignored_keywords() {
  static const std::set<std::string> k = {"title", "description", "$schema", "$id", "$comment", "default",
                                          "examples", "readOnly", "writeOnly", "deprecated", "$defs",
                                          "definitions"};
  return k;
}
const std::set<std::string>& handled_keywords() {
  static const std::set<std::string> k = {"type", "properties", "required", "additionalProperties", "items",
                                          "prefixItems", "minItems", "maxItems", "enum", "const", "$ref",
                                          "anyOf", "oneOf", "minLength", "maxLength"};
  return k;
}

// A GBNF string literal matching exactly the bytes of s.
std::string gbnf_literal(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out + "\"";
}

class Converter {
 public:
  explicit Converter(const json& root) : root_(root) {}

  std::string run() {
    const std::string body = expr(root_, "root", "#", 0);
    std::string out = "root ::= " + body + "\n";
    for (const auto& [name, b] : rules_) out += name + " ::= " + b + "\n";
    return out;
  }

 private:
  [[noreturn]] static void refuse(const std::string& what, const std::string& where) {
    throw GrammarError("json-schema: " + what + " (at " + where + ")");
  }

  std::string primitive(const std::string& name) {
    for (const auto& p : primitives()) {
      if (name != p.name) continue;
      if (!rules_.count(name)) {
        rules_[name] = p.body;
        for (const char* d : p.deps) primitive(d);
      }
      return name;
    }
    throw std::logic_error("unknown primitive " + name);
  }

  // A new rule name from a hint: GBNF names are [a-zA-Z0-9-]; made unique with a counter.
  std::string fresh_name(const std::string& hint) {
    std::string base;
    for (char c : hint) base += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
    if (base.empty()) base = "r";
    std::string name = base;
    for (int k = 1; rules_.count(name) || reserved_.count(name) || name == "root"; ++k)
      name = base + std::to_string(k);
    reserved_.insert(name);
    return name;
  }

  std::string add_rule(const std::string& hint, const std::string& body) {
    const std::string name = fresh_name(hint);
    rules_[name] = body;
    return name;
  }

  std::string ref(const std::string& target, const std::string& where) {
    auto it = refs_.find(target);
    if (it != refs_.end()) return it->second;
    std::string key;
    if (target.rfind("#/$defs/", 0) == 0) key = "$defs";
    else if (target.rfind("#/definitions/", 0) == 0) key = "definitions";
    else refuse("$ref \"" + target + "\" is not supported (only #/$defs/NAME and #/definitions/NAME)", where);
    const std::string def = target.substr(key.size() + 3);
    if (!root_.is_object() || !root_.contains(key) || !root_[key].is_object() || !root_[key].contains(def))
      refuse("$ref \"" + target + "\" does not resolve", where);
    // Named before its body is built, so a recursive reference finds it.
    const std::string name = fresh_name("ref-" + def);
    refs_[target] = name;
    rules_[name] = expr(root_[key][def], name, target, 0);
    return name;
  }

  static uint64_t count(const json& s, const char* key, uint64_t dflt, const std::string& where) {
    if (!s.contains(key)) return dflt;
    const json& v = s[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      refuse(std::string("\"") + key + "\" must be a non-negative integer", where);
    const uint64_t n = v.get<uint64_t>();
    if (n > 10000) refuse(std::string("\"") + key + "\" above 10000 is not supported", where);
    return n;
  }

  // {lo,hi} in GBNF; hi = UINT64_MAX: unbounded.
  static std::string bounds(uint64_t lo, uint64_t hi) {
    if (hi == UINT64_MAX) return lo == 0 ? "*" : lo == 1 ? "+" : "{" + std::to_string(lo) + ",}";
    if (lo == 0 && hi == 1) return "?";
    if (lo == hi) return "{" + std::to_string(lo) + "}";
    return "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
  }

  std::string expr(const json& s, const std::string& name, const std::string& where, int depth) {
    if (depth > 64) refuse("schema nested more than 64 levels deep", where);
    if (s.is_boolean()) {
      if (!s.get<bool>()) refuse("the schema false matches nothing", where);
      return primitive("value");
    }
    if (!s.is_object()) refuse(std::string("a schema must be an object or a boolean, got ") + s.type_name(), where);
    for (auto it = s.begin(); it != s.end(); ++it)
      if (!handled_keywords().count(it.key()) && !ignored_keywords().count(it.key()))
        refuse("keyword \"" + it.key() + "\" is not supported", where);

    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) refuse("\"$ref\" must be a string", where);
      return ref(s["$ref"].get<std::string>(), where);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      const json& alts = s[key];
      if (!alts.is_array() || alts.empty()) refuse(std::string("\"") + key + "\" must be a non-empty array", where);
      std::string out;
      for (size_t i = 0; i < alts.size(); ++i) {
        const std::string sub = where + "/" + key + "/" + std::to_string(i);
        out += (i ? " | " : "") + add_rule(name + "-" + std::to_string(i), expr(alts[i], name + "-" + std::to_string(i), sub, depth + 1));
      }
      return "(" + out + ")";
    }
    if (s.contains("const")) return gbnf_literal(s["const"].dump()) + " " + primitive("space");
    if (s.contains("enum")) {
      const json& e = s["enum"];
      if (!e.is_array() || e.empty()) refuse("\"enum\" must be a non-empty array", where);
      std::string out;
      for (size_t i = 0; i < e.size(); ++i) out += (i ? " | " : "") + gbnf_literal(e[i].dump());
      return "(" + out + ") " + primitive("space");
    }
    if (s.contains("type") && s["type"].is_array()) {
      std::string out;
      const json& types = s["type"];
      if (types.empty()) refuse("\"type\" must not be an empty array", where);
      for (size_t i = 0; i < types.size(); ++i) {
        json one = s;
        one["type"] = types[i];
        out += (i ? " | " : "") + add_rule(name + "-" + std::to_string(i), expr(one, name, where, depth + 1));
      }
      return "(" + out + ")";
    }
    std::string type;
    if (s.contains("type")) {
      if (!s["type"].is_string()) refuse("\"type\" must be a string or an array of strings", where);
      type = s["type"].get<std::string>();
    } else if (s.contains("properties") || s.contains("additionalProperties")) {
      type = "object";
    } else if (s.contains("items") || s.contains("prefixItems")) {
      type = "array";
    }
    if (type.empty()) return primitive("value");
    if (type == "object") return object(s, name, where, depth);
    if (type == "array") return array(s, name, where, depth);
    if (type == "string") {
      const uint64_t lo = count(s, "minLength", 0, where), hi = count(s, "maxLength", UINT64_MAX, where);
      if (hi < lo) refuse("maxLength below minLength", where);
      if (lo == 0 && hi == UINT64_MAX) return primitive("string");
      return "\"\\\"\" " + primitive("char") + bounds(lo, hi) + " \"\\\"\" " + primitive("space");
    }
    if (type == "number" || type == "integer" || type == "boolean" || type == "null") return primitive(type);
    refuse("type \"" + type + "\" is not supported", where);
  }

  std::string object(const json& s, const std::string& name, const std::string& where, int depth) {
    const std::string sp = primitive("space");
    const bool has_props = s.contains("properties");
    if (has_props && !s["properties"].is_object()) refuse("\"properties\" must be an object", where);
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) refuse("\"required\" must be an array", where);
      for (const auto& r : s["required"]) {
        if (!r.is_string()) refuse("\"required\" must list strings", where);
        required.insert(r.get<std::string>());
      }
    }
    const json* additional = s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
    if (!has_props) {
      if (!required.empty()) refuse("\"required\" without \"properties\" is not supported", where);
      if (additional && additional->is_boolean() && !additional->get<bool>()) return "\"{\" " + sp + " \"}\" " + sp;
      if (!additional || additional->is_boolean()) return primitive("object");
      // A map: any keys, values of one schema.
      const std::string v = add_rule(name + "-additional-value",
                                     expr(*additional, name + "-additional-value", where + "/additionalProperties", depth + 1));
      const std::string kv = add_rule(name + "-kv", primitive("string") + " \":\" " + sp + " " + v);
      return "\"{\" " + sp + " ( " + kv + " ( \",\" " + sp + " " + kv + " )* )? \"}\" " + sp;
    }
    if (additional && !(additional->is_boolean() && !additional->get<bool>()))
      refuse("\"additionalProperties\" other than false next to \"properties\" is not supported", where);

    // Required properties first, then optional ones, each in the order written.
    std::vector<std::string> req, opt;
    std::map<std::string, std::string> kv;
    for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
      const std::string key = it.key();
      const std::string hint = name + "-" + key;
      const std::string v = add_rule(hint, expr(it.value(), hint, where + "/properties/" + key, depth + 1));
      kv[key] = add_rule(hint + "-kv", gbnf_literal(json(key).dump()) + " " + sp + " \":\" " + sp + " " + v);
      (required.count(key) ? req : opt).push_back(key);
    }
    for (const auto& r : required)
      if (!kv.count(r)) refuse("required property \"" + r + "\" is not in \"properties\"", where);

    std::string body = "\"{\" " + sp;
    for (size_t i = 0; i < req.size(); ++i) body += (i ? " \",\" " + sp + " " : " ") + kv[req[i]];
    if (!opt.empty()) {
      // Any subset of the optional properties, in order: starting at opt[j], then rest[j+1],
      // where rest[i] ::= ( "," kv_i )? rest[i+1].
      std::vector<std::string> rest(opt.size() + 1);
      for (size_t i = opt.size(); i-- > 1;)
        rest[i] = add_rule(name + "-rest", "( \",\" " + sp + " " + kv[opt[i]] + " )?" + (rest[i + 1].empty() ? "" : " " + rest[i + 1]));
      std::string starts;
      for (size_t j = 0; j < opt.size(); ++j)
        starts += (j ? " | " : "") + kv[opt[j]] + (rest[j + 1].empty() ? "" : " " + rest[j + 1]);
      body += req.empty() ? " ( " + starts + " )?" : " ( \",\" " + sp + " ( " + starts + " ) )?";
    }
    return body + " \"}\" " + sp;
  }

  std::string array(const json& s, const std::string& name, const std::string& where, int depth) {
    const std::string sp = primitive("space");
    if (s.contains("prefixItems")) {
      const json& p = s["prefixItems"];
      if (!p.is_array()) refuse("\"prefixItems\" must be an array", where);
      if (s.contains("items") && !(s["items"].is_boolean() && !s["items"].get<bool>()))
        refuse("\"items\" next to \"prefixItems\" is supported only as false", where);
      std::string body = "\"[\" " + sp;
      for (size_t i = 0; i < p.size(); ++i) {
        const std::string hint = name + "-" + std::to_string(i);
        const std::string item = add_rule(hint, expr(p[i], hint, where + "/prefixItems/" + std::to_string(i), depth + 1));
        body += (i ? " \",\" " + sp + " " : " ") + item;
      }
      return body + " \"]\" " + sp;
    }
    std::string item;
    if (s.contains("items")) {
      item = add_rule(name + "-item", expr(s["items"], name + "-item", where + "/items", depth + 1));
    } else {
      item = primitive("value");
    }
    const uint64_t lo = count(s, "minItems", 0, where), hi = count(s, "maxItems", UINT64_MAX, where);
    if (hi < lo) refuse("maxItems below minItems", where);
    if (hi == 0) return "\"[\" " + sp + " \"]\" " + sp;
    const std::string more = "( \",\" " + sp + " " + item + " )";
    const uint64_t more_hi = hi == UINT64_MAX ? UINT64_MAX : hi - 1;
    if (lo == 0) {
      const std::string tail = more_hi == 0 ? "" : " " + more + bounds(0, more_hi);
      return "\"[\" " + sp + " ( " + item + tail + " )? \"]\" " + sp;
    }
    const std::string tail = (lo == 1 && more_hi == 0) ? "" : " " + more + bounds(lo - 1, more_hi);
    return "\"[\" " + sp + " " + item + tail + " \"]\" " + sp;
  }

  const json& root_;
  std::map<std::string, std::string> rules_;
  std::set<std::string> reserved_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema) {
  json root;
  try {
    root = json::parse(schema.begin(), schema.end());
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1E999
    throw GrammarError(std::string("json-schema is not valid JSON: ") + e.what());
  }
  try {
    return Converter(root).run();
  } catch (const json::exception& e) {  // a value of a type the checks above did not expect
    throw GrammarError(std::string("json-schema: ") + e.what());
  }
}

}  // namespace nnb::grammar
