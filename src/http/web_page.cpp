#include "http/web_page.h"

namespace nnb::http {

// Plain HTML + a small script: the conversation is kept in the page and sent whole with each
// request (the server applies the model's chat template and reuses the cached prefix); answers
// stream in over server-sent events read from fetch(), so the API key travels as a header.
const std::string& web_page() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nnbridge chat</title>
<style>
  :root { font-family: system-ui, sans-serif; color-scheme: light dark; }
  body { margin: 0; display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; gap: .75rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid #8884; flex-wrap: wrap; }
  header h1 { font-size: 1rem; margin: 0 auto 0 0; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; }
  .msg { max-width: 48rem; margin: 0 auto .75rem; padding: .5rem .75rem; border-radius: .5rem; white-space: pre-wrap; }
  .user { background: #4a90e222; }
  .assistant { background: #8882; }
  .error { background: #e2524a33; }
  .role { font-size: .75rem; opacity: .7; display: block; }
  form { display: flex; gap: .5rem; padding: .75rem 1rem; border-top: 1px solid #8884; }
  textarea { flex: 1; resize: vertical; min-height: 2.5rem; font: inherit; }
  #status { font-size: .8rem; opacity: .75; }
</style>
</head>
<body>
<header>
  <h1>nnbridge chat</h1>
  <label>Model <select id="model"></select></label>
  <label>System <input id="system" placeholder="optional system prompt"></label>
  <label>API key <input id="key" type="password" autocomplete="off" placeholder="if the server needs one"></label>
  <button id="reset" type="button">New chat</button>
</header>
<main id="log" aria-live="polite"></main>
<div id="status"></div>
<form id="form">
  <textarea id="input" placeholder="Message (Enter sends, Shift+Enter for a new line)" required></textarea>
  <button id="send" type="submit">Send</button>
  <button id="stop" type="button" disabled>Stop</button>
</form>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const history = [];
let controller = null;
$("key").value = localStorage.getItem("nnbridge-key") || "";
$("key").addEventListener("change", () => { localStorage.setItem("nnbridge-key", $("key").value); loadModels(); });

function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h["Authorization"] = "Bearer " + $("key").value;
  return h;
}
function add(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(label, body);
  $("log").append(div);
  $("log").scrollTop = $("log").scrollHeight;
  return body;
}
async function loadModels() {
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error ? j.error.message : r.statusText);
    $("model").replaceChildren(...j.data.map((m) => new Option(m.id, m.id)));
    $("status").textContent = j.data.length + " model(s)";
  } catch (e) { $("status").textContent = "cannot list models: " + e.message; }
}
async function send(text) {
  history.push({ role: "user", content: text });
  add("user", text);
  const out = add("assistant", "");
  const messages = ($("system").value ? [{ role: "system", content: $("system").value }] : []).concat(history);
  controller = new AbortController();
  $("send").disabled = true; $("stop").disabled = false;
  const t0 = performance.now();
  let tokens = 0, answer = "";
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify({ model: $("model").value, messages, stream: true, stream_options: { include_usage: true } }),
    });
    if (!r.ok) { const j = await r.json(); throw new Error(j.error ? j.error.message : r.statusText); }
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        if (!ev.startsWith("data: ")) continue;
        const data = ev.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        if (j.usage) tokens = j.usage.completion_tokens;
        const c = j.choices && j.choices[0];
        if (c && c.delta && c.delta.content) { answer += c.delta.content; out.textContent = answer; $("log").scrollTop = $("log").scrollHeight; }
      }
    }
    const s = (performance.now() - t0) / 1000;
    $("status").textContent = tokens + " tokens in " + s.toFixed(2) + " s";
  } catch (e) {
    if (e.name !== "AbortError") { out.parentElement.className = "msg error"; out.textContent = answer + "\n[" + e.message + "]"; }
  } finally {
    if (answer) history.push({ role: "assistant", content: answer });
    controller = null;
    $("send").disabled = false; $("stop").disabled = true;
  }
}
$("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("form").requestSubmit(); }
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("reset").addEventListener("click", () => { history.length = 0; $("log").replaceChildren(); });
loadModels();
</script>
</body>
</html>
)HTML";
  return page;
}

}  // namespace nnb::http
