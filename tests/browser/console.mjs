// Drives the web console (web/) in a real browser (Debian chromium, playwright-core): saves the
// API key in Settings, translates, synthesizes and waits for the <audio> to have a duration,
// draws its waveform and downloads it in other encodings (named and typed for each), uploads a WAV,
// a FLAC and an Ogg and waits for their transcripts (and a file that is no audio, for the service's
// error), and speaks into the "microphone" — Chromium's fake capture device playing a WAV — until
// interim text and then a final appear, and streams speech to speech from it on the pipeline page;
// signs in with a user and password, translates and streams with the JWT (and recovers from a
// refused token by refreshing), signs out; switches the interface to Hindi and Urdu. A screenshot
// per page; prints what it saw as JSON for tests/e2e/test_webui_mesh.py.
//
//   node console.mjs <console url, e.g. http://127.0.0.1:8080/ui/> <api key> <screenshot dir>
//        <upload wav> <microphone wav> <hindi text> <upload flac> <upload ogg> <user> <password>
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, apiKey, shots, uploadWav, micWav, hindi, uploadFlac, uploadOgg, user, password] = process.argv.slice(2);
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
// Failures a step provokes on purpose (a refused token), not counted as errors while set.
let expected = [];
const unexpected = (text) => !expected.some((re) => re.test(text));
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
  page.on("console", (msg) => {
    if (msg.type() === "error" && unexpected(`console: ${msg.text()}`)) errors.push(`console: ${msg.text()}`);
  });
  page.on("response", (answer) => {
    const line = `${answer.status()} ${answer.url()}`;
    if (answer.status() >= 400 && unexpected(line)) errors.push(line);
  });
  const url = (path) => new URL(path, base).toString();

  await page.goto(url("settings/"), { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector("#edge-url")?.value, null, { timeout: 20000 });
  seen.defaultEdgeUrl = await page.inputValue("#edge-url");
  await page.fill("#api-key", apiKey);
  await page.click("#settings button[type=submit]");
  await page.waitForSelector("#saved");
  seen.keyInStorage = await page.evaluate(() => localStorage.getItem("ai4vc.settings")?.includes("apiKey"));
  await page.screenshot({ path: join(shots, "settings.png"), fullPage: true });

  // The NMT page, Hindi → Urdu, until the translation shows (the API key's and the JWT's steps).
  async function translateOnThePage() {
    await page.goto(url("nmt/"), { waitUntil: "load" });
    await page.waitForSelector("#source option[value=hi]", { state: "attached", timeout: 30000 });
    await page.selectOption("#source", "hi");
    await page.waitForSelector("#target option[value=ur]", { state: "attached" });
    await page.selectOption("#target", "ur");
    await page.fill("#text", hindi);
    await page.click("#translate");
    await page.waitForFunction(() => document.querySelector("#translation")?.textContent?.trim(), null, { timeout: 60000 });
  }

  await step("nmt", async () => {
    await translateOnThePage();
    seen.translation = await page.textContent("#translation");
    seen.translationDir = await page.getAttribute("#translation", "dir");
    await page.screenshot({ path: join(shots, "nmt.png"), fullPage: true });
    // A do-not-translate phrase: its words come back as they were, the rest translated.
    const kept = hindi.split(" ")[0];
    await page.fill("#keep", kept);
    await page.click("#translate");
    await page.waitForFunction((word) => document.querySelector("#translation")?.textContent?.includes(word), kept,
                               { timeout: 60000 });
    seen.keptPhrase = kept;
    seen.keptTranslation = await page.textContent("#translation");
    await page.screenshot({ path: join(shots, "nmt-do-not-translate.png"), fullPage: true });
    await page.fill("#keep", "");
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
    // The waveform, drawn from the decoded samples.
    await page.waitForSelector("[data-testid=waveform][data-ready=true]", { timeout: 30000 });
    seen.waveform = await page.$eval("[data-testid=waveform]", (d) => ({ seconds: Number(d.dataset.seconds), peak: Number(d.dataset.peak) }));
    await page.locator("[data-testid=waveform]").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, "tts-waveform.png"), fullPage: true });
    // Other encodings: played, drawn and downloaded under their own extension, bytes as the service sent them.
    seen.downloads = {};
    for (const encoding of ["MP3", "OGG_OPUS", "FLAC", "MULAW"]) {
      await page.selectOption("#encoding", encoding);
      await page.click("#synthesize");
      await page.waitForSelector(`[data-testid=tts-result][data-encoding=${encoding}] [data-testid=waveform][data-ready=true]`,
        { timeout: 60000 });
      const [download] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), page.click("#download")]);
      const bytes = readFileSync(await download.path());
      seen.downloads[encoding] = {
        file: download.suggestedFilename(), size: bytes.length, head: bytes.subarray(0, 4).toString("latin1"),
        duration: await page.$eval("#player", (a) => a.duration),
        waveformSeconds: await page.$eval("[data-testid=waveform]", (d) => Number(d.dataset.seconds)),
      };
    }
    await page.screenshot({ path: join(shots, "tts-encoding.png"), fullPage: true });
    // An encoding this deployment cannot write: the service's reason is shown.
    await page.selectOption("#encoding", "WEBM_OPUS");
    await page.click("#synthesize");
    await page.waitForSelector(".error[data-reason]", { timeout: 30000 });
    seen.webmReason = await page.getAttribute(".error", "data-reason");
    await page.selectOption("#encoding", "WAV");
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
    // Not WAV: the encoding is left unspecified and the service reads the container's header.
    seen.otherTranscripts = {};
    for (const [name, path] of [["flac", uploadFlac], ["ogg", uploadOgg]]) {
      await page.setInputFiles("#file", path);
      await page.click("#recognize");
      await page.waitForSelector("#recognize:not([disabled])", { timeout: 60000 });
      await page.waitForFunction(() => document.querySelector("#transcript")?.textContent?.trim()
        || document.querySelector(".error"), null, { timeout: 60000 });
      seen.otherTranscripts[name] = (await page.textContent("#transcript").catch(() => null))?.trim() ?? null;
    }
    await page.screenshot({ path: join(shots, "asr-upload-flac-ogg.png"), fullPage: true });
    // A file that is no audio: the service's error, with its reason, and no transcript.
    await page.setInputFiles("#file", { name: "notes.mp3", mimeType: "audio/mpeg", buffer: Buffer.from("these are no audio bytes at all") });
    await page.click("#recognize");
    await page.waitForSelector(".error[data-reason]", { timeout: 60000 });
    seen.notAudio = { reason: await page.getAttribute(".error", "data-reason"),
                      fields: await page.$$eval(".error li[data-field]", (ls) => ls.map((l) => l.dataset.field)),
                      transcript: await page.$("#transcript") !== null };
    await page.screenshot({ path: join(shots, "asr-upload-error.png"), fullPage: true });
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

  await step("signin", async () => {
    // A user (created by the test with the admin key) signs in through the form; calls then carry
    // the JWT, not the API key that is still saved.
    await page.goto(url("settings/"), { waitUntil: "load" });
    await page.waitForSelector("#signin-submit", { timeout: 30000 });
    await page.screenshot({ path: join(shots, "signin.png"), fullPage: true });
    await page.fill("#username", user);
    await page.fill("#password", password);
    await page.click("#signin-submit");
    await page.waitForSelector("#signed-in-user", { timeout: 30000 });
    seen.signedInUser = await page.textContent("#signed-in-user");
    seen.headerUser = await page.textContent("[data-testid=header-user]");
    seen.tokenInSessionStorage = await page.evaluate(() => !!JSON.parse(sessionStorage.getItem("ai4vc.session") || "{}").accessToken);
    seen.tokenInLocalStorage = await page.evaluate(() => Object.keys(localStorage).some((k) => /token/i.test(localStorage.getItem(k) || "")));
    await page.screenshot({ path: join(shots, "signed-in.png"), fullPage: true });

    const sent = [];
    page.on("request", (r) => {
      if (r.url().includes("NmtService/TranslateText")) {
        const h = r.headers();
        sent.push({ bearer: (h.authorization || "").startsWith("Bearer "), apiKey: "x-api-key" in h });
      }
    });
    await translateOnThePage();
    seen.jwtTranslation = await page.textContent("#translation");
    // A token the edge refuses (its signature spoiled): the call is refreshed and sent once more.
    const spoiled = await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem("ai4vc.session"));
      s.accessToken = s.accessToken.slice(0, -6) + (s.accessToken.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA");
      sessionStorage.setItem("ai4vc.session", JSON.stringify(s));
      return s.accessToken;
    });
    expected = [/^401 .*TranslateText/, /status of 401/];
    await page.evaluate(() => { document.querySelector("#translation").textContent = ""; });
    await page.click("#translate");
    await page.waitForFunction(() => document.querySelector("#translation")?.textContent?.trim(), null, { timeout: 60000 });
    expected = [];
    seen.refreshedTranslation = await page.textContent("#translation");
    seen.tokenReplaced = await page.evaluate((old) => JSON.parse(sessionStorage.getItem("ai4vc.session")).accessToken !== old, spoiled);
    seen.jwtRequests = [...sent]; // a copy: later steps translate with the API key

    // The WebSocket bridge with the JWT (sub-protocol ai4vc-bearer.<token>): TTS streamed.
    await page.goto(url("tts/"), { waitUntil: "load" });
    await page.waitForSelector("#voice option", { state: "attached", timeout: 30000 });
    await page.fill("#text", hindi);
    await page.click("#stream");
    await page.waitForFunction(() => Number(document.querySelector("#stream-chunks")?.dataset.count) > 0
      && document.querySelector("#stream:not([disabled])") && document.querySelector("#player"), null, { timeout: 60000 });
    seen.jwtStreamChunks = await page.$eval("#stream-chunks", (e) => Number(e.dataset.count));

    // Sign out: Logout ends the refresh token at the service; the tab forgets the session.
    await page.goto(url("settings/"), { waitUntil: "load" });
    await page.waitForSelector("#signout", { timeout: 30000 });
    const refreshToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem("ai4vc.session")).refreshToken);
    await page.click("#signout");
    await page.waitForSelector("#signin-submit", { timeout: 30000 });
    seen.sessionAfterSignOut = await page.evaluate(() => sessionStorage.getItem("ai4vc.session"));
    const edge = seen.defaultEdgeUrl.replace(/\/$/, "");
    const answer = await fetch(`${edge}/v1/auth:refresh`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refreshToken }) });
    seen.refreshAfterSignOut = answer.status;
  });

  await step("i18n", async () => {
    // The console's own words in Hindi, then Urdu (right to left), kept across a reload; back to English.
    await page.goto(url("nmt/"), { waitUntil: "load" });
    await page.waitForSelector("#source option[value=hi]", { state: "attached", timeout: 30000 });
    const translateHindi = async () => {
      await page.selectOption("#source", "hi");
      await page.waitForSelector("#target option[value=ur]", { state: "attached" });
      await page.selectOption("#target", "ur");
      await page.fill("#text", hindi);
      await page.click("#translate");
      await page.waitForFunction(() => document.querySelector("#translation")?.textContent?.trim(), null, { timeout: 60000 });
    };
    await page.selectOption("#locale", "hi");
    await page.waitForFunction(() => document.documentElement.lang === "hi", null, { timeout: 10000 });
    await translateHindi();
    seen.hindi = await page.evaluate(() => ({
      nav: document.querySelector("[data-testid=nav-settings]").textContent,
      label: document.querySelector("#source-label")?.textContent,
      button: document.querySelector("#translate").textContent,
      dir: document.documentElement.dir }));
    await page.screenshot({ path: join(shots, "ui-hindi.png"), fullPage: true });
    await page.selectOption("#locale", "ur");
    await page.waitForFunction(() => document.documentElement.dir === "rtl", null, { timeout: 10000 });
    await page.reload({ waitUntil: "load" });
    await page.waitForFunction(() => document.documentElement.dir === "rtl", null, { timeout: 10000 });
    await page.waitForSelector("#source option[value=hi]", { state: "attached", timeout: 30000 });
    await translateHindi();
    seen.urduTranslation = await page.textContent("#translation");
    seen.urdu = await page.evaluate(() => ({
      nav: document.querySelector("[data-testid=nav-settings]").textContent,
      button: document.querySelector("#translate").textContent,
      lang: document.documentElement.lang, dir: document.documentElement.dir,
      stored: localStorage.getItem("ai4vc.locale") }));
    await page.screenshot({ path: join(shots, "ui-urdu.png"), fullPage: true });
    await page.goto(url("tts/"), { waitUntil: "load" });
    await page.waitForSelector("#voice option", { state: "attached", timeout: 30000 });
    const urduVoice = (await page.$$eval("#voice option", (os) => os.map((o) => o.value))).find((v) => v.startsWith("ur"));
    if (urduVoice) await page.selectOption("#voice", urduVoice);
    await page.fill("#text", seen.urduTranslation || hindi);
    await page.click("#synthesize");
    await page.waitForSelector("[data-testid=waveform][data-ready=true]", { timeout: 60000 });
    await page.screenshot({ path: join(shots, "ui-urdu-tts.png"), fullPage: true });
    // Tamil, on the home page.
    await page.goto(url(""), { waitUntil: "load" });
    // The stored choice (Urdu) applies after hydration; switch only once it has.
    await page.waitForFunction(() => document.documentElement.lang === "ur", null, { timeout: 10000 });
    await page.selectOption("#locale", "ta");
    await page.waitForFunction(() => document.documentElement.lang === "ta" && document.documentElement.dir === "ltr",
      null, { timeout: 10000 });
    seen.tamilNav = await page.textContent("[data-testid=nav-settings]");
    await page.screenshot({ path: join(shots, "ui-tamil-home.png"), fullPage: true });
    await page.selectOption("#locale", "en");
    await page.waitForFunction(() => document.documentElement.lang === "en", null, { timeout: 10000 });
  });
  seen.errors = errors;
  process.stdout.write(JSON.stringify(seen) + "\n");
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
