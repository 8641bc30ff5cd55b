// Secure by default: the socket is 0600, plain TCP off loopback is refused (loopback decided
// by the resolved address), TLS (and mutual TLS) works, bearer tokens are enforced (health
// included; a token file others can read is warned about), oversized messages are refused
// without hurting other clients, sessions cannot reach each other's handles or options, and
// client strings reach the log escaped, cut and rate-limited.
#include <sys/stat.h>

#include <future>
#include <regex>
#include <set>
#include <sstream>

#include "health.grpc.pb.h"
#include "rpc/common.h"
#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (stat(p.c_str(), &st) != 0) return 0xFFFF;
  return st.st_mode & 07777;
}

TEST(RpcSecurity, UnixSocketIs0600UnlessAskedOtherwise) {
  {
    Served srv("rpc_sec_mode");
    ASSERT_TRUE(srv.ready);
    EXPECT_EQ(mode_of(srv.sock), 0600u);
    EXPECT_TRUE(fs::is_socket(srv.sock));
  }
  {
    Served srv("rpc_sec_mode_660", {"--socket-mode", "0660"});
    ASSERT_TRUE(srv.ready);
    EXPECT_EQ(mode_of(srv.sock), 0660u);
  }
  Served bad("rpc_sec_mode_bad", {"--socket-mode", "999"}, /*expect_ready=*/false);
  EXPECT_FALSE(bad.ready);
  EXPECT_NE(bad.proc->log().find("--socket-mode"), std::string::npos) << bad.proc->log();
}

// "listening on HOST:PORT" → PORT.
int listening_port(const std::string& log) {
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("listening on [^ ]*:([0-9]+)"))) return 0;
  return std::stoi(m[1]);
}

std::vector<std::string> tcp_args(const fs::path& model, const std::string& uri) {
  return {"--nn-rpc-uri", uri, "--nn-preload", "default:GGML:AUTO:" + model.string()};
}

TEST(RpcSecurity, PlainTcpOffLoopbackIsRefusedUnlessInsecure) {
  auto dir = test::scratch_dir("rpc_sec_tcp");
  auto model = generated_model(dir);
  {
    ServeProcess p(tcp_args(model, "0.0.0.0:0"), dir / "refused.log");
    const int st = p.wait_exit();
    ASSERT_TRUE(WIFEXITED(st)) << p.log();
    EXPECT_NE(WEXITSTATUS(st), 0);
    EXPECT_NE(p.log().find("refusing to serve plain-text gRPC on non-loopback address"), std::string::npos) << p.log();
  }
  for (const char* uri : {"127.0.0.1:0", "0.0.0.0:0"}) {
    SCOPED_TRACE(uri);
    auto args = tcp_args(model, uri);
    if (std::string(uri).rfind("0.0.0.0", 0) == 0) args.push_back("--insecure");
    ServeProcess p(args, dir / (std::string(uri).substr(0, 3) + ".log"));
    ASSERT_TRUE(p.wait_ready()) << p.log();
    const int port = listening_port(p.log());
    ASSERT_GT(port, 0) << p.log();
    Wasi w(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    auto r = w.load("default", nullptr);
    EXPECT_TRUE(r.ok()) << r.status.error_message() << "\n" << p.log();
  }
}

TEST(RpcSecurity, LoopbackIsDecidedByTheResolvedAddressNotTheSpelling) {
  auto loopback = [](const std::string& uri) { return rpc::parse_endpoint(uri).is_loopback(); };
  for (const char* uri : {"127.0.0.1:1", "127.1.2.3:1", "localhost:1", "[::1]:1", "[::ffff:127.0.0.1]:1"}) {
    SCOPED_TRACE(uri);
    EXPECT_TRUE(loopback(uri));
  }
  // Names are not addresses: "127.evil.example" could resolve anywhere (here it does not
  // resolve at all, which is refused too), and wildcard or other addresses are not loopback.
  for (const char* uri : {"127.evil.example:1", "127.0.0.1.nip.io:1", "localhost.evil.example:1", "0.0.0.0:1",
                          "[::]:1", "10.0.0.1:1", "[::ffff:10.0.0.1]:1"}) {
    SCOPED_TRACE(uri);
    EXPECT_FALSE(loopback(uri));
  }
  EXPECT_TRUE(loopback("unix:///tmp/x.sock"));

  auto dir = test::scratch_dir("rpc_sec_loopback_name");
  ServeProcess p(tcp_args(generated_model(dir), "127.evil.example:0"), dir / "serve.log");
  const int st = p.wait_exit();
  ASSERT_TRUE(WIFEXITED(st)) << p.log();
  EXPECT_NE(WEXITSTATUS(st), 0);
  EXPECT_NE(p.log().find("refusing to serve plain-text gRPC on non-loopback address 127.evil.example"),
            std::string::npos)
      << p.log();
}

bool have_openssl() { return std::system("openssl version >/dev/null 2>&1") == 0; }

// CA, a server certificate for 127.0.0.1 and a client certificate, all ECDSA P-256.
bool make_pki(const fs::path& d) {
  const std::string q = "cd '" + d.string() + "' && ";
  const std::string key = "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes ";
  const std::string cmds[] = {
      key + "-x509 -days 2 -subj /CN=nnbridge-test-ca -keyout ca.key -out ca.pem",
      key + "-subj /CN=127.0.0.1 -keyout server.key -out server.csr",
      "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 2 -extfile san.ext -out server.pem",
      key + "-subj /CN=client -keyout client.key -out client.csr",
      "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem",
  };
  for (const auto& c : cmds)
    if (std::system((q + c + " >/dev/null 2>&1").c_str()) != 0) return false;
  return true;
}

TEST(RpcSecurity, TlsAndMutualTls) {
  if (!have_openssl()) GTEST_SKIP() << "openssl command not available to make test certificates";
  auto dir = test::scratch_dir("rpc_sec_tls");
  auto model = generated_model(dir);
  ASSERT_TRUE(make_pki(dir));
  const std::string ca = slurp(dir / "ca.pem");
  auto tls_channel = [&](int port, bool with_client_cert) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ca;
    if (with_client_cert) {
      o.pem_private_key = slurp(dir / "client.key");
      o.pem_cert_chain = slurp(dir / "client.pem");
    }
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(o));
  };
  auto quick = [](Wasi& w) {
    grpc::ClientContext c;
    prepare(c);
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    npb::ListModelsResponse rs;
    return w.stubs().nnb->ListModels(&c, npb::ListModelsRequest{}, &rs);
  };
  {  // TLS off loopback: allowed without --insecure; plain-text clients cannot talk to it.
    auto args = tcp_args(model, "0.0.0.0:0");
    for (std::string a : {std::string("--tls-cert"), (dir / "server.pem").string(), std::string("--tls-key"),
                          (dir / "server.key").string()})
      args.push_back(a);
    ServeProcess p(args, dir / "tls.log");
    ASSERT_TRUE(p.wait_ready()) << p.log();
    EXPECT_NE(p.log().find("TLS"), std::string::npos);
    const int port = listening_port(p.log());
    Wasi tls(tls_channel(port, false));
    EXPECT_TRUE(quick(tls).ok());
    EXPECT_TRUE(tls.load("default", nullptr).ok());
    Wasi plain(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    EXPECT_FALSE(quick(plain).ok());
  }
  {  // Mutual TLS: a client without a certificate from the CA is turned away.
    auto args = tcp_args(model, "127.0.0.1:0");
    for (std::string a : {std::string("--tls-cert"), (dir / "server.pem").string(), std::string("--tls-key"),
                          (dir / "server.key").string(), std::string("--tls-client-ca"), (dir / "ca.pem").string()})
      args.push_back(a);
    ServeProcess p(args, dir / "mtls.log");
    ASSERT_TRUE(p.wait_ready()) << p.log();
    const int port = listening_port(p.log());
    Wasi no_cert(tls_channel(port, false)), with_cert(tls_channel(port, true));
    EXPECT_FALSE(quick(no_cert).ok());
    EXPECT_TRUE(quick(with_cert).ok());
  }
  {  // Half a TLS configuration is an error, not a silent fallback to plain text.
    auto args = tcp_args(model, "127.0.0.1:0");
    args.push_back("--tls-cert");
    args.push_back((dir / "server.pem").string());
    ServeProcess p(args, dir / "half.log");
    const int st = p.wait_exit();
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_NE(WEXITSTATUS(st), 0);
    EXPECT_NE(p.log().find("--tls-key"), std::string::npos) << p.log();
  }
}

TEST(RpcSecurity, BearerTokenIsRequiredOnEveryCall) {
  auto dir = test::scratch_dir("rpc_sec_token_file");
  const std::string token = "8d1f0c4b9e2a47d6b3c5e7f9a1b2c3d4";
  std::ofstream(dir / "token") << token << "\n";
  Served srv("rpc_sec_token", {"--auth-token-file", (dir / "token").string()});
  ASSERT_TRUE(srv.ready);
  auto ch = srv.channel();
  for (const std::string& wrong : {std::string(), std::string("guess"), token.substr(0, 31), token + "x"}) {
    SCOPED_TRACE("token '" + wrong + "'");
    Wasi w(ch, CallOpts("", wrong));
    auto r = w.load("default", nullptr);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(r.errno_trailer, 5);  // WasmEdge clients read the trailer
    EXPECT_EQ(w.init(1, nullptr).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(generate(w.stubs(), w.opts(), "default", "Once", greedy_options(4)).status.error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext c;
    prepare(c, w.opts());
    npb::ListModelsResponse rs;
    EXPECT_EQ(w.stubs().nnb->ListModels(&c, {}, &rs).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    SessionStream s(w.stubs(), CallOpts("some-session", wrong));
    EXPECT_FALSE(s.attached());
  }
  Wasi ok(ch, CallOpts("token-holder", token));
  SessionStream s(ok.stubs(), ok.opts());
  EXPECT_TRUE(s.attached());
  EXPECT_EQ(ok.run_unary("default", "Once", greedy_options(8)), engine_greedy(srv.model, "Once", 8));
  EXPECT_NE(srv.proc->log().find("bearer token"), std::string::npos);

  // A token file holding nothing usable stops start-up.
  std::ofstream(dir / "weak") << "short\n";
  Served weak("rpc_sec_token_weak", {"--auth-token-file", (dir / "weak").string()}, false);
  EXPECT_FALSE(weak.ready);
  EXPECT_NE(weak.proc->log().find("at least 16 characters"), std::string::npos) << weak.proc->log();

  // Files that are no token file are refused at once, never read without end or waited on:
  // /dev/zero (was: read until out of memory), a FIFO nobody writes (was: start-up hung), a
  // directory, a file over 64 KiB.
  ::mkfifo((dir / "fifo").c_str(), 0600);
  std::ofstream(dir / "big") << std::string(70000, 'a');
  const std::vector<std::pair<std::string, std::string>> bad = {{"/dev/zero", "not a regular file"},
                                                                {(dir / "fifo").string(), "not a regular file"},
                                                                {dir.string(), "not a regular file"},
                                                                {(dir / "big").string(), "larger than 64 KiB"}};
  for (const auto& [file, why] : bad) {
    Served no("rpc_sec_token_bad", {"--auth-token-file", file}, false);
    EXPECT_FALSE(no.ready) << file;
    EXPECT_TRUE(eventually([&] { return no.proc->log().find(why) != std::string::npos; }, 10)) << file << "\n"
                                                                                          << no.proc->log();
  }
}

fs::path token_file(const fs::path& dir, const std::string& token, mode_t mode) {
  const fs::path p = dir / ("token-" + std::to_string(mode));
  std::ofstream(p) << token << "\n";
  chmod(p.c_str(), mode);
  return p;
}

namespace hpb = ::grpc::health::v1;

TEST(RpcSecurity, HealthNeedsTheTokenToo) {
  auto dir = test::scratch_dir("rpc_sec_health_token");
  const std::string token = "5b2e8f1a9c3d47e6a0b1c2d3e4f5a6b7";
  Served srv("rpc_sec_health", {"--auth-token-file", token_file(dir, token, 0600).string()});
  ASSERT_TRUE(srv.ready);
  auto stub = hpb::Health::NewStub(srv.channel());
  auto check = [&](const std::string& tok, const std::string& service, hpb::HealthCheckResponse* res) {
    grpc::ClientContext c;
    prepare(c, CallOpts("", tok));
    hpb::HealthCheckRequest rq;
    rq.set_service(service);
    const grpc::Status st = stub->Check(&c, rq, res);
    return std::make_pair(st, trailer_errno(c));
  };
  hpb::HealthCheckResponse res;
  for (const std::string& wrong : {std::string(), std::string("guess"), token + "x"}) {
    SCOPED_TRACE("token '" + wrong + "'");
    const auto [st, e] = check(wrong, "", &res);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
    EXPECT_EQ(e, 5);
  }
  auto [ok, e] = check(token, "", &res);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(res.status(), hpb::HealthCheckResponse::SERVING);
  ASSERT_TRUE(check(token, "nnbridge.v1.Nnbridge", &res).first.ok());
  EXPECT_EQ(res.status(), hpb::HealthCheckResponse::SERVING);
  ASSERT_TRUE(check(token, "wasi_ephemeral_nn.Graph", &res).first.ok());
  EXPECT_EQ(res.status(), hpb::HealthCheckResponse::SERVING);
  EXPECT_EQ(check(token, "no.such.Service", &res).first.error_code(), grpc::StatusCode::NOT_FOUND);

  // Watch: refused without the token; with it, the status comes at once and the stream stays.
  {
    grpc::ClientContext c;
    prepare(c);
    auto r = stub->Watch(&c, hpb::HealthCheckRequest());
    hpb::HealthCheckResponse m;
    EXPECT_FALSE(r->Read(&m));
    EXPECT_EQ(r->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext c;
    prepare(c, CallOpts("", token));
    auto r = stub->Watch(&c, hpb::HealthCheckRequest());
    hpb::HealthCheckResponse m;
    ASSERT_TRUE(r->Read(&m));
    EXPECT_EQ(m.status(), hpb::HealthCheckResponse::SERVING);
    c.TryCancel();
    while (r->Read(&m)) {
    }
    EXPECT_EQ(r->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  EXPECT_NE(srv.proc->log().find("health_check refused"), std::string::npos) << srv.proc->log();
  EXPECT_NE(srv.proc->log().find("health_watch refused"), std::string::npos) << srv.proc->log();
}

TEST(RpcSecurity, ATokenFileOthersCanReadIsWarnedAbout) {
  auto dir = test::scratch_dir("rpc_sec_token_mode");
  const std::string token = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
  const struct {
    mode_t mode;
    const char* says;  // nullptr: no warning
  } cases[] = {{0600, nullptr}, {0400, nullptr}, {0640, "open to its group (mode 0640)"},
               {0644, "open to every user of this host (mode 0644)"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.mode);
    Served srv("rpc_sec_token_mode_" + std::to_string(c.mode),
               {"--auth-token-file", token_file(dir, token, c.mode).string()});
    ASSERT_TRUE(srv.ready);  // a warning, not a refusal
    const std::string log = srv.proc->log();
    if (c.says) {
      EXPECT_NE(log.find("warning: --auth-token-file"), std::string::npos) << log;
      EXPECT_NE(log.find(c.says), std::string::npos) << log;
      EXPECT_NE(log.find("chmod 600"), std::string::npos) << log;
    } else {
      EXPECT_EQ(log.find("warning: --auth-token-file"), std::string::npos) << log;
    }
    // The token is enforced either way.
    EXPECT_EQ(Wasi(srv.channel()).load("default", nullptr).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(Wasi(srv.channel(), CallOpts("", token)).load("default", nullptr).ok());
  }
}

std::vector<std::string> log_lines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

TEST(RpcSecurity, ClientStringsReachTheLogEscapedAndCut) {
  Served srv("rpc_sec_log_inject");
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  // A name that would forge a start-up line, one that clears a terminal, a 1 MB one.
  EXPECT_EQ(w.load("x\nnnbridge serve: listening on unix:///forged.sock", nullptr).errno_trailer, 8);  // NotFound
  EXPECT_EQ(w.load("y\x1b[2J\x1b[31mred", nullptr).errno_trailer, 8);
  const std::string big(1 << 20, 'Z');
  const Result r = w.load(big, nullptr);
  EXPECT_EQ(r.errno_trailer, 8) << r.status.error_message().substr(0, 200);
  // Nor is it echoed whole to the client: the status message is cut too (a 1 MB message would
  // not even fit in HTTP/2 trailers, and the client would get no errno at all).
  EXPECT_LT(r.status.error_message().size(), 2048u);
  ASSERT_TRUE(eventually([&] { return srv.proc->log().find("ZZZZ") != std::string::npos; }, 10));
  const std::string log = srv.proc->log();
  size_t forged = 0, big_lines = 0;
  for (const auto& l : log_lines(log)) {
    if (l.find("forged.sock") != std::string::npos && l.rfind("nnbridge serve: listening", 0) == 0) ++forged;
    EXPECT_LT(l.size(), 1024u) << l.substr(0, 200);  // no line echoes the 1 MB name
    if (l.find("ZZZZ") != std::string::npos) {
      ++big_lines;
      EXPECT_NE(l.find("\u2026 ("), std::string::npos) << l;  // "… (N bytes)": cut, and says so
    }
  }
  EXPECT_EQ(forged, 0u) << log;
  EXPECT_EQ(big_lines, 1u) << log;
  EXPECT_NE(log.find("x\\nnnbridge serve: listening on unix:///forged.sock"), std::string::npos) << log;
  EXPECT_NE(log.find("y\\x1b[2J\\x1b[31mred"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "a raw escape character reached the log";
}

TEST(RpcSecurity, RepeatedFailuresAreRateLimitedAndCountedExactly) {
  Served srv("rpc_sec_log_flood");
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) ASSERT_EQ(w.init(12345, nullptr).errno_trailer, 1);  // unknown graph
  // Lines written + the counts of the "suppressed K similar lines" summaries (written by the
  // server within about a second of each window's end) account for every failure.
  const std::string kind = "init_execution_context failed: errno=1";
  const std::regex summary("suppressed ([0-9]+) similar lines? \\(" + kind + "\\)");
  size_t written = 0, suppressed = 0, summaries = 0;
  auto tally = [&] {
    written = suppressed = summaries = 0;
    for (const auto& l : log_lines(srv.proc->log())) {
      std::smatch m;
      if (std::regex_search(l, m, summary)) {
        suppressed += std::stoul(m[1]);
        ++summaries;
      } else if (l.find(kind) != std::string::npos) {
        ++written;
      }
    }
    return written + suppressed == size_t(kCalls);
  };
  EXPECT_TRUE(eventually(tally, 30)) << written << " written + " << suppressed << " suppressed\n" << srv.proc->log();
  EXPECT_GT(suppressed, 0u);
  EXPECT_GE(summaries, 1u);
  std::printf("[ measured ] %d failed calls: %zu lines written, %zu suppressed in %zu summary lines\n", kCalls,
              written, suppressed, summaries);
  // Other lines are not limited: the next (different) failure is written at once.
  EXPECT_EQ(w.load("no-such-model", nullptr).errno_trailer, 8);
  EXPECT_TRUE(eventually([&] { return srv.proc->log().find("no model named 'no-such-model'") != std::string::npos; }, 10));
}

TEST(RpcSecurity, OneLogLinePerGeneration) {
  Served srv("rpc_sec_log_generation");
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel(), CallOpts("0123456789abcdef0123456789abcdef"));
  SessionStream session(w.stubs(), w.opts());
  ASSERT_TRUE(session.attached());
  ASSERT_TRUE(generate(w.stubs(), w.opts(), "default", "Once", greedy_options(6)).status.ok());
  Wasi anon(srv.channel());  // a WasmEdge client: compute, and a compute_single stream
  EXPECT_NE(anon.run_unary("default", "Once", greedy_options(5)), "<failed>");
  EXPECT_NE(anon.run_single("default", "Once", greedy_options(4)).rfind("<failed", 0), 0u);
  const std::string log = srv.proc->log();
  // The session id is a credential: only its first 8 characters appear.
  EXPECT_NE(log.find("generation: session=01234567\u2026 model=\"default\""), std::string::npos) << log;
  EXPECT_EQ(log.find("0123456789abcdef"), std::string::npos) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("output_tokens=6 prompt_s=[0-9.]+ tokens_per_s=[0-9.]+ "
                                                "stop=n_predict via=generate")))
      << log;
  EXPECT_TRUE(std::regex_search(log, std::regex("session=@unix model=\"default\" prompt_tokens=[0-9]+ "
                                                "output_tokens=5 tokens_per_s=[0-9.]+ via=compute\n")))
      << log;
  EXPECT_TRUE(std::regex_search(
      log, std::regex("session=@unix model=\"default\" prompt_tokens=[0-9]+ output_tokens=4 stop=n_predict "
                      "via=compute_single")))
      << log;
}

TEST(RpcSecurity, OversizedMessageIsRefusedWhileOthersKeepWorking) {
  Served srv("rpc_sec_big");
  ASSERT_TRUE(srv.ready);
  Wasi big(srv.channel(size_t(1) << 30), CallOpts("big-sender"));
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(big.load("default", &g).ok());
  ASSERT_TRUE(big.init(g, &x).ok());
  const std::string huge(size_t(100) << 20, 'a');
  auto sending = std::async(std::launch::async, [&] { return big.set_input(x, 0, huge); });
  // Another client is served normally meanwhile.
  Wasi other(srv.channel(), CallOpts("bystander"));
  EXPECT_EQ(other.run_unary("default", "Once", greedy_options(16)), engine_greedy(srv.model, "Once", 16));
  const Result r = sending.get();
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << r.status.error_message();
  EXPECT_NE(r.status.error_message().find("larger than max"), std::string::npos) << r.status.error_message();
  // The sender's session is intact: a within-limit message reaches the backend, which answers
  // for itself (an 8 MB prompt cannot fit the context: PromptTooLong, 102, the server's own
  // errno rather than a transport error), and a normal input still works.
  EXPECT_EQ(big.set_input(x, 0, std::string(size_t(8) << 20, 'a')).errno_trailer, 102);
  EXPECT_TRUE(big.set_input(x, 0, "Once").ok());
  EXPECT_EQ(other.run_unary("default", "Once", greedy_options(16)), engine_greedy(srv.model, "Once", 16));
}

TEST(RpcSecurity, SessionsCannotReachEachOther) {
  Served srv("rpc_sec_isolation");
  ASSERT_TRUE(srv.ready);
  auto ch = srv.channel();
  Wasi a(ch, CallOpts("session-a")), b(ch, CallOpts("session-b")), anon(ch);
  SessionStream sa(a.stubs(), a.opts()), sb(b.stubs(), b.opts());
  uint32_t ga = 0, xa = 0;
  ASSERT_TRUE(a.load("default", &ga).ok());
  ASSERT_TRUE(a.init(ga, &xa).ok());
  ASSERT_TRUE(a.set_input(xa, 1, "{\"ctx-size\":16,\"temp\":0}").ok());  // A's option, A's context only

  for (Wasi* intruder : {&b, &anon}) {
    SCOPED_TRACE(intruder == &b ? "session B" : "anonymous");
    EXPECT_EQ(intruder->init(ga, nullptr).errno_trailer, 1);
    EXPECT_EQ(intruder->set_input(xa, 0, "stolen").errno_trailer, 1);
    EXPECT_EQ(intruder->compute(xa).errno_trailer, 1);
    EXPECT_EQ(intruder->compute(xa, true).errno_trailer, 1);
    EXPECT_EQ(intruder->get_output(xa, 1, nullptr).errno_trailer, 1);
    EXPECT_EQ(intruder->get_output(xa, 0, nullptr, true).errno_trailer, 1);
    EXPECT_EQ(intruder->fini_single(xa).errno_trailer, 1);
    EXPECT_EQ(intruder->finalize(xa).errno_trailer, 1);
    EXPECT_EQ(intruder->unload(ga).errno_trailer, 1);
    EXPECT_FALSE(generate(intruder->stubs(), intruder->opts(), "", "Once", greedy_options(4), ga).status.ok());
  }
  // A's objects are untouched, with A's option still in force.
  std::string long_prompt;
  for (int i = 0; i < 20; ++i) long_prompt += "once upon a time ";
  ASSERT_TRUE(a.set_input(xa, 0, long_prompt).ok());
  EXPECT_EQ(a.compute(xa).errno_trailer, 102);  // ctx-size 16
  // ...which did not leak into B's context on the same model.
  EXPECT_EQ(b.run_unary("default", long_prompt, greedy_options(4)), engine_greedy(srv.model, long_prompt, 4));

  // Handles are random 32-bit numbers, not a counter another client could walk.
  std::set<uint32_t> handles;
  std::vector<uint32_t> order;
  for (int i = 0; i < 6; ++i) {
    uint32_t x = 0;
    uint32_t gb = 0;
    ASSERT_TRUE(b.load("default", &gb).ok());
    ASSERT_TRUE(b.init(gb, &x).ok());
    handles.insert(gb);
    handles.insert(x);
    order.push_back(x);
    ASSERT_TRUE(b.finalize(x).ok());
  }
  EXPECT_EQ(handles.size(), 12u);
  int sequential = 0;
  for (size_t i = 1; i < order.size(); ++i) sequential += order[i] == order[i - 1] + 1;
  EXPECT_EQ(sequential, 0);
  EXPECT_GT(*handles.rbegin(), 1u << 20);
}

}  // namespace
}  // namespace nnb::rpctest
