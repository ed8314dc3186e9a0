// claude-force live dashboard: plain JavaScript, no build step, nothing loaded from elsewhere.
// It listens to the server's Server-Sent Events stream (api/v1/events): a "snapshot" event
// (every few seconds) carries the figures; the other events update the page as they happen.
// Text from the server is always inserted with textContent, never as HTML.
(function () {
  "use strict";

  var MAX_ROWS = 50;
  var MAX_EVENTS = 30;
  var executions = [];
  var events = [];
  var anomalies = new Map();

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) { return "—"; }
    return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(ms < 10 ? 2 : 0) + " ms";
  }
  function fmtUsd(x) {
    if (x === null || x === undefined) { return "—"; }
    if (x === 0) { return "$0"; }
    return x >= 0.01 ? "$" + x.toFixed(4) : "$" + x.toFixed(6);
  }
  function fmtPct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function fmtInt(x) { return x === null || x === undefined ? "—" : Number(x).toLocaleString(); }
  function fmtTime(iso) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleTimeString();
  }
  function fmtDuration(s) {
    if (s < 60) { return s.toFixed(0) + " s"; }
    if (s < 3600) { return (s / 60).toFixed(0) + " min"; }
    return (s / 3600).toFixed(1) + " h";
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function emptyRow(body, columns, text) {
    var tr = el("tr", "empty");
    var td = el("td", null, text);
    td.colSpan = columns;
    tr.appendChild(td);
    body.appendChild(tr);
  }

  // --- key figures ---------------------------------------------------------------------------

  function renderSnapshot(s) {
    var w = s.window || {};
    var t = s.totals || {};
    var minutes = (w.seconds || 300) / 60;
    $("project").textContent = s.project || "";
    var provider = s.provider || {};
    var badge = $("provider");
    badge.textContent = provider.simulated ? "SIMULATED" : (provider.name || "");
    badge.className = provider.simulated ? "badge sim" : "badge";
    $("uptime").textContent = "up " + fmtDuration(s.uptime_s || 0);
    $("throughput").textContent = (w.throughput_per_min || 0).toFixed(1);
    $("throughput-note").textContent = "per minute (last " + minutes + " min)";
    $("executions").textContent = fmtInt(t.executions);
    $("in-flight").textContent = fmtInt(s.in_flight) + " in flight";
    $("error-rate").textContent = fmtPct(w.error_rate);
    $("failures").textContent = fmtInt(w.failures) + " failed of " + fmtInt(w.executions) + " (window)";
    $("latency").textContent = fmtMs(w.p50_ms) + " / " + fmtMs(w.p95_ms) + " / " + fmtMs(w.p99_ms);
    $("latency-note").textContent = "last " + minutes + " min; since start p95 " + fmtMs(t.p95_ms);
    $("cost").textContent = fmtUsd(t.cost_usd);
    $("cost-note").textContent = fmtUsd(w.cost_per_min_usd) + " per minute (window)";
    $("cache-rate").textContent = fmtPct(w.cache_hit_rate);
    $("saved").textContent = "saved " + fmtUsd(t.saved_usd) + " since start";
    renderRunning(s.running || []);
    renderBreakers(s.breakers || []);
    var a = s.anomalies || {};
    anomalies = new Map();
    (a.active || []).forEach(function (x) { anomalies.set(x.id, x); });
    renderAnomalies();
    if (executions.length === 0 && s.recent) {
      executions = s.recent.slice(0, MAX_ROWS);
      renderExecutions();
    }
    drawTimeline(s.timeline || [], s.bucket_s || 10);
  }

  function renderRunning(list) {
    var box = $("running");
    clear(box);
    list.forEach(function (r) {
      box.appendChild(el("span", null, "▶ " + r.agent + " · " + r.model + " · " + r.elapsed_s.toFixed(1) + " s"));
    });
  }

  // --- tables --------------------------------------------------------------------------------

  function renderExecutions() {
    var body = $("executions-body");
    clear(body);
    if (executions.length === 0) { emptyRow(body, 7, "no executions yet"); return; }
    executions.forEach(function (x) {
      var tr = el("tr");
      tr.appendChild(el("td", null, fmtTime(x.finished_at || x.started_at)));
      tr.appendChild(el("td", null, x.agent));
      tr.appendChild(el("td", null, x.model));
      var status = x.success ? (x.cached ? "cached" : "ok") : (x.error_type || "failed");
      var cell = el("td", x.success ? "ok" : "bad", status + (x.simulated ? " (sim)" : ""));
      if (x.error) { cell.title = x.error; }
      tr.appendChild(cell);
      tr.appendChild(el("td", "num", fmtMs(x.duration_ms)));
      tr.appendChild(el("td", "num", fmtInt(x.usage ? x.usage.total_tokens : 0)));
      tr.appendChild(el("td", "num", fmtUsd(x.cost_usd)));
      body.appendChild(tr);
    });
  }

  function renderBreakers(list) {
    var body = $("breakers-body");
    clear(body);
    if (list.length === 0) { emptyRow(body, 6, "none used yet (all closed)"); return; }
    list.forEach(function (b) {
      var tr = el("tr");
      tr.appendChild(el("td", null, b.provider));
      tr.appendChild(el("td", null, b.model));
      var cls = b.state === "closed" ? "ok" : (b.state === "open" ? "bad" : "warn");
      tr.appendChild(el("td", cls, b.state));
      tr.appendChild(el("td", "num", fmtPct(b.failure_rate)));
      tr.appendChild(el("td", "num", fmtInt(b.calls_in_window)));
      tr.appendChild(el("td", "num", b.retry_in_s === null ? "" : b.retry_in_s.toFixed(1) + " s"));
      body.appendChild(tr);
    });
  }

  function renderAnomalies() {
    var list = $("anomalies");
    clear(list);
    $("anomaly-count").textContent = String(anomalies.size);
    $("anomaly-card").className = anomalies.size ? "card alert" : "card";
    if (anomalies.size === 0) { list.appendChild(el("li", "empty", "none")); return; }
    anomalies.forEach(function (a) {
      var li = el("li", a.severity);
      li.appendChild(el("div", null, a.message));
      li.appendChild(el("div", "meta", a.severity + " · since " + fmtTime(a.since) + " · " + a.samples + " recent / " + a.baseline_samples + " baseline executions"));
      list.appendChild(li);
    });
  }

  function logEvent(text, cls) {
    events.unshift({ text: text, cls: cls, at: new Date().toLocaleTimeString() });
    events = events.slice(0, MAX_EVENTS);
    var list = $("events");
    clear(list);
    events.forEach(function (e) {
      var li = el("li", e.cls);
      li.appendChild(el("span", "meta", e.at + "  "));
      li.appendChild(document.createTextNode(e.text));
      list.appendChild(li);
    });
  }

  // --- timeline chart ------------------------------------------------------------------------

  function drawTimeline(points, bucketS) {
    var canvas = $("timeline");
    var ctx = canvas.getContext("2d");
    if (!ctx) { return; }
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth || 1200;
    var height = canvas.clientHeight || 180;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (points.length === 0) { return; }
    var pad = 24;
    var n = points.length;
    var barW = (width - 2 * pad) / n;
    var maxCount = Math.max(1, Math.max.apply(null, points.map(function (p) { return p.executions; })));
    var maxP95 = Math.max(1, Math.max.apply(null, points.map(function (p) { return p.p95_ms || 0; })));
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#8a96a3";
    ctx.fillText(maxCount + " per " + bucketS + " s", pad, 12);
    ctx.fillText("p95 max " + fmtMs(maxP95), width - pad - 110, 12);
    points.forEach(function (p, i) {
      var h = (height - 2 * pad) * p.executions / maxCount;
      var failed = (height - 2 * pad) * p.failures / maxCount;
      ctx.fillStyle = "#2f81f7";
      ctx.fillRect(pad + i * barW + 1, height - pad - h, Math.max(1, barW - 2), h - failed);
      ctx.fillStyle = "#f85149";
      ctx.fillRect(pad + i * barW + 1, height - pad - failed, Math.max(1, barW - 2), failed);
    });
    ctx.strokeStyle = "#d29922";
    ctx.lineWidth = 2;
    ctx.beginPath();
    var started = false;
    points.forEach(function (p, i) {
      if (p.p95_ms === null || p.p95_ms === undefined) { return; }
      var x = pad + (i + 0.5) * barW;
      var y = height - pad - (height - 2 * pad) * p.p95_ms / maxP95;
      if (started) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); started = true; }
    });
    ctx.stroke();
    ctx.fillStyle = "#8a96a3";
    ctx.fillText(fmtTime(points[0].start), pad, height - 6);
    ctx.fillText("now", width - pad - 20, height - 6);
  }

  // --- the live stream -----------------------------------------------------------------------

  function on(source, name, handler) {
    source.addEventListener(name, function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      handler(data);
    });
  }

  function connect() {
    var source = new EventSource("api/v1/events");
    var status = $("connection");
    source.onopen = function () { status.textContent = "live"; status.className = "badge on"; };
    source.onerror = function () { status.textContent = "reconnecting…"; status.className = "badge off"; };
    on(source, "snapshot", renderSnapshot);
    on(source, "execution_finished", function (x) {
      x.finished_at = new Date().toISOString();
      executions.unshift(x);
      executions = executions.slice(0, MAX_ROWS);
      renderExecutions();
    });
    on(source, "anomaly_raised", function (a) {
      anomalies.set(a.id, a);
      renderAnomalies();
      logEvent(a.message, "bad");
    });
    on(source, "anomaly_resolved", function (a) {
      anomalies.delete(a.id);
      renderAnomalies();
      logEvent("resolved (" + a.resolution + "): " + a.kind.replace("_", " ") + " for " + a.agent + " / " + a.model, "ok");
    });
    on(source, "breaker_transition", function (b) {
      logEvent("breaker " + b.provider + "/" + b.model + ": " + b.from_state + " → " + b.to_state, b.to_state === "open" ? "bad" : "warn");
    });
    on(source, "breaker_rejected", function (b) {
      logEvent("rejected by open breaker: " + b.model + " (probe in " + b.retry_in_s.toFixed(1) + " s)", "bad");
    });
    on(source, "retry_scheduled", function (r) {
      logEvent("retry " + r.model + " after " + r.error_type + " (attempt " + r.attempt + ", wait " + r.delay_s.toFixed(2) + " s)", "warn");
    });
    on(source, "retry_gave_up", function (r) {
      logEvent("gave up on " + r.model + " after " + r.attempts + " attempts: " + r.reason, "bad");
    });
    on(source, "rate_limit_wait", function (r) {
      logEvent("rate limit (" + r.limit + ") " + r.model + ": waiting " + r.wait_s.toFixed(2) + " s", "warn");
    });
    on(source, "model_fallback", function (f) {
      logEvent("fallback " + f.from_model + " → " + f.to_model + " (" + f.reason + ")", "warn");
    });
  }

  connect();
}());
