// The official openai Node client against one nnbridge endpoint (serve --http or gateway).
// Usage: node drive.mjs BASE_URL API_KEY MODEL   (prints one line per check; exit 1 on failure)
import assert from "node:assert/strict";
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const messages = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Name a colour." },
];
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
  }
}

await check("models.list names the model", async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(model), `models: ${ids}`);
  const one = await client.models.retrieve(model);
  assert.equal(one.id, model);
});

let answer = "";
await check("chat.completions.create", async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, seed: 1 });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  answer = r.choices[0].message.content;
  assert.equal(typeof answer, "string");
  assert.ok(answer.length > 0);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 12);
});

await check("chat.completions.create stream with usage equals the plain answer", async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_completion_tokens: 12, temperature: 0, seed: 1, stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", finish = null, usage = null, chunks = 0;
  for await (const c of stream) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (c.choices.length && c.choices[0].delta.content) text += c.choices[0].delta.content;
    if (c.choices.length && c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
  }
  assert.equal(text, answer);
  assert.equal(finish, "length");
  assert.ok(chunks >= 3);
  assert.equal(usage.completion_tokens, 12);
});

await check("completions.create, plain and streamed", async () => {
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0 });
  assert.equal(r.object, "text_completion");
  const plain = r.choices[0].text;
  let streamed = "";
  const s = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0, stream: true });
  for await (const c of s) streamed += c.choices[0]?.text ?? "";
  assert.equal(streamed, plain);
});

await check("stop sequences", async () => {
  const r = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0 });
  const full = r.choices[0].text;
  // Two plain letters from inside the answer (a random model also emits bytes that arrive as U+FFFD).
  const at = [...full.matchAll(/[a-z]{2}/g)].find((m) => m.index >= 2);
  assert.ok(at, `no two letters in ${JSON.stringify(full)}`);
  const stop = at[0];
  const s = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 10, temperature: 0, stop: [stop] });
  assert.equal(s.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(s.choices[0].finish_reason, "stop");
});

await check("embeddings.create (the client asks for base64 and decodes it)", async () => {
  const r = await client.embeddings.create({ model, input: ["a llama", "two llamas"] });
  assert.equal(r.data.length, 2);
  const v = r.data[0].embedding;
  assert.ok(Array.isArray(v) && v.length > 0);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `norm ${norm}`);
  const f = await client.embeddings.create({ model, input: "a llama", encoding_format: "float" });
  assert.deepEqual(f.data[0].embedding.map((x) => x.toFixed(5)), v.map((x) => x.toFixed(5)));
});

await check("unknown model is NotFoundError", async () => {
  await assert.rejects(client.chat.completions.create({ model: "no-such-model", messages }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.status, 404);
    assert.equal(e.code, "model_not_found");
    return true;
  });
});

await check("unsupported parameter is BadRequestError naming it", async () => {
  await assert.rejects(client.chat.completions.create({ model, messages, n: 2 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.param, "n");
    return true;
  });
});

await check("a wrong key is AuthenticationError", async () => {
  const bad = new OpenAI({ baseURL, apiKey: "wrong-key", maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
    assert.equal(e.status, 401);
    return true;
  });
});

await check("aborting a stream mid-way", async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create({ model, messages, stream: true, temperature: 0 }, { signal: ac.signal });
  // What a UI's stop button does: abort the request and stop reading (events already received
  // would otherwise still be yielded). That the host then stops generating is the gateway
  // test's business (tests/http_gateway_test.cpp).
  let n = 0;
  for await (const _ of stream) {
    if (++n === 3) {
      ac.abort();
      break;
    }
  }
  assert.equal(n, 3);
  // The server is fine afterwards.
  const r = await client.chat.completions.create({ model, messages, max_tokens: 2, temperature: 0 });
  assert.equal(r.usage.completion_tokens, 2);
});

console.log(failed ? `${failed} check(s) failed` : "all checks passed");
process.exit(failed ? 1 : 0);
