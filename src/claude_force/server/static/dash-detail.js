// claude-force dashboard: the execution detail view (a dialog), from
// api/v1/dashboard/executions/{id}: timings incl. queue wait, attempts and retry events, tokens,
// cost, cache and routing; the task and answer only when the project keeps them (redacted).
(function () {
  "use strict";
  var CF = window.CF;

  function kv(pairs) {
    var dl = CF.el("dl", "kv");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      dl.appendChild(CF.el("dt", null, p[0]));
      dl.appendChild(CF.el("dd", null, p[1]));
    });
    return dl;
  }

  function table(head, rows) {
    var t = CF.el("table");
    var tr = CF.el("tr");
    head.forEach(function (h) { tr.appendChild(CF.el("th", null, h)); });
    var thead = CF.el("thead");
    thead.appendChild(tr);
    t.appendChild(thead);
    var body = CF.el("tbody");
    rows.forEach(function (r) {
      var row = CF.el("tr");
      r.forEach(function (c) { row.appendChild(CF.el("td", null, c)); });
      body.appendChild(row);
    });
    t.appendChild(body);
    var wrap = CF.el("div", "scroll");
    wrap.appendChild(t);
    return wrap;
  }

  function eventText(e) {
    if (e.kind === "retry") {
      return "retry after " + e.error_type + (e.status ? " (HTTP " + e.status + ")" : "") + " on attempt " + e.attempt + ", waited " + e.delay_s + " s";
    }
    if (e.kind === "fallback") { return "fallback " + e.from_model + " → " + e.to_model + ": " + e.reason; }
    if (e.kind === "rate_limit_wait") { return "rate limit (" + e.limit + "): waited ~" + e.wait_s + " s behind " + e.queued_ahead; }
    if (e.kind === "breaker_rejected") { return "rejected by open breaker (probe in " + e.retry_in_s + " s)"; }
    return e.kind;
  }

  function render(x) {
    var body = CF.$("detail-body");
    CF.clear(body);
    CF.$("detail-title").textContent = x.agent + " · " + x.model;
    var semantic = x.cache_match === "semantic";
    var status = x.success ? (x.cached ? "succeeded (answered from the cache" + (semantic ? ": a paraphrase" : "") + ")" : "succeeded") : "failed: " + (x.error_type || "error");
    body.appendChild(kv([
      ["execution", x.execution_id],
      ["status", status + (x.simulated ? " — SIMULATED model" : "")],
      ["started", CF.fmtTime(x.started_at, true)],
      ["workflow", x.workflow ? x.workflow + (x.step_id ? " · step " + x.step_id : "") : null],
      ["workflow run", x.workflow_run_id],
      ["request id", x.request_id],
      ["stop reason", x.stop_reason]
    ]));
    if (x.error) { body.appendChild(CF.el("pre", "text bad", x.error)); }

    body.appendChild(CF.el("h3", null, "Timings"));
    var total = Math.max(x.total_ms, 0.001);
    var bar = CF.el("div", "timing");
    var q = CF.el("span", "queue");
    q.style.width = (100 * x.queue_wait_ms / total).toFixed(2) + "%";
    q.title = "queue wait " + CF.fmtMs(x.queue_wait_ms);
    var s = CF.el("span", "service");
    s.style.width = (100 * x.service_ms / total).toFixed(2) + "%";
    s.title = "service " + CF.fmtMs(x.service_ms);
    bar.appendChild(q);
    bar.appendChild(s);
    body.appendChild(bar);
    body.appendChild(kv([
      ["total", CF.fmtMs(x.total_ms)],
      ["queue wait", CF.fmtMs(x.queue_wait_ms) + " (waiting for a concurrency slot)"],
      ["service time", CF.fmtMs(x.service_ms)]
    ]));

    body.appendChild(CF.el("h3", null, "Attempts (" + x.attempts + ")"));
    body.appendChild(table(["#", "model", "outcome", "duration", "cost"], x.attempt_rows.map(function (a) {
      return [String(a.attempt), a.model, a.success ? "ok" : (a.error_type || "failed"), a.final ? CF.fmtMs(a.duration_ms) : "—", CF.fmtUsd(a.cost_usd)];
    })));
    if (x.events && x.events.length) {
      var ul = CF.el("ul", "events");
      x.events.forEach(function (e) {
        var li = CF.el("li");
        li.appendChild(CF.el("span", "meta", CF.fmtTime(e.at) + "  "));
        li.appendChild(document.createTextNode(eventText(e)));
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }

    body.appendChild(CF.el("h3", null, "Tokens, cost and cache"));
    body.appendChild(kv([
      ["input", CF.fmtInt(x.input_tokens)],
      ["output", CF.fmtInt(x.output_tokens)],
      ["prompt cache write / read", CF.fmtInt(x.cache_write_tokens) + " / " + CF.fmtInt(x.cache_read_tokens)],
      ["cost", CF.fmtUsd(x.cost_usd)],
      ["response cache", x.cached ? (semantic ? "semantic hit" : "exact hit") + " — saved " + CF.fmtUsd(x.saved_usd) : "miss (sent to the model)"]
    ]));

    body.appendChild(CF.el("h3", null, "Routing"));
    if (x.routing) {
      var r = x.routing;
      body.appendChild(kv([
        ["model", r.model],
        ["chosen by", r.source],
        ["complexity", r.complexity + (r.score !== undefined ? " (score " + r.score + ")" : "")],
        ["stepped down from", r.stepped_down_from],
        ["reasons", (r.reasons || []).join("; ")]
      ]));
    } else {
      body.appendChild(CF.el("p", "muted", "no routing decision (the model was named or pinned)"));
    }

    body.appendChild(CF.el("h3", null, "Task and answer"));
    if (x.text_kept) {
      body.appendChild(CF.el("pre", "text", x.task || ""));
      body.appendChild(CF.el("pre", "text", x.output || "(no answer)"));
    } else {
      body.appendChild(CF.el("p", "muted", "not kept (task " + x.task_hash + "); set metrics.keep_text to keep them, redacted"));
    }
  }

  function show(id) {
    var dialog = CF.$("detail");
    CF.$("detail-title").textContent = "Execution " + id.slice(0, 12);
    CF.clear(CF.$("detail-body"));
    CF.$("detail-body").appendChild(CF.el("p", "muted", "loading…"));
    if (!dialog.open) { dialog.showModal(); }
    return CF.getJSON("api/v1/dashboard/executions/" + encodeURIComponent(id)).then(render, function (err) {
      CF.clear(CF.$("detail-body"));
      CF.$("detail-body").appendChild(CF.el("p", "bad", err.message));
    });
  }

  CF.$("detail-close").addEventListener("click", function () { CF.$("detail").close(); });
  window.CFDetail = { show: show };
}());
