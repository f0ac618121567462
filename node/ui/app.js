// Stock-System console: draws the cluster from the node's event stream
// (/v1/events, server-sent events of status + master history) and sends
// the operator's actions to the REST API (/v1/...) with the bearer token.
// window.stocksys.last holds the latest event (tests read the page's data
// from it and from the DOM).
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const state = { last: null, events: 0 };
  window.stocksys = state;

  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const dur = (ms) => {
    if (ms == null) return "-";
    if (ms < 1000) return ms.toFixed(1) + " ms";
    const s = ms / 1000;
    if (s < 120) return s.toFixed(1) + " s";
    return Math.round(s / 60) + " min";
  };

  function token() { return $("#token").value.trim(); }
  $("#token").value = sessionStorage.getItem("stocksys-token") || "";
  $("#token").addEventListener("change", () => sessionStorage.setItem("stocksys-token", token()));

  function say(text, ok) {
    const m = $("#message");
    m.textContent = text;
    m.className = ok ? "ok" : "error";
  }

  async function act(path, what) {
    const reason = $("#reason").value.trim();
    try {
      const resp = await fetch(path, {
        method: "POST",
        headers: Object.assign({ "Content-Type": "application/json" }, token() ? { Authorization: "Bearer " + token() } : {}),
        body: reason ? JSON.stringify({ reason }) : "",
      });
      const body = await resp.json();
      if (resp.status === 200) say(what + ": applied by the master (epoch " + body.record.epoch + ")", true);
      else if (resp.status === 202) say(what + ": written, pending (intent " + body.intent + ")", true);
      else if (body.record) say(what + ": rejected: " + body.record.error, false);
      else say(what + ": " + body.code + ": " + body.message, false);
    } catch (e) {
      say(what + ": " + e, false);
    }
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    const a = b.dataset.act;
    if (b.dataset.node) act("/v1/nodes/" + encodeURIComponent(b.dataset.node) + "/" + a, a + " " + b.dataset.node);
    else if (b.dataset.task) act("/v1/tasks/" + b.dataset.task.split("/").map(encodeURIComponent).join("/") + "/" + a, a + " " + b.dataset.task);
  });
  $("#maint-enter").addEventListener("click", () => act("/v1/maintenance/enter", "maintenance enter"));
  $("#maint-exit").addEventListener("click", () => act("/v1/maintenance/exit", "maintenance exit"));
  $("#task-filter").addEventListener("input", () => state.last && drawTasks(state.last.status));

  function drawHeader(ev) {
    const st = ev.status;
    $("#master-id").textContent = st.master ? st.master.id : "none";
    $("#master-epoch").textContent = st.master ? String(st.master.epoch) : "-";
    $("#served-by").textContent = "(via " + ev.node + ")";
    const m = st.control && st.control.maintenance;
    const banner = $("#maintenance");
    banner.hidden = !m;
    banner.textContent = m ? "MAINTENANCE MODE by " + m.by + ": " + (m.reason || "") + " — the master makes no moves" : "";
  }

  function drawMembers(st) {
    const held = {};
    for (const t of st.tasks) if (t.owner) (held[t.owner] = held[t.owner] || []).push(t.id);
    const rows = st.members.map((m) => {
      const kind = m.drained ? "drained" : m.cordoned ? "cordoned" : m.suspended ? "suspended" : "active";
      const master = st.master && st.master.id === m.id ? " (master)" : "";
      const up = m.started ? dur(Date.now() - Date.parse(m.started)) : "-";
      const acts = m.cordoned
        ? `<button data-act="uncordon" data-node="${esc(m.id)}">uncordon</button>`
        : `<button data-act="drain" data-node="${esc(m.id)}">drain</button><button data-act="cordon" data-node="${esc(m.id)}">cordon</button>`;
      return `<tr data-node="${esc(m.id)}" class="${m.cordoned ? "cordoned" : ""}"><td>${esc(m.id)}${master}</td><td>${esc(m.session)}</td><td>${up}</td>` +
        `<td>${m.capacity || 1}</td><td class="kind">${kind}</td><td class="held">${esc((held[m.id] || []).sort().join(" "))}</td><td>${acts}</td></tr>`;
    });
    $("#members tbody").innerHTML = rows.join("");
    $("#members-count").textContent = "(" + st.members.length + ")";
  }

  function drawTasks(st) {
    const f = $("#task-filter").value.trim().toLowerCase();
    const shown = st.tasks.filter((t) => !f || t.id.toLowerCase().includes(f) || (t.state || "").includes(f));
    const rows = shown.map((t) => {
      const cls = !t.owner ? "unassigned" : t.state === "failed" ? "failed" : "";
      let note = t.unassigned_reason || "";
      if (t.last_error) note += " last error: " + t.last_error;
      if (t.retry_at) note += " (failure " + Math.max(t.failures || 0, 1) + ", retry " + new Date(t.retry_at).toLocaleTimeString() + ")";
      const acts = t.paused
        ? `<button data-act="resume" data-task="${esc(t.id)}">resume</button>`
        : `<button data-act="pause" data-task="${esc(t.id)}">pause</button><button data-act="restart" data-task="${esc(t.id)}">restart</button>`;
      return `<tr data-task="${esc(t.id)}" class="${cls}"><td>${esc(t.id)}</td><td class="owner">${esc(t.owner || "UNASSIGNED")}</td>` +
        `<td class="state state-${esc(t.state)}">${esc(t.state)}</td><td>${t.epoch || ""}</td><td>${(t.rate || 0).toFixed(1)}</td>` +
        `<td>${t.lag == null ? "" : t.lag}</td><td>${esc(note)}</td><td>${acts}</td></tr>`;
    });
    $("#tasks tbody").innerHTML = rows.join("");
    $("#tasks-count").textContent = "(" + shown.length + " of " + st.tasks.length + ", " + st.unassigned.length + " unassigned)";
  }

  function drawTimeline(history) {
    const svg = $("#timeline");
    const terms = history.slice(-10);
    if (!terms.length) { svg.innerHTML = ""; return; }
    const now = Date.now();
    const start = Date.parse(terms[0].started);
    const end = (i) => (terms[i].ended ? Date.parse(terms[i].ended) : i + 1 < terms.length ? Date.parse(terms[i + 1].started) : now);
    const span = Math.max(now - start, 1);
    const width = svg.clientWidth || 800;
    const x = (t) => ((t - start) / span) * (width - 10) + 5;
    let out = "";
    terms.forEach((t, i) => {
      const a = x(Date.parse(t.started)), b = Math.max(x(end(i)), a + 2);
      out += `<rect data-epoch="${t.epoch}" class="${t.current ? "current" : ""}" x="${a}" y="20" width="${b - a - 1}" height="24"><title>epoch ${t.epoch} on ${esc(t.node)}: ${esc(t.began)}</title></rect>`;
      out += `<text x="${a + 2}" y="15">${t.epoch} ${esc(t.node)}</text>`;
    });
    svg.innerHTML = out;
    $("#terms tbody").innerHTML = terms.slice().reverse().map((t) =>
      `<tr data-epoch="${t.epoch}"><td>${t.epoch}</td><td>${esc(t.node)}</td><td>${esc(t.began)}</td><td>${new Date(t.started).toLocaleTimeString()}</td>` +
      `<td>${dur(t.handover_ms)}</td><td>${dur(t.first_assignment_ms)}</td><td>${dur(t.all_running_ms)}</td><td>${t.current ? "current" : t.ended ? "resigned" : "not recorded"}</td></tr>`).join("");
    drawPhases(terms);
  }

  // The latest change of master in its phases, to scale (ms from the old
  // term's recorded end, or from the election when the end was not
  // recorded: a crash is known only by its session's expiry):
  // old term ended, new master elected, first fenced write, every task
  // running. state.phases holds what is drawn.
  function drawPhases(terms) {
    const svg = $("#phases");
    const t = terms.slice().reverse().find((x) => x.first_assignment_ms != null && x.began !== "first_term");
    state.phases = null;
    if (!t) { svg.innerHTML = ""; $("#phases-caption").textContent = "no change of master recorded"; return; }
    const pre = t.handover_ms != null ? t.handover_ms : 0;
    const points = [];
    if (t.handover_ms != null) points.push({ name: "old term ended", ms: 0 });
    points.push({ name: t.handover_ms != null ? "elected" : "elected (" + t.began + ")", ms: pre });
    points.push({ name: "first fenced write", ms: pre + t.first_assignment_ms });
    if (t.all_running_ms != null) points.push({ name: "all tasks running", ms: pre + t.all_running_ms });
    state.phases = { epoch: t.epoch, points };
    const total = Math.max(points[points.length - 1].ms, 1);
    const width = svg.clientWidth || 800;
    const x = (ms) => (ms / total) * (width - 200) + 10; // room for the last label
    let out = `<line x1="${x(0)}" y1="30" x2="${x(total)}" y2="30" class="axis"></line>`;
    points.forEach((p, i) => {
      const y = 14 + (i % 2) * 34;
      out += `<line data-phase="${i}" x1="${x(p.ms)}" y1="22" x2="${x(p.ms)}" y2="38" class="phase"></line>` +
        `<text x="${x(p.ms) + 2}" y="${i % 2 ? y + 10 : y}">${esc(p.name)} ${p.ms.toFixed(1)} ms</text>`;
    });
    svg.innerHTML = out;
    $("#phases-caption").textContent = `epoch ${t.epoch} on ${t.node}: ${t.began}`;
  }

  function draw(ev) {
    state.last = ev;
    state.events++;
    drawHeader(ev);
    drawMembers(ev.status);
    drawTasks(ev.status);
    drawTimeline(ev.history || []);
    fillSymbols(ev.status);
  }

  // Charts: candlesticks, volume and VWAP of the stored bars
  // (lightweight-charts), history from /v1/bars on open, the newest bars
  // live from the event stream. state.chart holds what is drawn.
  state.chart = { symbol: "", interval: "1m", bars: [], alerts: [], markers: [] };
  let chart = null, candles = null, volume = null, vwap = null, markers = null;
  function initChart() {
    if (chart || !window.LightweightCharts) return;
    const L = window.LightweightCharts;
    chart = L.createChart($("#chart"), { autoSize: true, timeScale: { timeVisible: true, secondsVisible: false } });
    candles = chart.addSeries(L.CandlestickSeries, {});
    vwap = chart.addSeries(L.LineSeries, { color: "#fa8c16", lineWidth: 1, priceLineVisible: false, lastValueVisible: false });
    volume = chart.addSeries(L.HistogramSeries, { priceScaleId: "vol", priceFormat: { type: "volume" }, color: "#bfbfbf" });
    chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    markers = L.createSeriesMarkers(candles, []);
  }
  // Alerts (implausible moves, from /v1/alerts and the bars events) as
  // markers on the candle that holds each alert's minute.
  const stepMs = { "1m": 60e3, "5m": 300e3, "1h": 3600e3, "1d": 86400e3 };
  function addAlerts(list) {
    const have = new Set(state.chart.alerts.map((a) => a.ts));
    for (const a of list || []) if (!have.has(a.ts)) { state.chart.alerts.push(a); have.add(a.ts); }
    state.chart.alerts.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts));
    drawMarkers();
  }
  function drawMarkers() {
    const bars = state.chart.bars;
    const out = [];
    for (const a of state.chart.alerts) {
      const t = Date.parse(a.ts);
      let i = bars.length - 1;
      while (i >= 0 && Date.parse(bars[i].ts) > t) i--;
      if (i < 0) continue; // before the bars shown
      out.push({ ts: bars[i].ts, alert: a.ts, move_pct: a.move_pct, reason: a.reason });
    }
    state.chart.markers = out;
    if (markers) markers.setMarkers(out.map((m) => ({ time: Math.floor(Date.parse(m.ts) / 1000), position: m.move_pct > 0 ? "aboveBar" : "belowBar",
      color: "#cf1322", shape: m.move_pct > 0 ? "arrowDown" : "arrowUp", text: (m.move_pct > 0 ? "+" : "") + m.move_pct.toFixed(1) + "%" })));
    info();
  }
  async function loadAlerts(sym, iv, bars) {
    if (!bars.length) return;
    const last = Date.parse(bars[bars.length - 1].ts);
    const from = Math.max(Date.parse(bars[0].ts), last - 7 * 86400e3);
    const q = `from=${new Date(from).toISOString().replace(".000", "")}&to=${new Date(last + stepMs[iv]).toISOString().replace(".000", "")}`;
    const resp = await fetch(`/v1/alerts/${encodeURIComponent(sym)}?${q}`);
    if (resp.status !== 200) return; // a node without a store: no markers
    const list = await resp.json();
    if (sym === state.chart.symbol && iv === state.chart.interval) addAlerts(list);
  }
  const sec = (b) => Math.floor(Date.parse(b.ts) / 1000);
  function setBars(bars) {
    state.chart.bars = bars;
    initChart();
    if (!chart) return;
    candles.setData(bars.map((b) => ({ time: sec(b), open: b.open, high: b.high, low: b.low, close: b.close })));
    volume.setData(bars.map((b) => ({ time: sec(b), value: b.volume })));
    vwap.setData(bars.map((b) => ({ time: sec(b), value: b.vwap })));
    drawMarkers();
  }
  function info() {
    const b = state.chart.bars[state.chart.bars.length - 1];
    const n = state.chart.markers.length;
    $("#chart-info").textContent = b ? `${state.chart.symbol} ${state.chart.interval}: ${state.chart.bars.length} bars, last ${b.ts} close ${b.close} VWAP ${b.vwap.toFixed(2)}` +
      (n ? `, ${n} alert${n > 1 ? "s" : ""}` : "") : "no bars stored";
  }
  function mergeBars(ev) {
    if (ev.symbol !== state.chart.symbol || ev.interval !== state.chart.interval) return;
    const bars = state.chart.bars;
    for (const b of ev.bars) {
      const newest = bars.length ? Date.parse(bars[bars.length - 1].ts) : -Infinity;
      const i = bars.findIndex((x) => x.ts === b.ts);
      if (i >= 0) bars[i] = b;
      else if (Date.parse(b.ts) > newest) bars.push(b);
      else continue;
      // The chart only takes updates of its newest bar or newer ones (an
      // older bar's change arrives with the history load instead).
      if (chart && Date.parse(b.ts) >= newest) {
        candles.update({ time: sec(b), open: b.open, high: b.high, low: b.low, close: b.close });
        volume.update({ time: sec(b), value: b.volume });
        vwap.update({ time: sec(b), value: b.vwap });
      }
    }
    addAlerts(ev.alerts);
  }
  async function loadChart() {
    const sym = $("#symbol").value, iv = $("#interval").value;
    state.chart.symbol = sym;
    state.chart.interval = iv;
    state.chart.alerts = [];
    connect();
    if (!sym) return;
    const resp = await fetch(`/v1/bars/${encodeURIComponent(sym)}?interval=${iv}&limit=500`);
    const body = await resp.json();
    if (resp.status !== 200) { $("#chart-info").textContent = body.code + ": " + body.message; return; }
    if (sym === state.chart.symbol && iv === state.chart.interval) {
      setBars(body);
      await loadAlerts(sym, iv, body);
    }
  }
  // The symbol picker: every fetch task's symbol, narrowed by the search
  // box (a cluster may have hundreds).
  state.symbols = [];
  function fillSymbols(st) {
    const syms = st.tasks.filter((t) => t.type === "fetch").map((t) => t.id.slice("fetch/".length)).sort();
    if (syms.join() === state.symbols.join()) return;
    state.symbols = syms;
    pickSymbols();
  }
  function pickSymbols() {
    const sel = $("#symbol");
    const q = $("#symbol-search").value.trim().toUpperCase();
    const shown = state.symbols.filter((s) => !q || s.includes(q));
    const have = Array.from(sel.options).map((o) => o.value);
    if (shown.join() !== have.join()) {
      const cur = sel.value;
      sel.innerHTML = shown.map((s) => `<option>${esc(s)}</option>`).join("");
      if (shown.includes(cur)) sel.value = cur;
    }
    if (sel.value !== state.chart.symbol) loadChart();
  }
  $("#symbol-search").addEventListener("input", pickSymbols);
  $("#symbol").addEventListener("change", loadChart);
  $("#interval").addEventListener("change", loadChart);

  let es = null;
  function connect() {
    if (es) es.close();
    const q = state.chart.symbol ? `?symbol=${encodeURIComponent(state.chart.symbol)}&interval=${state.chart.interval}` : "";
    es = new EventSource("/v1/events" + q);
    es.addEventListener("bars", (m) => mergeBars(JSON.parse(m.data)));
    es.addEventListener("open", () => { $("#conn-state").textContent = "connected"; });
    es.addEventListener("cluster", (m) => draw(JSON.parse(m.data)));
    es.addEventListener("error", (m) => {
      if (m.data) { $("#conn-state").textContent = "node cannot read ZooKeeper: " + JSON.parse(m.data).message; return; }
      $("#conn-state").textContent = "reconnecting";
    });
  }
  connect();
})();
