/* The credits page's chart: credits spent per day as inline-SVG bars, drawn from the JSON the
   page embeds (json_script "spend-data"). No libraries, no network. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var holder = document.getElementById("spend-chart");
  var source = document.getElementById("spend-data");
  if (!holder || !source) return;
  var data = JSON.parse(source.textContent);
  var values = data.spent.map(function (v) { return Math.max(v, 0); });

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  /* A round top for four gridlines. */
  function niceMax(max) {
    if (max <= 4) return 4;
    var power = Math.pow(10, Math.floor(Math.log10(max / 4)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * power * 4 >= max) return steps[i] * power * 4;
    }
    return 40 * power;
  }

  function day(iso) {
    return new Date(iso + "T00:00:00Z").toLocaleDateString("en-US", {month: "short", day: "numeric", timeZone: "UTC"});
  }

  /* Drawn at the holder's own width, so the labels keep their size on a phone. */
  function draw() {
    var width = Math.max(holder.clientWidth || 720, 280);
    var height = width < 560 ? 180 : 220;
    var labelEvery = width < 560 ? 10 : 5;
    var m = {top: 10, right: 6, bottom: 26, left: 40};
    var plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
    var max = niceMax(Math.max.apply(null, values.concat([0])));
    var y = function (v) { return m.top + plotH - (v / max) * plotH; };
    var svg = el("svg", {viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Credits spent per day"});

    for (var t = 0; t <= 4; t++) {
      var value = (max / 4) * t;
      el("line", {x1: m.left, x2: width - m.right, y1: y(value), y2: y(value), "class": "grid"}, svg);
      var label = el("text", {x: m.left - 8, y: y(value) + 4, "text-anchor": "end", "class": "tick"}, svg);
      label.textContent = Number.isInteger(value) ? value.toLocaleString("en-US") : value.toFixed(1);
    }

    var slot = plotW / values.length;
    var barW = Math.max(slot * 0.64, 2);
    values.forEach(function (v, i) {
      var x = m.left + i * slot + (slot - barW) / 2;
      var h = v ? Math.max(y(0) - y(v), 2) : 2;
      var bar = el("rect", {
        x: x, y: y(0) - h, width: barW, height: h, rx: Math.min(3, barW / 2),
        "class": v ? "bar" : "bar zero", "data-day": data.days[i], "data-value": v
      }, svg);
      el("title", {}, bar).textContent = day(data.days[i]) + ": " + v.toLocaleString("en-US") + " credits spent" +
        (data.refunded[i] ? " (" + data.refunded[i] + " refunded)" : "");
      if (i % labelEvery === 0 || i === values.length - 1) {
        var tick = el("text", {x: x + barW / 2, y: height - 6, "text-anchor": "middle", "class": "tick"}, svg);
        tick.textContent = day(data.days[i]);
      }
    });
    holder.replaceChildren(svg);
  }

  draw();
  var drawnAt = holder.clientWidth;
  window.addEventListener("resize", function () {
    if (holder.clientWidth !== drawnAt) {
      drawnAt = holder.clientWidth;
      draw();
    }
  });
  holder.setAttribute("data-total", values.reduce(function (a, b) { return a + b; }, 0));
  holder.setAttribute("data-drawn", "true");
})();
