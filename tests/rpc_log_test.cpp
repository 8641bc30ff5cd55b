// The server's log hygiene (rpc/server_log.h) in isolation: escaping, truncation, the
// generation line and the per-kind rate limiter, with time passed in so that every case is
// exact. The same rules seen through a real server's log are in rpc_security_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "rpc/server_log.h"

namespace nnb::rpc {
namespace {

using namespace std::chrono_literals;

TEST(RpcLog, ControlCharactersAreEscapedSoNoLineCanBeForged) {
  EXPECT_EQ(log_escape("plain text 123"), "plain text 123");
  EXPECT_EQ(log_escape("a\nnnbridge serve: listening on evil"), "a\\nnnbridge serve: listening on evil");
  EXPECT_EQ(log_escape("cr\rtab\tnul", 100), "cr\\rtab\\tnul");
  EXPECT_EQ(log_escape(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(log_escape("\x1b[31mred\x7f"), "\\x1b[31mred\\x7f");  // terminal escapes, DEL
  // A backslash is doubled, so "\n" typed by a client stays distinguishable from a newline.
  EXPECT_EQ(log_escape("back\\nslash"), "back\\\\nslash");
}

TEST(RpcLog, Utf8IsKeptInvalidBytesAndLineBreakingCharactersAreNot) {
  EXPECT_EQ(log_escape("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac");
  EXPECT_EQ(log_escape("bad \xff\xc3"), "bad \\xff\\xc3");                  // invalid / cut sequence
  EXPECT_EQ(log_escape("over\xc0\xaflong"), "over\\xc0\\xaflong");           // overlong '/'
  EXPECT_EQ(log_escape("surrogate \xed\xa0\x80"), "surrogate \\xed\\xa0\\x80");
  EXPECT_EQ(log_escape("c1 \xc2\x85 next"), "c1 \\u{0085} next");            // NEL
  EXPECT_EQ(log_escape("ls \xe2\x80\xa8 ps \xe2\x80\xa9"), "ls \\u{2028} ps \\u{2029}");
  EXPECT_EQ(log_escape("rlo \xe2\x80\xae txt"), "rlo \\u{202e} txt");        // bidi override
}

TEST(RpcLog, LongStringsAreCutWithTheirLength) {
  const std::string mb(1 << 20, 'A');
  const std::string cut = log_escape(mb, 200);
  EXPECT_EQ(cut, std::string(200, 'A') + "\u2026 (1048576 bytes)");
  EXPECT_EQ(log_field(mb), std::string(kLogFieldMax, 'A') + "\u2026 (1048576 bytes)");
  EXPECT_EQ(log_field("short"), "short");
  // Never in the middle of a UTF-8 character: 3-byte characters cut at 200 keep 66 of them.
  std::string jp;
  for (int i = 0; i < 100; ++i) jp += "\xe6\x97\xa5";
  const std::string f = log_field(jp, 200);
  EXPECT_EQ(f.substr(0, 198), jp.substr(0, 198));
  EXPECT_EQ(f.substr(198), "\u2026 (300 bytes)");
  EXPECT_EQ(log_escape(jp, 200).substr(198), "\u2026 (300 bytes)");
}

TEST(RpcLog, GenerationLineShowsOnlyASessionPrefix) {
  GenerationRecord r;
  r.via = "generate";
  r.session = "0123456789abcdef0123456789abcdef";  // a credential: never logged whole
  r.model = "default";
  r.prompt_tokens = 5;
  r.output_tokens = 24;
  r.prompt_seconds = 0.0125;
  r.tokens_per_s = 312.44;
  r.stop = "n_predict";
  EXPECT_EQ(generation_line(r),
            "generation: session=01234567\u2026 model=\"default\" prompt_tokens=5 output_tokens=24 prompt_s=0.013 "
            "tokens_per_s=312.4 stop=n_predict via=generate");
  r.session = "@unix";  // a WasmEdge client's anonymous session: its peer, not a secret
  r.prompt_seconds = -1;
  r.tokens_per_s = -1;
  r.stop = {};
  r.via = "compute_single";
  EXPECT_EQ(generation_line(r),
            "generation: session=@unix model=\"default\" prompt_tokens=5 output_tokens=24 via=compute_single");
}

TEST(RpcLog, FailureKindsAreServerNames) {
  EXPECT_EQ(LogLimiter::kind_of("load_by_name failed: errno=103 (NotFound): model 'x' is not preloaded"),
            "load_by_name failed: errno=103");
  EXPECT_EQ(LogLimiter::kind_of("set_input refused: missing or wrong bearer token (peer unix:)"), "set_input refused");
  EXPECT_EQ(LogLimiter::kind_of("session refused: Session needs `nnbridge-session` metadata"), "session refused");
  EXPECT_EQ(LogLimiter::kind_of("listening on unix:///x.sock (socket mode 0600)"), "");
  EXPECT_EQ(LogLimiter::kind_of("generation: session=@unix model=\"m\" prompt_tokens=1"), "");
}

TEST(RpcLog, RepeatedFailuresAreLimitedPerKindAndCountedExactly) {
  LogLimiter lim(/*burst=*/3, /*window=*/1s);
  const auto t0 = LogLimiter::Clock::time_point() + 100s;
  std::vector<std::string> summaries;
  int written_a = 0, written_b = 0;
  for (int i = 0; i < 10; ++i) written_a += lim.admit("a failed: errno=1", t0 + i * 10ms, summaries);
  for (int i = 0; i < 2; ++i) written_b += lim.admit("b refused", t0 + i * 10ms, summaries);
  EXPECT_EQ(written_a, 3);  // the burst, then counted
  EXPECT_EQ(written_b, 2);  // another kind has its own budget
  EXPECT_TRUE(lim.admit("", t0, summaries));  // unlimited lines always pass
  EXPECT_TRUE(summaries.empty());
  EXPECT_TRUE(lim.due(t0 + 500ms).empty());  // the window is not over yet

  // The window is over: one summary for the 7 suppressed lines, reported once; "b" lost none.
  auto due = lim.due(t0 + 1s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], "\u2026 suppressed 7 similar lines (a failed: errno=1) in the last 1.0 s");
  EXPECT_TRUE(lim.due(t0 + 2s).empty());

  // A new window: the burst is available again. A line arriving after a window ended with
  // suppressions brings that window's summary with it (to be written before the line).
  for (int i = 0; i < 5; ++i) lim.admit("a failed: errno=1", t0 + 3s, summaries);
  EXPECT_TRUE(summaries.empty());
  EXPECT_TRUE(lim.admit("a failed: errno=1", t0 + 4500ms, summaries));
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0], "\u2026 suppressed 2 similar lines (a failed: errno=1) in the last 1.5 s");

  // Shutdown reports what the current window has suppressed so far.
  for (int i = 0; i < 4; ++i) lim.admit("a failed: errno=1", t0 + 4600ms, summaries);
  due = lim.due(t0 + 4700ms, /*all=*/true);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0], "\u2026 suppressed 2 similar lines (a failed: errno=1) in the last 0.2 s");
}

}  // namespace
}  // namespace nnb::rpc
