// The dashboard page: asks for an API key once (kept for this tab only, in sessionStorage),
// then reads GetOverview through the edge's REST binding every REFRESH_MS and draws it (from
// its own origin: the edge itself, or the dashboard's port, which relays the call to the edge). The
// charts are the page's own history of the overview's rates, drawn as SVG polylines.
"use strict";

const REFRESH_MS = 5000;
const HISTORY = 60; // points per chart: 5 minutes at one every 5 s
const KEY_ITEM = "ai4vc-dashboard-key";

const history = { total: [], services: new Map() };
let timer = null;

function $(id) { return document.getElementById(id); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function push(series, value) {
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

function polyline(svg, series, width, height) {
  svg.replaceChildren();
  const ns = "http://www.w3.org/2000/svg";
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (!series.length) return;
  const top = Math.max(...series, 0.001);
  // The history so far spans the whole width (it grows up to HISTORY points, then scrolls).
  const step = width / Math.max(series.length - 1, 1);
  const points = series.map((v, i) => `${(i * step).toFixed(1)},${(height - (v / top) * (height - 2) - 1).toFixed(1)}`);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
}

function spark(series) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("preserveAspectRatio", "none");
  polyline(svg, series, 100, 28);
  return svg;
}

function stateName(value) {
  return String(value || "").replace(/^SERVING_STATE_/, "").toLowerCase() || "unknown";
}

function seconds(duration) {
  // proto3 JSON Duration: "0.012s"; absent when the service had no traffic.
  if (!duration) return "–";
  const s = parseFloat(duration);
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}

function rate(value) { return Number(value || 0).toFixed(2); }
function percent(value) { return `${(Number(value || 0) * 100).toFixed(1)} %`; }

function sectionStatus(id, status) {
  const node = $(id);
  const state = String((status && status.state) || "").replace(/^SECTION_STATE_/, "").toLowerCase();
  node.className = `status ${state}`;
  node.dataset.state = state;
  node.textContent = state === "available" ? "" : state === "not_configured" ? "(not configured)"
    : `(unavailable${status.detail ? ": " + status.detail : ""})`;
}

function render(overview) {
  const services = overview.services || [];
  push(history.total, Number(overview.totalRequestRate || 0));
  $("total-rate").textContent = rate(overview.totalRequestRate);
  $("total-rate").dataset.value = String(overview.totalRequestRate || 0);
  $("total-errors").textContent = percent(overview.totalErrorRatio);
  const serving = services.filter((s) => stateName(s.state) === "serving").length;
  $("serving").textContent = `${serving} / ${services.length}`;
  $("serving").dataset.value = String(serving);
  const alerts = overview.firingAlerts || [];
  $("alert-count").textContent = String(alerts.length);
  polyline($("chart"), history.total, 300, 80);

  const rows = services.map((s) => {
    const series = history.services.get(s.service) || [];
    history.services.set(s.service, series);
    push(series, Number(s.requestRate || 0));
    const state = stateName(s.state);
    const replicas = (s.replicas || []).map((r) => `${r.address} ${stateName(r.state)}`).join("\n");
    return el("tr", { "data-service": s.service, "data-state": state },
      el("td", {}, s.service),
      el("td", { class: `state state-${state}` }, state.replace("_", " ")),
      el("td", { title: replicas }, String((s.replicas || []).length)),
      el("td", { class: "rate" }, rate(s.requestRate)),
      el("td", {}, percent(s.errorRatio)),
      el("td", {}, seconds(s.p50Latency)),
      el("td", {}, seconds(s.p99Latency)),
      el("td", {}, String(s.openStreams || 0)),
      el("td", {}, spark(series)));
  });
  $("services").tBodies[0].replaceChildren(...rows);
  sectionStatus("health-status", overview.healthStatus);
  sectionStatus("traffic-status", overview.trafficStatus);

  $("alerts").replaceChildren(...(alerts.length ? alerts.map((a) => el("li", { "data-alert": a.name },
    `${a.name}${a.severity ? " [" + a.severity + "]" : ""}${a.summary ? ": " + a.summary : ""}`))
    : [el("li", { class: "none" }, "none")]));
  sectionStatus("alerts-status", overview.alertsStatus);

  $("models").replaceChildren(...(overview.tritonModels || []).map((m) =>
    el("li", { class: m.ready ? "ready" : "not-ready", "data-model": m.name },
      `${m.name}${m.version ? " v" + m.version : ""} ${m.ready ? "ready" : (m.state || "not ready")}`)));
  sectionStatus("triton-status", overview.tritonStatus);

  $("keys").tBodies[0].replaceChildren(...(overview.topKeys || []).map((k) =>
    el("tr", { "data-key": k.keyId || "" },
      el("td", {}, k.keyId || "(bearer tokens)"),
      el("td", { class: "requests" }, String(k.requestCount || 0)),
      el("td", {}, String(k.errorCount || 0)),
      el("td", {}, String(k.characters || 0)),
      el("td", {}, Number(k.audioSeconds || 0).toFixed(1)))));
  sectionStatus("usage-status", overview.usageStatus);

  $("updated").textContent = `as of ${new Date(overview.computeTime).toLocaleTimeString()}`;
  $("updated").dataset.computeTime = overview.computeTime || "";
}

async function refresh() {
  const key = sessionStorage.getItem(KEY_ITEM);
  if (!key) return showLogin("");
  try {
    const answer = await fetch("/v1/dashboard:overview", { headers: { "x-api-key": key }, cache: "no-store" });
    if (answer.status === 401 || answer.status === 403) {
      sessionStorage.removeItem(KEY_ITEM);
      return showLogin(answer.status === 401 ? "That key was not accepted." : "That key lacks the dashboard scope.");
    }
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    render(await answer.json());
    $("board").hidden = false;
    $("login").hidden = true;
  } catch (err) {
    $("updated").textContent = `update failed (${err.message}); retrying`;
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function showLogin(message) {
  clearTimeout(timer);
  $("board").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("key").focus();
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_ITEM, $("key").value.trim());
  $("key").value = "";
  clearTimeout(timer);
  refresh();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_ITEM);
  showLogin("");
});

refresh();
