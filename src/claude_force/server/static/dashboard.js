// claude-force dashboard: the project's figures from its metrics store (every process that writes
// to it), refreshed every few seconds and at once when the live stream (api/v1/events) announces
// an execution; breakers, rate limits and running executions come with the stream's snapshots.
(function () {
  "use strict";
  var CF = window.CF;
  var MAX_EVENTS = 30;
  var state = { range: "1h", refreshS: 5, timer: null, soon: null, busy: false, failedOnly: false };
  var events = [];

  function readHash() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) { out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1)); }
    });
    return out;
  }
  function writeHash(extra) {
    var parts = ["range=" + state.range];
    if (extra) { parts.push(extra); }
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  // --- figures from the store ----------------------------------------------------------------

  function renderOverview(o) {
    var t = o.totals;
    CF.$("c-executions").textContent = CF.fmtInt(t.executions);
    CF.$("c-executions-note").textContent = CF.fmtInt(t.retries) + " retries · " + CF.fmtInt(t.total_tokens) + " tokens";
    CF.$("c-errors").textContent = t.executions ? CF.fmtPct(t.failures / t.executions) : "—";
    CF.$("c-errors-note").textContent = CF.fmtInt(t.failures) + " failed";
    CF.$("c-errors").className = t.failures ? "bad" : "";
    CF.$("c-latency").textContent = CF.fmtMs(t.p95_ms);
    CF.$("c-latency-note").textContent = "p50 " + CF.fmtMs(t.p50_ms) + " · p99 " + CF.fmtMs(t.p99_ms);
    CF.$("c-cost").textContent = CF.fmtUsd(t.cost_usd);
    CF.$("c-cost-note").textContent = t.cost_unknown_attempts ? t.cost_unknown_attempts + " unpriced" : "in range";
    CF.$("c-cache").textContent = CF.fmtPct(t.cache_hit_rate);
    CF.$("c-cache-note").textContent = "saved " + CF.fmtUsd(t.saved_usd) + (t.semantic_hits
      ? " · " + CF.fmtInt(t.semantic_hits) + " semantic (" + CF.fmtUsd(t.semantic_saved_usd) + ")" : "");
    CF.$("c-queue").textContent = CF.fmtMs(t.avg_queue_wait_ms);
    CF.Charts.render(o.series);
    CF.Charts.bars("cost-agents", o.by_agent, "agent");
    CF.Charts.bars("cost-models", o.by_model, "model");
    if (o.refresh_s && o.refresh_s !== state.refreshS) { state.refreshS = o.refresh_s; schedule(); }
  }

  function renderExecutions(list) {
    var body = CF.$("executions-body");
    CF.clear(body);
    if (list.length === 0) { CF.emptyRow(body, 8, "no executions in this range"); return; }
    list.forEach(function (x) {
      var tr = CF.el("tr");
      tr.tabIndex = 0;
      tr.dataset.id = x.execution_id;
      tr.appendChild(CF.el("td", null, CF.fmtTime(x.started_at, state.range === "7d" || state.range === "30d")));
      tr.appendChild(CF.el("td", null, x.agent));
      tr.appendChild(CF.el("td", null, x.model));
      var status = x.success ? (x.cached ? (x.cache_match === "semantic" ? "cached (semantic)" : "cached") : "ok") : (x.error_type || "failed");
      if (x.attempts > 1) { status += " ×" + x.attempts; }
      tr.appendChild(CF.el("td", x.success ? "ok" : "bad", status + (x.simulated ? " (sim)" : "")));
      tr.appendChild(CF.el("td", "num", CF.fmtMs(x.duration_ms)));
      tr.appendChild(CF.el("td", "num", CF.fmtMs(x.queue_wait_ms)));
      tr.appendChild(CF.el("td", "num", CF.fmtInt(x.total_tokens)));
      tr.appendChild(CF.el("td", "num", CF.fmtUsd(x.cost_usd)));
      body.appendChild(tr);
    });
  }

  function renderAnomalies(a) {
    var list = CF.$("anomalies");
    CF.clear(list);
    var active = a.active || [];
    CF.$("c-anomalies").textContent = String(active.length);
    CF.$("anomaly-card").className = active.length ? "card alert" : "card";
    var activeIds = {};
    active.forEach(function (x) { activeIds[x.id] = true; });
    var rows = active.concat((a.history || []).filter(function (x) { return !activeIds[x.id]; }));
    if (rows.length === 0) { list.appendChild(CF.el("li", "empty", "none in this range")); return; }
    rows.slice(0, 30).forEach(function (x) {
      var open = !!activeIds[x.id];
      var li = CF.el("li", open ? x.severity : "resolved");
      li.appendChild(CF.el("div", null, x.message));
      var meta = (open ? "open · " : "resolved · ") + x.severity + " · since " + CF.fmtTime(x.since, true);
      if (x.resolved_at) { meta += " · until " + CF.fmtTime(x.resolved_at, true); }
      li.appendChild(CF.el("div", "meta", meta));
      list.appendChild(li);
    });
  }

  function refresh() {
    if (state.busy) { return Promise.resolve(); }
    state.busy = true;
    var r = encodeURIComponent(state.range);
    var q = "?range=" + r + (state.failedOnly ? "&failed_only=true" : "");
    return Promise.all([
      CF.getJSON("api/v1/dashboard/overview?range=" + r).then(renderOverview),
      CF.getJSON("api/v1/dashboard/executions" + q).then(function (d) { renderExecutions(d.executions); }),
      CF.getJSON("api/v1/anomalies?since=" + r).then(renderAnomalies)
    ]).then(function () {
      CF.$("updated").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "true";
    }, function (err) {
      CF.$("updated").textContent = "error: " + err.message;
    }).then(function () { state.busy = false; });
  }

  function schedule() {
    if (state.timer) { clearInterval(state.timer); }
    state.timer = setInterval(refresh, state.refreshS * 1000);
  }
  function refreshSoon() {
    if (state.soon) { return; }
    state.soon = setTimeout(function () { state.soon = null; refresh(); }, 400);
  }

  function setRange(range) {
    state.range = range;
    document.querySelectorAll("#ranges button").forEach(function (b) {
      b.setAttribute("aria-pressed", b.dataset.range === range ? "true" : "false");
    });
    writeHash();
    refresh();
  }

  // --- the live stream: breakers, limits, running executions, events ---------------------------

  function renderSnapshot(s) {
    CF.$("project").textContent = s.project || "";
    var provider = s.provider || {};
    var badge = CF.$("provider");
    badge.textContent = provider.simulated ? "SIMULATED" : (provider.name || "");
    badge.className = provider.simulated ? "badge sim" : "badge";
    var box = CF.$("running");
    CF.clear(box);
    (s.running || []).forEach(function (r) {
      box.appendChild(CF.el("span", null, "▶ " + r.agent + " · " + r.model + " · " + r.elapsed_s.toFixed(1) + " s"));
    });
    renderBreakers(s.breakers || []);
    renderLimits(s.rate_limits || {});
  }

  function renderBreakers(list) {
    var body = CF.$("breakers-body");
    CF.clear(body);
    if (list.length === 0) { CF.emptyRow(body, 6, "none used yet (all closed)"); return; }
    list.forEach(function (b) {
      var tr = CF.el("tr");
      tr.appendChild(CF.el("td", null, b.provider));
      tr.appendChild(CF.el("td", null, b.model));
      tr.appendChild(CF.el("td", b.state === "closed" ? "ok" : (b.state === "open" ? "bad" : "warn"), b.state));
      tr.appendChild(CF.el("td", "num", CF.fmtPct(b.failure_rate)));
      tr.appendChild(CF.el("td", "num", CF.fmtInt(b.calls_in_window)));
      tr.appendChild(CF.el("td", "num", b.retry_in_s === null ? "" : b.retry_in_s.toFixed(1) + " s"));
      body.appendChild(tr);
    });
  }

  function renderLimits(limits) {
    var body = CF.$("limits-body");
    CF.clear(body);
    var models = Object.keys(limits);
    if (models.length === 0) { CF.emptyRow(body, 6, "no limits known yet"); return; }
    models.forEach(function (m) {
      Object.keys(limits[m]).forEach(function (kind) {
        var l = limits[m][kind];
        var tr = CF.el("tr");
        tr.appendChild(CF.el("td", null, m));
        tr.appendChild(CF.el("td", null, kind));
        tr.appendChild(CF.el("td", "num", CF.fmtInt(l.per_minute)));
        tr.appendChild(CF.el("td", "num", CF.fmtInt(l.available)));
        tr.appendChild(CF.el("td", l.headroom !== null && l.headroom < 0.2 ? "num warn" : "num", CF.fmtPct(l.headroom)));
        tr.appendChild(CF.el("td", null, l.source));
        body.appendChild(tr);
      });
    });
  }

  function logEvent(text, cls) {
    events.unshift({ text: text, cls: cls, at: new Date().toLocaleTimeString() });
    events = events.slice(0, MAX_EVENTS);
    var list = CF.$("events");
    CF.clear(list);
    events.forEach(function (e) {
      var li = CF.el("li", e.cls);
      li.appendChild(CF.el("span", "meta", e.at + "  "));
      li.appendChild(document.createTextNode(e.text));
      list.appendChild(li);
    });
  }

  function on(source, name, handler) {
    source.addEventListener(name, function (e) {
      var data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      handler(data);
    });
  }

  function connect() {
    var source = new EventSource("api/v1/events");
    var status = CF.$("connection");
    source.onopen = function () { status.textContent = "live"; status.className = "badge on"; };
    source.onerror = function () { status.textContent = "reconnecting…"; status.className = "badge off"; };
    on(source, "snapshot", renderSnapshot);
    on(source, "execution_finished", refreshSoon);
    on(source, "stored_execution", refreshSoon);
    on(source, "anomaly_raised", function (a) { logEvent(a.message, "bad"); refreshSoon(); });
    on(source, "anomaly_resolved", function (a) {
      logEvent("resolved (" + a.resolution + "): " + a.kind.replace("_", " ") + " for " + a.agent + " / " + a.model, "ok");
      refreshSoon();
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

  // --- wiring ----------------------------------------------------------------------------------

  CF.Charts = window.CFCharts;
  document.querySelectorAll("#ranges button").forEach(function (b) {
    b.addEventListener("click", function () { setRange(b.dataset.range); });
  });
  CF.$("failed-only").addEventListener("change", function (e) { state.failedOnly = e.target.checked; refresh(); });
  function openRow(e) {
    var tr = e.target.closest("tr[data-id]");
    if (!tr) { return; }
    if (e.type === "keydown" && e.key !== "Enter") { return; }
    writeHash("exec=" + tr.dataset.id);
    window.CFDetail.show(tr.dataset.id);
  }
  CF.$("executions-body").addEventListener("click", openRow);
  CF.$("executions-body").addEventListener("keydown", openRow);
  CF.$("detail").addEventListener("close", function () { writeHash(); });

  var hash = readHash();
  var start = hash.range && document.querySelector('#ranges button[data-range="' + hash.range + '"]') ? hash.range : "1h";
  setRange(start);
  if (hash.exec) { window.CFDetail.show(hash.exec); writeHash("exec=" + hash.exec); }
  schedule();
  connect();
}());
