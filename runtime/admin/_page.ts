/**
 * The live status page served at `GET /`: plain HTML and JavaScript (no build step, no external
 * assets). It draws the flow graph from `GET /flows` as SVG and follows `GET /events` (server-sent
 * events) for the counters, rates, workers and per-partition lag.
 *
 * @module
 */

/**
 * The status page.
 *
 * @example
 * ```ts
 * import { STATUS_PAGE_HTML } from "@loom/streaming/runtime";
 * STATUS_PAGE_HTML.startsWith("<!doctype html>"); // true
 * ```
 */
export const STATUS_PAGE_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loom flow</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  .muted { color: #6b7280; }
  .cards { display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }
  .card { background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; padding: .6rem .9rem; min-width: 8rem; }
  .card b { display: block; font-size: 1.4rem; font-variant-numeric: tabular-nums; }
  .card span { color: #6b7280; font-size: .8rem; }
  table { border-collapse: collapse; background: #fff; margin: .5rem 0 1rem; }
  th, td { border: 1px solid #e3e6eb; padding: .25rem .6rem; text-align: right; font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child { text-align: left; }
  #graph { background: #fff; border: 1px solid #e3e6eb; border-radius: 8px; overflow: auto; }
  .ok { color: #15803d; } .bad { color: #b91c1c; }
  svg text { font: 12px system-ui, sans-serif; }
</style>
</head>
<body>
<h1 id="title">loom flow</h1>
<div class="muted"><span id="state">connecting…</span> · <span id="ready"></span></div>
<div class="cards">
  <div class="card"><b id="consumed">0</b><span>consumed</span></div>
  <div class="card"><b id="consumedRate">0</b><span>consumed / s</span></div>
  <div class="card"><b id="produced">0</b><span>produced</span></div>
  <div class="card"><b id="producedRate">0</b><span>produced / s</span></div>
  <div class="card"><b id="errors">0</b><span>errors</span></div>
  <div class="card"><b id="inFlight">0</b><span>in flight</span></div>
  <div class="card"><b id="lag">0</b><span>lag</span></div>
</div>
<h2>Graph</h2>
<div id="graph"></div>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>thread</th><th>state</th><th>partitions</th><th>restarts</th><th>last error</th></tr></thead><tbody></tbody></table>
<h2>Partitions</h2>
<table id="partitions"><thead><tr><th>partition</th><th>committed</th><th>end</th><th>lag</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
function drawGraph(g) {
  const layer = new Map(g.nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < g.nodes.length; pass++) {
    let moved = false;
    for (const e of g.edges) {
      const want = (layer.get(e.from) ?? 0) + 1;
      if ((layer.get(e.to) ?? 0) < want) { layer.set(e.to, want); moved = true; }
    }
    if (!moved) break;
  }
  const rows = new Map();
  const pos = new Map();
  const W = 170, H = 46, GX = 50, GY = 18;
  for (const n of g.nodes) {
    const l = layer.get(n.id) ?? 0;
    const r = rows.get(l) ?? 0;
    rows.set(l, r + 1);
    pos.set(n.id, { x: 10 + l * (W + GX), y: 10 + r * (H + GY) });
  }
  const width = 20 + (Math.max(0, ...layer.values()) + 1) * (W + GX);
  const height = 20 + Math.max(1, ...rows.values()) * (H + GY);
  let svg = '<svg xmlns="http://www.w3.org/2000/svg" width="' + width + '" height="' + height + '">' +
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto">' +
    '<path d="M0,0L10,5L0,10z" fill="#64748b"/></marker></defs>';
  for (const e of g.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    svg += '<path d="M' + x1 + ',' + y1 + ' C' + (x1 + GX / 2) + ',' + y1 + ' ' + (x2 - GX / 2) + ',' + y2 + ' ' + x2 + ',' + y2 +
      '" fill="none" stroke="#64748b" marker-end="url(#arrow)"' + (e.dashed ? ' stroke-dasharray="4 3"' : '') + '/>';
    if (e.label) svg += '<text x="' + (x1 + 4) + '" y="' + (y1 - 4) + '" fill="#475569">' + esc(e.label) + '</text>';
  }
  const fill = { topic: "#e0f2fe", diamond: "#fef3c7", round: "#fee2e2", box: "#eef2ff" };
  for (const n of g.nodes) {
    const p = pos.get(n.id);
    const rx = n.kind === "round" || n.kind === "topic" ? 16 : 4;
    svg += '<g data-node="' + esc(n.id) + '"><rect x="' + p.x + '" y="' + p.y + '" width="' + W + '" height="' + H + '" rx="' + rx +
      '" fill="' + (fill[n.kind] || "#eef2ff") + '" stroke="#94a3b8"/>' +
      '<text x="' + (p.x + 8) + '" y="' + (p.y + H / 2 + 4) + '">' + esc(n.label.length > 26 ? n.label.slice(0, 25) + "…" : n.label) +
      '<title>' + esc(n.label) + '</title></text></g>';
  }
  $("graph").innerHTML = svg + "</svg>";
}
let last = null;
function render(s) {
  $("title").textContent = "loom flow " + s.flow;
  $("state").textContent = s.state + " · up " + Math.round(s.uptimeMs / 1000) + " s";
  $("ready").innerHTML = s.ready.ready ? '<span class="ok">ready</span>' :
    '<span class="bad">not ready: ' + esc(s.ready.reasons.join("; ")) + "</span>";
  for (const k of ["consumed", "produced", "errors", "inFlight", "lag"]) $(k).textContent = s.totals[k].toLocaleString("en");
  const now = performance.now();
  if (last) {
    const dt = (now - last.at) / 1000;
    if (dt > 0) {
      $("consumedRate").textContent = Math.round((s.totals.consumed - last.totals.consumed) / dt).toLocaleString("en");
      $("producedRate").textContent = Math.round((s.totals.produced - last.totals.produced) / dt).toLocaleString("en");
    }
  }
  last = { at: now, totals: s.totals };
  $("workers").tBodies[0].innerHTML = s.workers.map((w) =>
    "<tr><td>" + w.index + "</td><td>" + w.thread + '</td><td class="' + (w.state === "running" ? "ok" : "bad") + '">' + esc(w.state) +
    "</td><td>" + esc(w.assigned.join(" ")) + "</td><td>" + w.restarts + "</td><td>" + esc(w.lastError ?? "") + "</td></tr>").join("");
  $("partitions").tBodies[0].innerHTML = s.partitions.map((p) =>
    "<tr><td>" + esc(p.topic + "[" + p.partition + "]") + "</td><td>" + (p.committed ?? "–") + "</td><td>" + (p.end ?? "–") +
    '</td><td data-lag="' + esc(p.topic + "[" + p.partition + "]") + '">' + (p.lag ?? "–") + "</td></tr>").join("");
}
fetch("flows").then((r) => r.json()).then((j) => drawGraph(j.flows[0].graph)).catch((e) => { $("graph").textContent = String(e); });
const events = new EventSource("events");
events.addEventListener("status", (e) => render(JSON.parse(e.data)));
events.onerror = () => { $("state").textContent = "disconnected, retrying…"; };
</script>
</body>
</html>
`;
