// Secure by default: the socket is 0600, plain TCP off loopback is refused, TLS (and mutual
// TLS) works, bearer tokens are enforced, oversized messages are refused without hurting other
// clients, and sessions cannot reach each other's handles or options.
#include <sys/stat.h>

#include <future>
#include <regex>
#include <set>

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
  // The sender's session is intact, and a within-limit input still works.
  EXPECT_TRUE(big.set_input(x, 0, std::string(size_t(8) << 20, 'a')).ok());
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
