/* The credits page's chart: credits spent per day as inline-SVG bars, drawn from the JSON the
   page embeds (json_script "spend-data"). No libraries, no network. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var holder = document.getElementById("spend-chart");
  var source = document.getElementById("spend-data");
  if (!holder || !source) return;
  var data = JSON.parse(source.textContent);

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function niceMax(max) {
    if (max <= 4) return 4;
    var power = Math.pow(10, Math.floor(Math.log10(max / 4)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power * 4 >= max) return steps[i] * power * 4;
    }
    return 40 * power;
  }

  var values = data.spent.map(function (v) { return Math.max(v, 0); });
  var max = niceMax(Math.max.apply(null, values.concat([0])));
  var width = 720, height = 220;
  var m = {top: 10, right: 6, bottom: 26, left: 40};
  var plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
  var svg = el("svg", {viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Credits spent per day"});
  var y = function (v) { return m.top + plotH - (v / max) * plotH; };

  for (var t = 0; t <= 4; t++) {
    var value = (max / 4) * t;
    el("line", {x1: m.left, x2: width - m.right, y1: y(value), y2: y(value), "class": "grid"}, svg);
    var label = el("text", {x: m.left - 8, y: y(value) + 4, "text-anchor": "end", "class": "tick"}, svg);
    label.textContent = Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(1);
  }

  var slot = plotW / values.length;
  var barW = Math.max(slot * 0.64, 2);
  var fmt = function (iso) {
    var d = new Date(iso + "T00:00:00Z");
    return d.toLocaleDateString("en-US", {month: "short", day: "numeric", timeZone: "UTC"});
  };
  values.forEach(function (v, i) {
    var x = m.left + i * slot + (slot - barW) / 2;
    var h = v ? Math.max(y(0) - y(v), 2) : 2;
    var bar = el("rect", {
      x: x, y: y(0) - h, width: barW, height: h, rx: Math.min(3, barW / 2),
      "class": v ? "bar" : "bar zero", "data-day": data.days[i], "data-value": v
    }, svg);
    el("title", {}, bar).textContent = fmt(data.days[i]) + ": " + v.toLocaleString("en-US") + " credits spent" +
      (data.refunded[i] ? " (" + data.refunded[i] + " refunded)" : "");
    if (i % 5 === 0 || i === values.length - 1) {
      var tick = el("text", {x: x + barW / 2, y: height - 6, "text-anchor": "middle", "class": "tick"}, svg);
      tick.textContent = fmt(data.days[i]);
    }
  });

  holder.appendChild(svg);
  holder.setAttribute("data-total", values.reduce(function (a, b) { return a + b; }, 0));
  holder.setAttribute("data-drawn", "true");
})();
