// Loads the dashboard page in a real browser (Debian chromium, driven by playwright-core),
// signs in with an API key, waits until the page shows figures, screenshots it (desktop and
// phone widths) and prints what it rendered as JSON for the pytest e2e test to compare with
// GetOverview.
//
//   node dashboard.mjs <page url> <api key> <screenshot dir> [key id to wait for] [requests]
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, apiKey, shots, waitKey = "", waitRequests = "0"] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "ai4vc-chromium-"));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
  viewport: { width: 1200, height: 1000 },
});
const errors = [];
try {
  const page = browser.pages()[0] || await browser.newPage();
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("console", (msg) => { if (msg.type() === "error") errors.push(msg.text()); });
  page.on("response", (answer) => { if (answer.status() >= 400) errors.push(`${answer.status()} ${answer.url()}`); });
  await page.goto(url, { waitUntil: "load" });
  await page.fill("#key", apiKey);
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#services tbody tr", { timeout: 30000 });
  if (waitKey) {
    await page.waitForFunction(([key, count]) => {
      const row = document.querySelector(`#keys tr[data-key="${key}"] td.requests`);
      return row && Number(row.textContent) >= count;
    }, [waitKey, Number(waitRequests)], { timeout: 30000 });
  }
  // A second refresh, so the charts have two points (the page redraws every 5 s).
  const first = await page.getAttribute("#updated", "data-compute-time");
  await page.waitForFunction((t) => document.querySelector("#updated").dataset.computeTime !== t, first,
                             { timeout: 30000 });
  const rendered = await page.evaluate(() => ({
    computeTime: document.querySelector("#updated").dataset.computeTime,
    totalRate: Number(document.querySelector("#total-rate").dataset.value),
    serving: Number(document.querySelector("#serving").dataset.value),
    services: Object.fromEntries([...document.querySelectorAll("#services tbody tr")].map((tr) => [
      tr.dataset.service, { state: tr.dataset.state, rate: Number(tr.querySelector("td.rate").textContent),
                            replicas: Number(tr.children[2].textContent) }])),
    keys: Object.fromEntries([...document.querySelectorAll("#keys tbody tr")].map((tr) => [
      tr.dataset.key, Number(tr.querySelector("td.requests").textContent)])),
    models: Object.fromEntries([...document.querySelectorAll("#models li")].map((li) => [
      li.dataset.model, li.classList.contains("ready")])),
    chartPoints: (document.querySelector("#chart polyline")?.getAttribute("points") || "").split(" ").length,
  }));
  await page.screenshot({ path: join(shots, "dashboard-desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, "dashboard-phone.png"), fullPage: true });
  rendered.phoneOverflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  rendered.errors = errors;
  process.stdout.write(JSON.stringify(rendered) + "\n");
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
