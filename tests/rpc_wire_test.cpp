// The wasi_ephemeral_nn wire contract of `nnbridge serve` (COMPAT §3): message bytes, tensor
// type numbers passed through, every reachable errno as status UNKNOWN + WasmEdge's message +
// the `errno` trailer, unknown handles and malformed requests answered InvalidArgument.
#include <grpcpp/generic/generic_stub.h>

#include <future>

#include "rpc_server_harness.h"

namespace nnb::rpctest {
namespace {

std::string hex(const std::string& s) {
  std::string out;
  char b[4];
  for (unsigned char c : s) {
    std::snprintf(b, sizeof b, "%02x ", c);
    out += b;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// The failure as WasmEdge reports it: UNKNOWN, the host-function message, the trailer.
void expect_wasmedge_error(const Result& r, const std::string& fn, int e) {
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNKNOWN) << r.status.error_message();
  EXPECT_EQ(r.errno_trailer, e) << r.status.error_message();
  const std::string prefix = "failed to call host function \"" + fn + "\", errno=" + std::to_string(e);
  EXPECT_EQ(r.status.error_message().rfind(prefix, 0), 0u) << r.status.error_message();
}

TEST(RpcWire, SetInputByteExampleFromCompat) {
  wasi_ephemeral_nn::SetInputRequest rq;
  rq.set_resource_handle(3);
  rq.set_index(1);
  rq.mutable_tensor()->add_dimensions(1);
  rq.mutable_tensor()->set_ty(wasi_ephemeral_nn::TensorType(2));
  rq.mutable_tensor()->set_data("hi");
  EXPECT_EQ(hex(rq.SerializeAsString()), "08 03 10 01 1a 09 0a 01 01 10 02 1a 02 68 69");
  // And back: an unknown type number survives decoding (proto3 enums are open).
  wasi_ephemeral_nn::SetInputRequest back;
  std::string bytes = rq.SerializeAsString();
  bytes[10] = 77;  // ty 2 → 77
  ASSERT_TRUE(back.ParseFromString(bytes));
  EXPECT_EQ(int(back.tensor().ty()), 77);
}

TEST(RpcWire, TensorTypeNumbersPassThrough) {
  Served srv("rpc_wire_types");
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  const std::string opts = greedy_options(8);
  std::string first;
  // 2 is a 0.14 guest's U8 (FP64 by proto name), 4 the proto's U8; 77 no type at all.
  for (uint32_t type : {2u, 4u, 0u, 77u}) {
    uint32_t g = 0, x = 0;
    ASSERT_TRUE(w.load("default", &g).ok());
    ASSERT_TRUE(w.init(g, &x).ok());
    ASSERT_TRUE(w.set_input(x, 1, opts, type).ok()) << "type " << type;
    auto r = w.set_input(x, 0, "Once upon a time", type);
    ASSERT_TRUE(r.ok()) << "type " << type << ": " << r.status.error_message();
    ASSERT_TRUE(w.compute(x).ok());
    std::string out;
    ASSERT_TRUE(w.get_output(x, 0, &out).ok());
    if (first.empty()) first = out;
    EXPECT_EQ(out, first) << "type " << type;
  }
  EXPECT_FALSE(first.empty());
}

TEST(RpcWire, EveryReachableErrnoIsUnknownPlusTrailer) {
  auto dir = test::scratch_dir("rpc_wire_errno_models");
  Served srv("rpc_wire_errno", {"--nn-preload", "missing:GGML:AUTO:" + (dir / "model-not-found.gguf").string()});
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  uint32_t g = 0, x = 0;

  // 103: a preload whose file is missing (the server started anyway).
  expect_wasmedge_error(w.load("missing", &g), "load_by_name", 103);
  expect_wasmedge_error(w.load("missing", &g, "{\"ctx-size\":64}"), "load_by_name_with_config", 103);
  // 8: a name nobody preloaded.
  expect_wasmedge_error(w.load("no-such-model", &g), "load_by_name", 8);
  // 2: config / options that are not JSON.
  expect_wasmedge_error(w.load("default", &g, "{not json"), "load_by_name_with_config", 2);

  ASSERT_TRUE(w.load("default", &g).ok());
  ASSERT_TRUE(w.init(g, &x).ok());
  expect_wasmedge_error(w.set_input(x, 1, "{not json"), "set_input", 2);
  // 1: a known option of the wrong type; compute without a prompt.
  expect_wasmedge_error(w.set_input(x, 1, "{\"n-predict\":\"many\"}"), "set_input", 1);
  expect_wasmedge_error(w.compute(x), "compute", 1);

  // 102: a prompt longer than the context.
  ASSERT_TRUE(w.set_input(x, 1, "{\"ctx-size\":16,\"temp\":0}").ok());
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "once upon a time ";
  ASSERT_TRUE(w.set_input(x, 0, long_prompt).ok());
  expect_wasmedge_error(w.compute(x), "compute", 102);

  // 101: generation until the context is full; the text so far stays readable.
  ASSERT_TRUE(w.set_input(x, 1, "{\"ctx-size\":32,\"n-predict\":-1,\"temp\":0}").ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once").ok());
  expect_wasmedge_error(w.compute(x), "compute", 101);
  std::string partial;
  ASSERT_TRUE(w.get_output(x, 0, &partial).ok());
  EXPECT_FALSE(partial.empty());

  // 100: the streaming end.
  ASSERT_TRUE(w.set_input(x, 1, greedy_options(2)).ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once upon").ok());
  ASSERT_TRUE(w.compute(x, true).ok());
  ASSERT_TRUE(w.compute(x, true).ok());
  expect_wasmedge_error(w.compute(x, true), "compute_single", 100);
  EXPECT_TRUE(w.fini_single(x).ok());

  // The server logged the failures, and is still serving.
  EXPECT_NE(srv.proc->log().find("errno=103"), std::string::npos);
  EXPECT_TRUE(w.load("default", &g).ok());
}

// 7 (TooLarge): GetOutput returns the whole output in one message, so the only way it cannot
// fit is the server's message limit; the server says TooLarge instead of failing the send.
TEST(RpcWire, OutputOverMessageLimitIsTooLarge) {
  Served srv("rpc_wire_toolarge", {"--max-message-mb", "0.001"});  // 1048 bytes
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(w.load("default", &g).ok());
  ASSERT_TRUE(w.init(g, &x).ok());
  ASSERT_TRUE(w.set_input(x, 1, "{\"temp\":0,\"n-predict\":480,\"ctx-size\":512}").ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once").ok());
  ASSERT_TRUE(w.compute(x).ok());
  std::string meta;
  ASSERT_TRUE(w.get_output(x, 1, &meta).ok());  // small outputs still pass
  EXPECT_NE(meta.find("output_tokens"), std::string::npos);
  auto r = w.get_output(x, 0, nullptr);
  expect_wasmedge_error(r, "get_output", 7);
  EXPECT_NE(r.status.error_message().find("message limit"), std::string::npos) << r.status.error_message();
}

TEST(RpcWire, UnknownHandlesAreInvalidArgument) {
  Served srv("rpc_wire_handles");
  ASSERT_TRUE(srv.ready);
  Wasi w(srv.channel());
  const uint32_t bogus = 0x5eed1234;
  for (uint32_t h : {0u, 1u, 2u, bogus}) {
    SCOPED_TRACE("handle " + std::to_string(h));
    expect_wasmedge_error(w.init(h, nullptr), "init_execution_context", 1);
    expect_wasmedge_error(w.set_input(h, 0, "x"), "set_input", 1);
    expect_wasmedge_error(w.compute(h), "compute", 1);
    expect_wasmedge_error(w.compute(h, true), "compute_single", 1);
    expect_wasmedge_error(w.get_output(h, 0, nullptr), "get_output", 1);
    expect_wasmedge_error(w.get_output(h, 0, nullptr, true), "get_output_single", 1);
    expect_wasmedge_error(w.fini_single(h), "fini_single", 1);
    expect_wasmedge_error(w.finalize(h), "finalize_context", 1);
    expect_wasmedge_error(w.unload(h), "unload", 1);
  }
  auto gen = generate(w.stubs(), {}, "", "hi", "", bogus);
  EXPECT_EQ(gen.status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(gen.pieces, 0u);
}

TEST(RpcWire, MalformedRequestsAreRefusedAndTheServerStaysUp) {
  Served srv("rpc_wire_malformed");
  ASSERT_TRUE(srv.ready);
  auto ch = srv.channel();
  Wasi w(ch);
  uint32_t g = 0, x = 0;
  ASSERT_TRUE(w.load("default", &g).ok());
  ASSERT_TRUE(w.init(g, &x).ok());

  {  // SetInput without a tensor.
    grpc::ClientContext c;
    prepare(c);
    wasi_ephemeral_nn::SetInputRequest rq;
    rq.set_resource_handle(x);
    google::protobuf::Empty e;
    Result r{w.stubs().ctx->SetInput(&c, rq, &e), 0};
    r.errno_trailer = trailer_errno(c);
    expect_wasmedge_error(r, "set_input", 1);
  }
  // Bytes that are not a protobuf message at all.
  for (const char* method : {"/wasi_ephemeral_nn.GraphExecutionContextResource/SetInput",
                             "/wasi_ephemeral_nn.Graph/LoadByName", "/nnbridge.v1.Nnbridge/ListModels"}) {
    grpc::GenericStub stub(ch);
    grpc::ClientContext c;
    prepare(c);
    const std::string junk("\xff\xff\xff\xff\x0f\x0a\xff", 7);
    grpc::Slice slice(junk);
    grpc::ByteBuffer req(&slice, 1), resp;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&c, method, grpc::StubOptions(), &req, &resp, [&](grpc::Status s) { done.set_value(s); });
    const auto st = done.get_future().get();
    EXPECT_FALSE(st.ok()) << method;
  }
  // A malformed session id.
  Wasi bad(ch, CallOpts{"bad id with spaces"});
  expect_wasmedge_error(bad.load("default", nullptr), "load_by_name", 1);
  // Generate naming neither a graph nor a model.
  auto gen = generate(w.stubs(), {}, "", "hi", "");
  EXPECT_EQ(gen.status.error_code(), grpc::StatusCode::UNKNOWN);
  // Still serving, same context still usable.
  ASSERT_TRUE(w.set_input(x, 1, greedy_options(4)).ok());
  ASSERT_TRUE(w.set_input(x, 0, "Once").ok());
  EXPECT_TRUE(w.compute(x).ok());
}

}  // namespace
}  // namespace nnb::rpctest
