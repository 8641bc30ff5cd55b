// nnbridge template: a real process renders a chat template from a file, a named built-in or a
// model's GGUF, printing the prompt exactly (no added newline); errors go to stderr, exit 1.
#include <fstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "engine/gguf/gguf.h"
#include "test_util.h"

namespace nnb {
namespace {

test::RunResult run_template(std::vector<std::string> args) {
  args.insert(args.begin(), {NNB_CLI_PATH, "template"});
  return test::run_command(args, 120);
}

const char* kUserOnly = R"([{"role": "user", "content": "What is the capital city of Peru?"}])";

TEST(CliTemplate, FixtureTemplateFileMatchesJinja2) {
  NNB_FIXTURE_OR_SKIP(golden_path, "chat-templates/golden.json");
  NNB_FIXTURE_OR_SKIP(tmpl, "chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja");
  const auto golden = nlohmann::json::parse(test::read_file(golden_path));
  std::string expected;
  for (const auto& t : golden["templates"])
    if (t["name"] == "Qwen-Qwen2.5-7B-Instruct")
      for (const auto& r : t["renderings"])
        if (r["conversation"] == "user-only" && r["add_generation_prompt"] == true) expected = r["expected"];
  ASSERT_FALSE(expected.empty());
  const auto r = run_template({"--template", tmpl.string(), "--messages", kUserOnly, "--add-generation-prompt",
                               "--bos-token", "<s>", "--eos-token", "</s>"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
}

TEST(CliTemplate, NamedBuiltin) {
  const auto r = run_template({"--chat-template", "chatml", "--messages", kUserOnly, "--add-generation-prompt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nWhat is the capital city of Peru?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(CliTemplate, ModelsTemplateAndTokenTexts) {
  const auto path = test::scratch_dir("cli_template") / "with-template.gguf";
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.chat_template", "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}");
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<BOS>", "<EOS>"});
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.write(path);
  auto r = run_template({"-m", path.string(), "--messages", kUserOnly});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<BOS>[user] What is the capital city of Peru?<EOS>");
  r = run_template({"-m", path.string(), "--messages", kUserOnly, "--eos-token", ""});  // given texts win
  EXPECT_EQ(r.out, "<BOS>[user] What is the capital city of Peru?");
}

TEST(CliTemplate, ErrorsGoToStderrWithExit1) {
  auto r = run_template({"--messages", kUserOnly});  // no template source
  EXPECT_EQ(r.exit_code, 1);
  r = run_template({"--chat-template", "chatml", "--messages", "[{not json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not valid JSON"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  r = run_template({"--chat-template", "no-such-format", "--messages", kUserOnly});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("chatml"), std::string::npos) << r.err;  // lists the known names
  const auto tmpl = test::scratch_dir("cli_template") / "raises.jinja";
  {
    std::ofstream(tmpl) << "{{ raise_exception('System role not supported') }}";
  }
  r = run_template({"--template", tmpl.string(), "--messages", kUserOnly});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace nnb
