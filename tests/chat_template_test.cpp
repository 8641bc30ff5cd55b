// The chat-template renderer (src/chat): every golden rendering of real models' templates made by
// Jinja2 3.1.6 reproduced byte-exact, the language's rules one by one (expected strings checked
// against Jinja2 3.1.6 with the same environment), errors with positions, and the sandbox limits.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "chat/chat_template.h"
#include "test_util.h"

using nnb::chat::ChatTemplate;
using nnb::chat::RenderOptions;
using nnb::chat::TemplateError;
using json = nlohmann::ordered_json;

namespace {

std::chrono::system_clock::time_point fixture_day() {  // the golden renderer's strftime_now date
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

RenderOptions opts() {
  RenderOptions o;
  o.now = fixture_day();
  o.extra = json{{"x", {3, 1, 2}}, {"d", {{"b", 1}, {"a", {1, "x", nullptr}}}}, {"s", "  Hello World  "}};
  return o;
}

std::string render(const std::string& src, RenderOptions o = opts()) {
  return ChatTemplate(src).render(json::array({{{"role", "user"}, {"content", "hi"}}}), o);
}

// The message of the TemplateError that rendering (or parsing) throws; "" if none.
std::string error_of(const std::string& src, RenderOptions o = opts()) {
  try {
    render(src, o);
  } catch (const TemplateError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ChatTemplateGolden, EveryFixtureCaseByteExact) {
  NNB_FIXTURE_OR_SKIP(path, "chat-templates/golden.json");
  const json g = json::parse(nnb::test::read_file(path));
  int checked = 0;
  for (const auto& t : g["templates"]) {
    const std::string name = t["name"];
    std::unique_ptr<ChatTemplate> tmpl;
    try {
      tmpl = std::make_unique<ChatTemplate>(t["template"].get<std::string>());
    } catch (const TemplateError& e) {
      ADD_FAILURE() << name << ": does not parse: " << e.what();
      continue;
    }
    for (const auto& r : t["renderings"]) {
      SCOPED_TRACE(name + " / " + r["conversation"].get<std::string>() +
                   (r["add_generation_prompt"].get<bool>() ? " / add_generation_prompt" : ""));
      RenderOptions o;
      o.now = fixture_day();
      o.add_generation_prompt = r["add_generation_prompt"];
      o.bos_token = t["bos_token"];
      o.eos_token = t["eos_token"];
      const json& messages = g["conversations"][r["conversation"].get<std::string>()];
      if (r.contains("raises")) {
        try {
          const std::string out = tmpl->render(messages, o);
          ADD_FAILURE() << "rendered instead of raising '" << r["raises"].get<std::string>() << "':\n" << out;
        } catch (const TemplateError& e) {
          EXPECT_NE(std::string(e.what()).find(r["raises"].get<std::string>()), std::string::npos) << e.what();
        }
      } else {
        try {
          EXPECT_EQ(tmpl->render(messages, o), r["expected"].get<std::string>());
        } catch (const TemplateError& e) {
          ADD_FAILURE() << "raised: " << e.what();
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 168) << "golden.json changed size";
}

TEST(ChatTemplateLanguage, WhitespaceControl) {
  // trim_blocks drops the newline after a tag, lstrip_blocks the indentation before it.
  EXPECT_EQ(render("  {% if true %}\n  x\n  {% endif %}\nend"), "  x\nend");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif %}  c"), "ab  c");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");  // + keeps the indentation
  EXPECT_EQ(render("  {% for i in x %}\n    {{ i }}\n  {% endfor %}"), "    3\n    1\n    2\n");
  EXPECT_EQ(render("{%- for m in messages -%}\n  <{{ m.role }}>\n{%- endfor %}\n\ntail  \n"), "<user>\ntail  ");
  EXPECT_EQ(render("{# comment #}\na\n{# indented #}\n  {#- stripped -#}\nb"), "a\nb");
  EXPECT_EQ(render("x\r\ny\n"), "x\ny");  // newlines normalized, one trailing newline dropped
}

TEST(ChatTemplateLanguage, Loops) {
  EXPECT_EQ(render("{% for i in x %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}"
                   "{% if not loop.last %},{% endif %}{% endfor %}"),
            "1TrueFalse3,2FalseFalse2,3FalseTrue1");
  EXPECT_EQ(render("{% for i in x if i > 1 %}{{ i }}/{{ loop.length }} {% else %}none{% endfor %}"
                   "{% for i in [] %}x{% else %}empty{% endfor %}"),
            "3/2 2/2 empty");
  EXPECT_EQ(render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}"
                   "{% endif %}{{ i }}{% endfor %}"),
            "0134");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"), "b=1;a=[1, 'x', None];");
  EXPECT_EQ(render("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}"),
            "3[3, 4]|7[1, 2]|");
  // A loop body is its own scope: only a namespace carries values out.
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in x %}{% set ns.n = ns.n + i %}{% set local = i %}"
                   "{% endfor %}{{ ns.n }}{{ local is defined }}"),
            "6False");
  // Each iteration starts from the outer values: nothing set in an earlier iteration survives.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1,2,3] %}{{ x }}{% set x = i * 10 %}{{ x }};{% endfor %}|{{ x }}"),
            "110;120;130;|1");
  EXPECT_EQ(render("{% for i in [1,2,3] %}{% if i == 1 %}{% set y = 5 %}{% endif %}{{ y }};{% endfor %}"), "5;;;");
}

TEST(ChatTemplateLanguage, ValuesPrintAsPython) {
  EXPECT_EQ(render("{{ d }}{{ x|sort }}{{ [1.0, True, None, 'it\\'s'] }}"),
            "{'b': 1, 'a': [1, 'x', None]}[1, 2, 3][1.0, True, None, \"it's\"]");
  EXPECT_EQ(render("{{ [1, [2, (3, 4)]] }} {{ (1,) }} {{ {'k': none} }} {{ 'x' * 3 }} {{ [0] * 3 }} {{ -2 ** 2 }} "
                   "{{ 1e-7 }} {{ 123456789012345678.0 }}"),
            "[1, [2, (3, 4)]] (1,) {'k': None} xxx [0, 0, 0] 4 1e-07 1.2345678901234568e+17");
  EXPECT_EQ(render("{{ 1.5e20 }} {{ 1/3 }} {{ 10/2 }} {{ 7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 0.1 + 0.2 }} {{ 1e16 }}"),
            "1.5e+20 0.3333333333333333 5.0 3 2 1024 0.30000000000000004 1e+16");
  EXPECT_EQ(render("{{ \"multi\" \"part\" }} {{ '\\x41\\u00e9\\t' }} {{ 3 == 3.0 }} {{ true + true }}"), "multipart Aé\t True 2");
}

TEST(ChatTemplateLanguage, Filters) {
  EXPECT_EQ(render("{{ d|tojson }} {{ d|tojson(indent=2) }} {{ 'é\"\\n'|tojson }}"),
            "{\"b\": 1, \"a\": [1, \"x\", null]} {\n  \"b\": 1,\n  \"a\": [\n    1,\n    \"x\",\n    null\n  ]\n} \"é\\\"\\n\"");
  EXPECT_EQ(render("{{ s|trim }}|{{ s.strip().lower() }}|{{ s.split() }}|{{ 'a,b,,c'.split(',') }}|{{ 'abc'[::-1] }}|"
                   "{{ x[1:] }}|{{ 'héllo'|length }}|{{ 'héllo'[1] }}"),
            "Hello World|hello world|['Hello', 'World']|['a', 'b', '', 'c']|cba|[1, 2]|5|é");
  EXPECT_EQ(render("{{ x|join('-') }} {{ x|map('string')|join }} "
                   "{{ [{'a':1},{'a':2},{'b':3}]|selectattr('a','defined')|map(attribute='a')|list }} "
                   "{{ ['A','a','b']|unique|list }} {{ x|first }}{{ x|last }} {{ none|default('dflt') }} "
                   "{{ ''|default('e', true) }} {{ undefined_thing|default('u') }}"),
            "3-1-2 312 [1, 2] ['A', 'b'] 32 None e u");
  EXPECT_EQ(render("{{ 'foo bar'|title }} {{ 'fOO'|capitalize }} {{ 'x\\ny\\n\\nz'|indent(2) }}|"
                   "{{ 'x\\ny'|indent(2, first=true) }}|{{ 3.14159|round(2) }} {{ 2.5|round }} {{ '42'|int + 1 }} "
                   "{{ 'x'|int }} {{ 3|float }}"),
            "Foo Bar Foo x\n  y\n\n  z|  x\n  y|3.14 2.0 43 0 3.0");
  EXPECT_EQ(render("{{ x|reverse|list }} {{ 'abc'|reverse }} {{ x|max }} {{ x|min }} {{ x|sum }} {{ d|dictsort }} "
                   "{{ 'a b'|replace(' ', '_') }} {{ 'Hi'.startswith('H') }} {{ 'Hi'.endswith(('x', 'i')) }} "
                   "{{ d.get('zz', 5) }} {{ d.keys()|list }}"),
            "[2, 1, 3] cba 3 1 6 [('a', [1, 'x', None]), ('b', 1)] a_b True True 5 ['b', 'a']");
  EXPECT_EQ(render("{{ none|selectattr('type')|list }}{{ none|map(attribute='a')|list }}"), "[][]");  // falsy: nothing
}

TEST(ChatTemplateLanguage, TestsAndOperators) {
  EXPECT_EQ(render("{{ x is iterable }}{{ x is sequence }}{{ d is mapping }}{{ 1 is number }}{{ 's' is string }}"
                   "{{ none is none }}{{ nope is undefined }}{{ 3 is odd }}{{ true is boolean }}{{ 1 is equalto 1 }}"
                   "{{ 2 in x }}{{ 'ell' in 'hello' }}{{ 5 not in x }}{{ 1 < 2 < 3 }}"),
            "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue");
  EXPECT_EQ(render("{{ 'a' ~ 1 ~ none ~ nope }} {{ 'yes' if x else 'no' }} {{ 'yes' if [] else 'no' }} {{ x and 'and' }} "
                   "{{ [] or 'or' }} {{ not x }}"),
            "a1None yes no and or False");
}

TEST(ChatTemplateLanguage, MacrosBlocksAndGlobals) {
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('a') }} {{ greet('b', punct='?') }} {{ greet(name='c') }}"),
            "Hi a! Hi b? Hi c!");
  EXPECT_EQ(render("{% set block %}  inner {{ 1 + 1 }}  {% endset %}[{{ block }}]{% filter upper %}shout{% endfilter %}"
                   "[{% filter trim %}   t   {% endfilter %}]"),
            "[  inner 2  ]SHOUT[t]");
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }} {{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ dict(a=1, b='x') }}"),
            "26 Jul 2024 [0, 1, 2] [1, 4, 7] {'a': 1, 'b': 'x'}");
  EXPECT_EQ(render("{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages|length }}"), "user hi 1");
}

TEST(ChatTemplateLanguage, UndefinedSemantics) {
  EXPECT_EQ(render("{{ nope }}|{% for i in nope %}x{% endfor %}|{{ nope|length }}|{{ nope == nope }}"), "||0|True");
  EXPECT_NE(error_of("{{ nope.attr }}").find("'nope' is undefined"), std::string::npos);
  EXPECT_NE(error_of("{{ d.missing.deeper }}").find("'dict object' has no attribute 'missing'"), std::string::npos);
  EXPECT_NE(error_of("{{ 'a' + nope }}").find("'nope' is undefined"), std::string::npos);
}

TEST(ChatTemplateErrors, NameTheConstructAndPosition) {
  EXPECT_EQ(error_of("line one\n  {{ x|xmlattr }}"), "unsupported filter 'xmlattr' at 2:8");
  EXPECT_EQ(error_of("{% include 'other.jinja' %}"), "unsupported tag 'include' at 1:4");
  EXPECT_EQ(error_of("{{ x is divisible_by(3) }}"), "unsupported test 'divisible_by' at 1:9");
  EXPECT_EQ(error_of("{% if x %}no end"), "unexpected end of template, expected 'endif' at 1:17");
  EXPECT_EQ(error_of("{{ 1 + }}"), "unexpected '}}' at 1:8");
  EXPECT_EQ(error_of("{% break %}"), "'break' outside of a loop at 1:4");
  EXPECT_EQ(error_of("{{ 'a'.format(1) }}"), "unsupported method 'str.format' (not available in the sandbox) at 1:7");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "unsupported operand type(s) for +: 'int' and 'str' at 1:6");
  EXPECT_EQ(error_of("\n{{ raise_exception('custom failure') }}"), "custom failure at 2:4");
  EXPECT_THROW(ChatTemplate("{{ 'unterminated }}"), TemplateError);
}

TEST(ChatTemplateLimits, HostileTemplatesFailFast) {
  const auto t0 = std::chrono::steady_clock::now();
  // range() is capped as in Jinja2's sandbox, so this fails before building anything.
  EXPECT_NE(error_of("{% for i in range(100000000) %}x{% endfor %}").find("range too big"), std::string::npos);
  // Nested loops within the range cap: the step budget stops them.
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").find("evaluation steps"),
            std::string::npos);
  // Output and string sizes.
  EXPECT_NE(error_of("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}").find("output limit"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000000 }}").find("output limit"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
                .find("output limit"),
            std::string::npos);
  // Unbounded macro recursion.
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("too deeply"), std::string::npos);
  // Values nested without end.
  EXPECT_NE(error_of("{% set ns = namespace(v=[]) %}{% for i in range(1000) %}{% set ns.v = [ns.v] %}{% endfor %}")
                .find("nesting too deep"),
            std::string::npos);
  // Each limit is asserted by its message above; a limit that failed to stop its template would
  // hang here until ctest's timeout. The time is printed, not asserted (timings are for
  // benchmarks: under ASan on a loaded 2-core machine this took 26 s, 2-5 s otherwise).
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ measured ] hostile templates stopped in %.2f s\n", secs);
}

TEST(ChatTemplateLimits, DeepSyntaxIsRefusedNotAStackOverflow) {
  EXPECT_NE(error_of(std::string("{{ ") + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").find("nested too deeply"),
            std::string::npos);
  std::string blocks;
  for (int k = 0; k < 50000; ++k) blocks += "{% if true %}";
  EXPECT_NE(error_of(blocks).find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(100000, '-') + "1 }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{{ " + [] {
              std::string s;
              for (int k = 0; k < 50000; ++k) s += "not ";
              return s;
            }() + "1 }}")
                .find("nested too deeply"),
            std::string::npos);
  // Moderate nesting still works.
  EXPECT_EQ(render("{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}"), "1");
}

TEST(ChatTemplateBuiltins, EveryNamedTemplateRenders) {
  const json conv = json::array({{{"role", "system"}, {"content", "S"}},
                                 {{"role", "user"}, {"content", "U1"}},
                                 {{"role", "assistant"}, {"content", "A1"}},
                                 {{"role", "user"}, {"content", "U2"}}});
  RenderOptions o;
  o.add_generation_prompt = true;
  o.bos_token = "<s>";
  o.eos_token = "</s>";
  ASSERT_GE(nnb::chat::builtin_template_names().size(), 8u);
  for (const std::string& name : nnb::chat::builtin_template_names()) {
    SCOPED_TRACE(name);
    const auto src = nnb::chat::builtin_template(name);
    ASSERT_TRUE(src);
    const std::string out = ChatTemplate(*src).render(conv, o);
    for (const char* part : {"S", "U1", "A1", "U2"}) EXPECT_NE(out.find(part), std::string::npos) << out;
  }
  EXPECT_EQ(ChatTemplate(*nnb::chat::builtin_template("chatml")).render(conv, o),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
            "<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(ChatTemplate(*nnb::chat::builtin_template("llama2")).render(conv, o),
            "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
  EXPECT_FALSE(nnb::chat::builtin_template("no-such-format"));
}
