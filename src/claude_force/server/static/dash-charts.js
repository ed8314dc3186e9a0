// claude-force dashboard: time-series charts (uPlot, vendored in static/vendor) with axes and a
// tooltip, and bar lists (cost by agent / model) built from plain elements.
(function () {
  "use strict";
  var CF = window.CF;
  var charts = {};
  var AXIS = {
    stroke: "#8a96a3",
    grid: { stroke: "#2a333d", width: 1 },
    ticks: { stroke: "#2a333d", width: 1 }
  };
  var HEIGHT = 200;

  function tooltip(formats) {
    var tip = null;
    return {
      hooks: {
        init: function (u) {
          tip = CF.el("div", "tooltip");
          u.over.appendChild(tip);
          u.over.addEventListener("mouseleave", function () { tip.style.display = "none"; });
        },
        setCursor: function (u) {
          var i = u.cursor.idx;
          if (i === null || i === undefined || u.cursor.left < 0) { tip.style.display = "none"; return; }
          CF.clear(tip);
          tip.appendChild(CF.el("b", null, new Date(u.data[0][i] * 1000).toLocaleString()));
          for (var s = 1; s < u.series.length; s++) {
            if (!u.series[s].show) { continue; }
            tip.appendChild(CF.el("div", null, u.series[s].label + ": " + formats[s - 1](u.data[s][i])));
          }
          tip.style.display = "block";
          var width = tip.offsetWidth;
          var left = u.cursor.left + 12;
          if (left + width > u.over.clientWidth) { left = Math.max(0, u.cursor.left - width - 12); }
          tip.style.left = left + "px";
          tip.style.top = Math.max(0, u.cursor.top - 10) + "px";
        }
      }
    };
  }

  // A y axis as wide as its longest label (uPlot's "axis autosize" recipe): a fixed size clipped
  // long labels such as "$0.000012" or "100.0%" on the cache chart's two axes.
  function axisSize(u, values, axisIdx, cycleNum) {
    var axis = u.axes[axisIdx];
    if (cycleNum > 1) { return axis._size; }
    var size = axis.ticks.size + axis.gap;
    var longest = (values || []).reduce(function (acc, v) { return v.length > acc.length ? v : acc; }, "");
    if (longest !== "") {
      u.ctx.font = axis.font[0];
      size += u.ctx.measureText(longest).width / (window.devicePixelRatio || 1);
    }
    return Math.max(40, Math.ceil(size) + 8);
  }

  function widthOf(node) { return Math.max(240, node.clientWidth || 360); }

  // spec: {series: [{label, stroke, fill, bars, scale, format}], axes: [{scale, label, side, format}]}
  function draw(id, xs, columns, spec) {
    var node = CF.$(id);
    var data = [xs].concat(columns);
    var chart = charts[id];
    if (chart) { chart.setData(data); return chart; }
    var series = [{}];
    spec.series.forEach(function (s) {
      series.push({
        label: s.label,
        stroke: s.stroke,
        fill: s.fill,
        width: s.bars ? 0 : 2,
        scale: s.scale,
        spanGaps: false,
        points: { show: !s.bars, size: 5, fill: s.stroke },
        paths: s.bars ? uPlot.paths.bars({ size: [0.7, 40], gap: 1 }) : undefined,
        value: function (u, v) { return s.format(v); }
      });
    });
    var axes = [Object.assign({}, AXIS)];
    spec.axes.forEach(function (a) {
      axes.push(Object.assign({}, AXIS, {
        scale: a.scale,
        side: a.side || 3,
        size: axisSize,
        grid: a.side === 1 ? { show: false } : AXIS.grid,
        values: function (u, ticks) { return ticks.map(a.format); }
      }));
    });
    var scales = { x: { time: true } };
    spec.axes.forEach(function (a) { scales[a.scale] = { range: a.range || function (u, lo, hi) { return [0, Math.max(hi * 1.1, a.min || 1)]; } }; });
    chart = new uPlot({
      width: widthOf(node),
      height: HEIGHT,
      series: series,
      axes: axes,
      scales: scales,
      cursor: { y: false, points: { show: false } },
      legend: { live: false },
      plugins: [tooltip(spec.series.map(function (s) { return s.format; }))]
    }, data, node);
    charts[id] = chart;
    return chart;
  }

  function resize() {
    Object.keys(charts).forEach(function (id) {
      charts[id].setSize({ width: widthOf(CF.$(id)), height: HEIGHT });
    });
  }
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(resize, 150);
  });

  function usdShort(v) {
    if (v === null || v === undefined) { return "—"; }
    return v === 0 ? "$0" : "$" + Number(v.toPrecision(2));
  }
  function pct(v) { return v === null || v === undefined ? "—" : v.toFixed(1) + "%"; }
  function count(v) { return v === null || v === undefined ? "—" : String(Math.round(v)); }

  function render(series) {
    var xs = series.map(function (p) { return p.t; });
    function col(key, scale) {
      return series.map(function (p) { var v = p[key]; return v === null || v === undefined ? null : v * (scale || 1); });
    }
    draw("chart-volume", xs, [col("executions"), col("errors")], {
      series: [
        { label: "executions", fill: "rgba(88,166,255,0.75)", stroke: "#58a6ff", bars: true, scale: "n", format: count },
        { label: "errors", fill: "rgba(248,81,73,0.9)", stroke: "#f85149", bars: true, scale: "n", format: count }
      ],
      axes: [{ scale: "n", format: count, min: 1 }]
    });
    draw("chart-latency", xs, [col("p50_ms"), col("p95_ms")], {
      series: [
        { label: "p50", stroke: "#58a6ff", scale: "ms", format: CF.fmtMs },
        { label: "p95", stroke: "#d29922", scale: "ms", format: CF.fmtMs }
      ],
      axes: [{ scale: "ms", format: CF.fmtMs, min: 1 }]
    });
    draw("chart-cache", xs, [col("cache_hit_rate", 100), col("saved_usd")], {
      series: [
        { label: "hit rate", stroke: "#3fb950", scale: "%", format: pct },
        { label: "saved", stroke: "#a371f7", fill: "rgba(163,113,247,0.25)", bars: true, scale: "usd", format: CF.fmtUsd }
      ],
      axes: [
        { scale: "%", format: pct, range: function () { return [0, 100]; } },
        { scale: "usd", format: usdShort, side: 1, min: 0.0001 }
      ]
    });
    draw("chart-cost", xs, [col("cost_usd")], {
      series: [{ label: "cost", fill: "rgba(210,153,34,0.7)", stroke: "#d29922", bars: true, scale: "usd", format: CF.fmtUsd }],
      axes: [{ scale: "usd", format: usdShort, min: 0.0001 }]
    });
  }

  function bars(id, groups, label) {
    var list = CF.$(id);
    CF.clear(list);
    if (!groups || groups.length === 0) { list.appendChild(CF.el("li", "empty", "no executions in this range")); return; }
    var max = Math.max.apply(null, groups.map(function (g) { return g.cost_usd; }).concat([1e-12]));
    groups.slice(0, 12).forEach(function (g) {
      var li = CF.el("li");
      li.title = label + " " + g.name + ": " + CF.fmtUsd(g.cost_usd) + " · " + CF.fmtInt(g.executions) +
        " executions · " + CF.fmtInt(g.failures) + " failed · cache " + CF.fmtPct(g.cache_hit_rate) + " · saved " + CF.fmtUsd(g.saved_usd);
      li.appendChild(CF.el("span", "name", g.name));
      var track = CF.el("span", "track");
      var fill = CF.el("span", "fill");
      fill.style.display = "block";
      fill.style.width = Math.max(0.5, 100 * g.cost_usd / max).toFixed(1) + "%";
      track.appendChild(fill);
      li.appendChild(track);
      li.appendChild(CF.el("span", "value", CF.fmtUsd(g.cost_usd) + " · " + CF.fmtInt(g.executions)));
      list.appendChild(li);
    });
  }

  window.CFCharts = { render: render, bars: bars, charts: charts };
}());
