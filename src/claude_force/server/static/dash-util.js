// claude-force dashboard: small helpers shared by the other scripts (no build step, nothing
// loaded from elsewhere). Text from the server is always inserted with textContent, never as HTML.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function fmtMs(ms) {
    if (ms === null || ms === undefined) { return "—"; }
    if (ms >= 60000) { return (ms / 60000).toFixed(1) + " min"; }
    return ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : ms.toFixed(ms < 10 ? 2 : 0) + " ms";
  }
  function fmtUsd(x) {
    if (x === null || x === undefined) { return "—"; }
    if (x === 0) { return "$0"; }
    if (x >= 100) { return "$" + x.toFixed(0); }
    return x >= 0.01 ? "$" + x.toFixed(4) : "$" + x.toFixed(6);
  }
  function fmtPct(x) { return x === null || x === undefined ? "—" : (x * 100).toFixed(1) + "%"; }
  function fmtInt(x) { return x === null || x === undefined ? "—" : Number(x).toLocaleString(); }
  function fmtTime(iso, withDate) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (isNaN(d.getTime())) { return iso; }
    return withDate ? d.toLocaleString() : d.toLocaleTimeString();
  }

  function emptyRow(body, columns, text) {
    var tr = el("tr", "empty");
    var td = el("td", null, text);
    td.colSpan = columns;
    tr.appendChild(td);
    body.appendChild(tr);
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          var msg = body && body.error ? body.error.message : ("HTTP " + r.status);
          throw new Error(msg);
        });
      }
      return r.json();
    });
  }

  window.CF = {
    $: $, el: el, clear: clear, emptyRow: emptyRow, getJSON: getJSON,
    fmtMs: fmtMs, fmtUsd: fmtUsd, fmtPct: fmtPct, fmtInt: fmtInt, fmtTime: fmtTime
  };
}());
