#include "rpc/server_log.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace nnb::rpc {
namespace {

// Length of the valid UTF-8 sequence starting at s[i] (0: invalid), its code point in *cp.
// Overlong forms, surrogates and values past U+10FFFF are invalid.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t* cp) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  size_t n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) n = 2, v = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, v = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, v = c & 0x07, min = 0x10000;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

// Characters that are valid but change how a line reads: C1 controls, line/paragraph
// separators, bidi embeddings/overrides/isolates, zero-width and direction marks, BOM.
bool is_invisible_or_breaking(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

std::string bytes_note(size_t n) { return "\u2026 (" + std::to_string(n) + " bytes)"; }

// Where to cut `s` to keep at most `max` bytes without splitting a UTF-8 sequence.
size_t cut_point(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t cut = max;
  // Step back over continuation bytes (at most 3) to the start of the character.
  for (int k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80; ++k) --cut;
  return cut;
}

}  // namespace

std::string log_escape(std::string_view s, size_t max_bytes) {
  const size_t keep = cut_point(s, max_bytes);
  std::string out;
  out.reserve(keep + 16);
  char buf[16];
  for (size_t i = 0; i < keep;) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += "\\\\";
      else out += char(c);
      ++i;
      continue;
    }
    switch (c) {
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    uint32_t cp = 0;
    const size_t n = c >= 0x80 ? utf8_sequence(s.substr(0, keep), i, &cp) : 0;
    if (n == 0) {  // a control character or a byte that is not part of valid UTF-8
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(c));
      out += buf;
      ++i;
    } else if (is_invisible_or_breaking(cp)) {
      std::snprintf(buf, sizeof buf, "\\u{%04x}", unsigned(cp));
      out += buf;
      i += n;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  if (keep < s.size()) out += bytes_note(s.size());
  return out;
}

std::string log_field(std::string_view s, size_t max_bytes) {
  const size_t keep = cut_point(s, max_bytes);
  if (keep == s.size()) return std::string(s);
  return std::string(s.substr(0, keep)) + bytes_note(s.size());
}

std::string log_session(std::string_view id) {
  if (id.empty()) return "-";
  if (id[0] == '@') return std::string(id);  // an anonymous session's peer: not a secret
  if (id.size() <= 8) return std::string(id);
  return std::string(id.substr(0, 8)) + "\u2026";
}

std::string generation_line(const GenerationRecord& r) {
  char num[64];
  std::string l = "generation: session=" + log_session(r.session) + " model=\"" + log_field(r.model) + "\"" +
                  " prompt_tokens=" + std::to_string(r.prompt_tokens) +
                  " output_tokens=" + std::to_string(r.output_tokens);
  if (r.prompt_seconds >= 0) {
    std::snprintf(num, sizeof num, " prompt_s=%.3f", r.prompt_seconds);
    l += num;
  }
  if (r.tokens_per_s >= 0) {
    std::snprintf(num, sizeof num, " tokens_per_s=%.1f", r.tokens_per_s);
    l += num;
  }
  if (!r.stop.empty()) l += " stop=" + log_field(r.stop, 40);
  l += " via=" + std::string(r.via);
  return l;
}

std::string wasi_generation_line(std::string_view via, std::string_view session, std::string_view model,
                                 nn::ExecutionContext& ctx, double seconds, const nn::Error* end) {
  nlohmann::json meta;
  try {
    const auto m = ctx.get_output(1);
    meta = nlohmann::json::parse(m.begin(), m.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const nn::Error&) {
    return {};  // a backend without metadata: nothing to report
  }
  if (!meta.is_object() || !meta.contains("output_tokens")) return {};
  GenerationRecord r;
  r.via = via;
  r.session = session;
  r.model = model;
  r.prompt_tokens = meta.value("input_tokens", uint64_t(0));
  r.output_tokens = meta.value("output_tokens", uint64_t(0));
  if (seconds > 0) r.tokens_per_s = double(r.output_tokens) / seconds;  // prompt time included
  // The backend's typed reason; else, from a backend that cannot tell, the errno's.
  if (end) {
    const auto by_errno =
        end->code() == nn::Errno::ContextFull ? nn::StopReason::ContextFull : nn::StopReason::EndOfGeneration;
    r.stop = nn::stop_reason_name(ctx.stop_reason().value_or(by_errno));
  }
  return generation_line(r);
}

std::string LogLimiter::kind_of(std::string_view line) {
  // Only the head of the line is looked at; kinds stay short server-side names.
  constexpr size_t kHead = 80;
  const std::string_view head = line.substr(0, kHead);
  const size_t failed = head.find(" failed: errno=");
  if (failed != std::string_view::npos) {
    size_t end = failed + 15;
    while (end < head.size() && head[end] >= '0' && head[end] <= '9') ++end;
    return std::string(head.substr(0, end));
  }
  const size_t refused = head.find(" refused");
  if (refused != std::string_view::npos) return std::string(head.substr(0, refused + 8));
  return {};
}

std::string LogLimiter::summary(const std::string& kind, const Window& w, Clock::time_point now) const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", std::chrono::duration<double>(now - w.start).count());
  return "\u2026 suppressed " + std::to_string(w.suppressed) + " similar line" + (w.suppressed == 1 ? "" : "s") +
         " (" + kind + ") in the last " + secs + " s";
}

void LogLimiter::collect_due(Clock::time_point now, bool all, std::vector<std::string>& out) {
  for (auto it = kinds_.begin(); it != kinds_.end();) {
    if (!all && now - it->second.start < window_) {
      ++it;
      continue;
    }
    if (it->second.suppressed) out.push_back(summary(it->first, it->second, now));
    it = kinds_.erase(it);  // the next line of this kind starts a fresh window
  }
}

bool LogLimiter::admit(const std::string& kind, Clock::time_point now, std::vector<std::string>& summaries) {
  std::lock_guard<std::mutex> lk(mu_);
  collect_due(now, false, summaries);
  if (kind.empty()) return true;
  auto it = kinds_.find(kind);
  if (it == kinds_.end()) {
    // Kinds are server-side names, so this bound is not reached in practice; past it a new
    // kind is written untracked rather than the table growing.
    constexpr size_t kMaxKinds = 512;
    if (kinds_.size() >= kMaxKinds) return true;
    it = kinds_.emplace(kind, Window{now, 0, 0}).first;
  }
  Window& w = it->second;  // current: collect_due removed the windows that have ended
  if (w.written < burst_) {
    ++w.written;
    return true;
  }
  ++w.suppressed;
  return false;
}

std::vector<std::string> LogLimiter::due(Clock::time_point now, bool all) {
  std::vector<std::string> out;
  std::lock_guard<std::mutex> lk(mu_);
  collect_due(now, all, out);
  return out;
}

}  // namespace nnb::rpc
