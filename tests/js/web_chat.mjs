// The web chat page (GET /) in Debian's headless Chromium, driven by playwright-core: enter the
// API key, pick the model, send two messages and see both answers stream in; a screenshot is
// saved. Usage: node web_chat.mjs BASE_URL API_KEY MODEL SCREENSHOT.png [CHROMIUM]
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const [base, key, model, shot, exe = "/usr/bin/chromium"] = process.argv.slice(2);
// --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
let status = 1;
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(base + "/");
  assert.equal(await page.title(), "nnbridge chat");
  // Without the key the model list cannot load, and the page says so.
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("cannot list models"));
  errors.length = 0;  // that 401 was expected
  await page.fill("#key", key);
  await page.dispatchEvent("#key", "change");
  await page.waitForFunction((m) => [...document.querySelectorAll("#model option")].some((o) => o.value === m), model);
  await page.fill("#system", "Be brief.");

  async function ask(text, n) {
    await page.fill("#input", text);
    await page.press("#input", "Enter");
    await page.waitForFunction((k) => document.querySelectorAll(".msg.assistant").length === k &&
      !document.getElementById("send").disabled, n, { timeout: 60_000 });
    return page.locator(".msg.assistant .text").nth(n - 1).textContent();
  }
  const a1 = await ask("Hello there", 1);
  assert.ok(a1.length > 0, "first answer is empty");
  const a2 = await ask("And then?", 2);
  assert.ok(a2.length > 0, "second answer is empty");
  assert.equal(await page.locator(".msg.user").count(), 2);
  assert.equal(await page.locator(".msg.error").count(), 0);
  const st = await page.textContent("#status");
  assert.match(st, /^\d+ tokens in [0-9.]+ s$/);
  await page.screenshot({ path: shot });
  assert.deepEqual(errors, []);
  console.log(`ok   web chat: two answers streamed (${JSON.stringify(st)}), screenshot ${shot}`);
  status = 0;
} catch (e) {
  console.log(`FAIL web chat: ${e.stack || e}`);
} finally {
  await browser.close();
}
process.exit(status);
