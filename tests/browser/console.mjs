// Drives the web console (web/) in a real browser (Debian chromium, playwright-core): saves the
// API key in Settings, translates, synthesizes and waits for the <audio> to have a duration,
// uploads a WAV and waits for its transcript, and speaks into the "microphone" — Chromium's fake
// capture device playing a WAV — until interim text and then a final appear, and streams speech to
// speech from it on the pipeline page. A screenshot per page; prints what it saw as JSON for
// tests/e2e/test_webui_mesh.py.
//
//   node console.mjs <console url, e.g. http://127.0.0.1:8080/ui/> <api key> <screenshot dir>
//        <upload wav> <microphone wav> <hindi text>
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, apiKey, shots, uploadWav, micWav, hindi] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "ai4vc-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
         "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
         `--use-file-for-fake-audio-capture=${micWav}`],
  viewport: { width: 1200, height: 900 },
});
const errors = [];
const seen = {};
let page;
const step = async (name, fn) => {
  try {
    await fn();
  } catch (err) {
    errors.push(`${name}: ${err}`);
    await page.screenshot({ path: join(shots, `${name}-failed.png`), fullPage: true }).catch(() => undefined);
  }
};
try {
  page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (err) => errors.push(`pageerror: ${err}`));
  page.on("console", (msg) => { if (msg.type() === "error") errors.push(`console: ${msg.text()}`); });
  page.on("response", (answer) => { if (answer.status() >= 400) errors.push(`${answer.status()} ${answer.url()}`); });
  const url = (path) => new URL(path, base).toString();

  await page.goto(url("settings/"), { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector("#edge-url")?.value, null, { timeout: 20000 });
  seen.defaultEdgeUrl = await page.inputValue("#edge-url");
  await page.fill("#api-key", apiKey);
  await page.click("#settings button[type=submit]");
  await page.waitForSelector("#saved");
  seen.keyInStorage = await page.evaluate(() => localStorage.getItem("ai4vc.settings")?.includes("apiKey"));
  await page.screenshot({ path: join(shots, "settings.png"), fullPage: true });

  await step("nmt", async () => {
    await page.goto(url("nmt/"), { waitUntil: "load" });
    await page.waitForSelector("#source option[value=hi]", { state: "attached", timeout: 30000 });
    await page.selectOption("#source", "hi");
    await page.waitForSelector("#target option[value=ur]", { state: "attached" });
    await page.selectOption("#target", "ur");
    await page.fill("#text", hindi);
    await page.click("#translate");
    await page.waitForFunction(() => document.querySelector("#translation")?.textContent?.trim(), null, { timeout: 60000 });
    seen.translation = await page.textContent("#translation");
    seen.translationDir = await page.getAttribute("#translation", "dir");
    await page.screenshot({ path: join(shots, "nmt.png"), fullPage: true });
    // Source left empty: the service detects it.
    await page.selectOption("#source", "");
    await page.click("#translate");
    await page.waitForSelector("#detected", { timeout: 60000 });
    seen.detected = await page.textContent("#detected");
    // Transliteration as you type: word-level candidates for the word being typed; one click takes one.
    await page.waitForSelector("#translit-pair option[value='hi>ta']", { state: "attached", timeout: 30000 });
    await page.selectOption("#translit-pair", "hi>ta");
    await page.type("#translit-text", hindi.split(" ")[0], { delay: 30 });
    await page.waitForSelector("#candidates .candidate", { timeout: 30000 });
    seen.candidates = await page.$$eval("#candidates .candidate", (bs) => bs.map((b) => b.textContent));
    await page.click("#candidates .candidate");
    seen.transliterated = await page.inputValue("#translit-text");
    await page.screenshot({ path: join(shots, "nmt-transliterate.png"), fullPage: true });
  });

  await step("tts", async () => {
    await page.goto(url("tts/"), { waitUntil: "load" });
    await page.waitForSelector("#voice option", { state: "attached", timeout: 30000 });
    const voices = await page.$$eval("#voice option", (os) => os.map((o) => o.value));
    seen.voices = voices;
    const hindiVoice = voices.find((v) => v.startsWith("hi")) || voices[0];
    await page.selectOption("#voice", hindiVoice);
    // An error is shown with its reason and field: no text to speak. (On TTS: the dashboard's
    // e2e test expects NMT's error ratio to be 0.)
    await page.click("#synthesize");
    await page.waitForSelector(".error[data-reason]", { timeout: 30000 });
    seen.ttsErrorReason = await page.getAttribute(".error", "data-reason");
    seen.ttsErrorFields = await page.$$eval(".error li[data-field]", (ls) => ls.map((l) => l.dataset.field));
    await page.screenshot({ path: join(shots, "tts-error.png"), fullPage: true });
    await page.fill("#text", hindi);
    await page.click("#synthesize");
    await page.waitForSelector("#player", { timeout: 60000 });
    await page.waitForFunction(() => {
      const a = document.querySelector("#player");
      return a && Number.isFinite(a.duration) && a.duration > 0;
    }, null, { timeout: 30000 });
    seen.audioDuration = await page.$eval("#player", (a) => a.duration);
    await page.screenshot({ path: join(shots, "tts.png"), fullPage: true });
    // Streaming over /v1/ws/tts: chunks played as they arrive, then the whole stream in the player.
    await page.click("#stream");
    await page.waitForFunction(() => Number(document.querySelector("#stream-chunks")?.dataset.count) > 0
      && document.querySelector("#stream:not([disabled])") && document.querySelector("#player"), null, { timeout: 60000 });
    await page.waitForFunction(() => {
      const a = document.querySelector("#player");
      return a && Number.isFinite(a.duration) && a.duration > 0;
    }, null, { timeout: 30000 });
    seen.streamChunks = await page.$eval("#stream-chunks", (e) => Number(e.dataset.count));
    seen.streamDuration = await page.$eval("#player", (a) => a.duration);
    await page.screenshot({ path: join(shots, "tts-stream.png"), fullPage: true });
  });

  await step("asr-upload", async () => {
    await page.goto(url("asr/"), { waitUntil: "load" });
    await page.waitForSelector("#language option[value=en]", { state: "attached", timeout: 30000 });
    await page.selectOption("#language", "en");
    seen.models = await page.$$eval("#models [data-model]", (ds) => ds.map((d) => d.dataset.model));
    await page.setInputFiles("#file", uploadWav);
    await page.click("#recognize");
    await page.waitForFunction(() => document.querySelector("#transcript")?.textContent?.trim(), null, { timeout: 60000 });
    seen.transcript = (await page.textContent("#transcript")).trim();
    await page.screenshot({ path: join(shots, "asr-upload.png"), fullPage: true });
  });

  await step("asr-live", async () => {
    // Record every interim the page shows (they are replaced as results arrive).
    await page.evaluate(() => {
      window.__interims = [];
      new MutationObserver(() => {
        const el = document.querySelector("#live .interim");
        if (el && el.textContent) window.__interims.push(el.textContent);
      }).observe(document.querySelector("#live"), { childList: true, subtree: true, characterData: true });
    });
    await page.click("#mic-start");
    await page.waitForSelector("#live .final", { timeout: 90000 });
    seen.interims = await page.evaluate(() => window.__interims);
    seen.finals = await page.$$eval("#live .final", (els) => els.map((e) => e.textContent.trim()));
    seen.vad = await page.textContent("#vad");
    seen.level = await page.$eval("#level", (e) => e.style.width);
    await page.screenshot({ path: join(shots, "asr-live.png"), fullPage: true });
    await page.click("#mic-stop");
    await page.waitForSelector("#mic-start:not([disabled])", { timeout: 90000 });
    seen.liveError = await page.$eval("#live ~ .error", (e) => e.textContent).catch(() => null);
  });
  await step("pipeline", async () => {
    // One RunPipeline call: Hindi text → Urdu translation → Urdu speech.
    await page.goto(url("pipeline/"), { waitUntil: "load" });
    await page.waitForSelector("#pipe-pair option[value='hi>ur']", { state: "attached", timeout: 30000 });
    await page.selectOption("#pipe-pair", "hi>ur");
    await page.fill("#pipe-text", hindi);
    await page.waitForSelector("#pipe-voice option", { state: "attached", timeout: 30000 });
    seen.pipelineVoice = await page.inputValue("#pipe-voice");
    await page.click("#pipe-run");
    await page.waitForFunction(() => {
      const a = document.querySelector("#pipe-player");
      return a && Number.isFinite(a.duration) && a.duration > 0;
    }, null, { timeout: 60000 });
    seen.pipelineStages = await page.$$eval(".stage", (ds) => ds.map((d) => d.dataset.stage));
    seen.pipelineTranslation = await page.textContent(".stage[data-stage=translation] .output");
    seen.pipelineDuration = await page.$eval("#pipe-player", (a) => a.duration);
    await page.screenshot({ path: join(shots, "pipeline.png"), fullPage: true });
  });

  await step("speech-to-speech", async () => {
    // The live stream on the pipeline page: the fake microphone's English speech, recognized,
    // spoken back (no English pair to translate into here) while the audio streams in.
    await page.waitForSelector("#s2s-voice option", { state: "attached", timeout: 30000 });
    seen.s2sVoice = await page.inputValue("#s2s-voice");
    seen.s2sSpoken = await page.inputValue("#s2s-spoken");
    await page.click("#s2s-start");
    await page.waitForSelector("#s2s .utterance .final", { timeout: 90000 });
    await page.waitForFunction(() => Number(document.querySelector("#s2s .utterance")?.dataset.audioBytes) > 0,
      null, { timeout: 60000 });
    seen.s2sFinal = await page.textContent("#s2s .utterance .final");
    seen.s2sAudioBytes = await page.$eval("#s2s .utterance", (d) => Number(d.dataset.audioBytes));
    await page.screenshot({ path: join(shots, "speech-to-speech.png"), fullPage: true });
    await page.click("#s2s-stop");
    await page.waitForSelector("#s2s-start:not([disabled])", { timeout: 90000 });
    seen.s2sError = (await page.textContent("#s2s-error")) || null;
  });

  await step("keys", async () => {
    // Settings for a key's owner: today's usage, then a key created (shown once) and revoked.
    await page.goto(url("settings/"), { waitUntil: "load" });
    await page.waitForSelector("#usage", { timeout: 30000 });
    seen.usage = await page.textContent("#usage");
    const name = `made-in-the-browser-${Date.now()}`;
    await page.fill("#key-name", name);
    await page.fill("#key-scopes", "nmt");
    await page.click("#key-create");
    await page.waitForSelector("#new-key", { timeout: 30000 });
    seen.newKey = await page.textContent("#new-key");
    const row = page.locator("#keys tr", { hasText: name });
    await row.waitFor({ timeout: 30000 });
    seen.newKeyId = await row.getAttribute("data-key");
    await page.screenshot({ path: join(shots, "settings-keys.png"), fullPage: true });
    await row.locator("button.revoke").click();
    await page.waitForSelector(`#keys tr[data-key="${seen.newKeyId}"][data-revoked=true]`, { timeout: 30000 });
    seen.revoked = true;
  });
  seen.errors = errors;
  process.stdout.write(JSON.stringify(seen) + "\n");
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
