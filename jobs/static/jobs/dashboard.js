/* The operators' dashboard charts: small inline-SVG bar charts drawn from the JSON that
   the page embeds (json_script "dashboard-data"). No libraries, no network. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var STATUS_COLORS = {
    SUCCESS: "#2e9d5b",
    FAILED: "#d64545",
    CANCELED: "#9aa0a6",
    IN_PROGRESS: "#3a78d4",
    IN_QUEUE: "#e0a526"
  };

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* A round step for about four gridlines; whole numbers only for counts. */
  function niceStep(max, integer) {
    var raw = integer ? Math.max(max / 4, 1) : Math.max(max / 4, 1e-9);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      var step = steps[i] * power;
      if (step >= raw) return step;
    }
    return 10 * power;
  }

  /* A bar chart of one or more stacked series over `labels`.
     series: [{name, color, values: [numbers]}]. Each bar segment is a <rect> carrying
     data-series and data-value, with a <title> tooltip. */
  function barChart(container, labels, series, options) {
    options = options || {};
    var width = 640, height = 260;
    var margin = {top: 12, right: 12, bottom: 42, left: 48};
    var plotW = width - margin.left - margin.right;
    var plotH = height - margin.top - margin.bottom;
    var totals = labels.map(function (_, i) {
      return series.reduce(function (sum, s) { return sum + Math.max(s.values[i] || 0, 0); }, 0);
    });
    var integer = options.integer !== false;
    var step = niceStep(Math.max.apply(null, totals.concat([0])), integer);
    var ticks = Math.max(Math.ceil(Math.max.apply(null, totals.concat([0])) / step), 1);
    var max = step * ticks;
    var svg = el("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", "class": "bar-chart",
      "aria-label": options.title || "chart"
    });
    var y = function (v) { return margin.top + plotH - (v / max) * plotH; };

    for (var t = 0; t <= ticks; t++) {
      var value = step * t;
      el("line", {x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value),
                  "class": "grid"}, svg);
      var tick = el("text", {x: margin.left - 6, y: y(value) + 4, "text-anchor": "end",
                             "class": "tick"}, svg);
      tick.textContent = Number.isInteger(value) ? value : +value.toFixed(2);
    }

    var slot = plotW / labels.length;
    var barW = Math.max(slot * 0.7, 1);
    var every = Math.ceil(labels.length / (options.maxLabels || 12));
    labels.forEach(function (label, i) {
      var x = margin.left + i * slot + (slot - barW) / 2;
      var base = 0;
      series.forEach(function (s) {
        var v = Math.max(s.values[i] || 0, 0);
        if (!v) return;
        var rect = el("rect", {
          x: x, width: barW, y: y(base + v), height: Math.max(y(base) - y(base + v), 0.5),
          fill: s.color, "class": "bar", "data-series": s.name, "data-value": v,
          "data-label": label
        }, svg);
        el("title", {}, rect).textContent = (options.formatLabel || String)(label) + " " +
          s.name + ": " + v;
        base += v;
      });
      if (i % every === 0) {
        var text = el("text", {x: x + barW / 2, y: height - margin.bottom + 16,
                               "text-anchor": "middle", "class": "tick"}, svg);
        text.textContent = (options.formatLabel || String)(label);
      }
    });
    el("line", {x1: margin.left, x2: width - margin.right, y1: y(0), y2: y(0),
                "class": "axis"}, svg);

    container.innerHTML = "";
    container.appendChild(svg);
    if (series.length > 1) {
      var legend = document.createElement("div");
      legend.className = "chart-legend";
      series.forEach(function (s) {
        var item = document.createElement("span");
        var swatch = document.createElement("i");
        swatch.style.background = s.color;
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(s.name));
        legend.appendChild(item);
      });
      container.appendChild(legend);
    }
    var total = totals.reduce(function (a, b) { return a + b; }, 0);
    container.setAttribute("data-total", total);
    container.setAttribute("data-drawn", "true");
  }

  function hourLabel(iso) { return iso.slice(11, 13) + "h"; }
  function dayLabel(iso) { return iso.slice(5); }

  function render(data) {
    var perHour = data.jobsPerHour;
    barChart(
      document.getElementById("chart-jobs-per-hour"),
      perHour.hours,
      Object.keys(STATUS_COLORS).map(function (status) {
        return {name: status, color: STATUS_COLORS[status], values: perHour.counts[status] || []};
      }),
      {title: "Jobs per hour by status", formatLabel: hourLabel, maxLabels: 12}
    );
    var perDay = data.creditsPerDay;
    barChart(
      document.getElementById("chart-credits-per-day"),
      perDay.days,
      [{name: "credits spent", color: "#417690", values: perDay.spent}],
      {title: "Credits spent per day", formatLabel: dayLabel, maxLabels: 14}
    );
  }

  function start() {
    var script = document.getElementById("dashboard-data");
    if (script) render(JSON.parse(script.textContent));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
