/* The playground and a job's page: the mode and source switches, the price quote (asked of
   the server, which reads the image header), the live progress of a job (polling its status
   JSON), the before/after slider, and waiting for a webhook redelivery to be recorded. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  /* A date as the server writes it (templatetags `when`): "Dec 7, 2026, 14:05 UTC". */
  function when(iso) {
    var d = new Date(iso);
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var month = d.toLocaleString("en-US", {month: "short", timeZone: "UTC"});
    return month + " " + d.getUTCDate() + ", " + d.getUTCFullYear() + ", " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
  }
  function plural(n, word) { return n.toLocaleString("en-US") + " " + word + (n === 1 ? "" : "s"); }

  /* ---------- the form ---------- */

  var form = $("#playground-form");
  if (form) {
    var csrf = $("input[name=csrfmiddlewaretoken]", form).value;
    var quoted = null;  // {width, height, format} of the chosen image, as the server read it
    var quoteTimer = null;
    var quoteSeq = 0;

    var currentMode = function () {
      var checked = $("input[name=mode]:checked", form);
      return checked ? checked.value : "precise";
    };
    var currentSource = function () { return $("#source").value; };

    var showMode = function () {
      var mode = currentMode();
      $all("fieldset.options", form).forEach(function (set) { set.disabled = set.getAttribute("data-mode") !== mode; });
      scheduleQuote(0);
    };
    $all("input[name=mode]", form).forEach(function (radio) { radio.addEventListener("change", showMode); });

    $all("input[name=source-tab]", form).forEach(function (tab) {
      tab.addEventListener("change", function () {
        var url = tab.value === "url";
        $("#source").value = tab.value;
        $("#source-file").hidden = url;
        $("#source-url").hidden = !url;
        $("#image").disabled = url;
        $("#imageUrl").disabled = !url;
        quoted = null;
        if (url && $("#imageUrl").value) scheduleQuote(0, true); else if (!url && $("#image").files.length) sendFile(); else showQuote(null);
      });
    });

    /* Range inputs echo their value. */
    $all("output[data-echo]", form).forEach(function (out) {
      var input = document.getElementById(out.getAttribute("data-echo"));
      input.addEventListener("input", function () { out.textContent = input.value; });
    });

    /* Factor presets fill the number field. */
    $all("[data-presets-for]", form).forEach(function (chips) {
      var input = document.getElementById(chips.getAttribute("data-presets-for"));
      var mark = function () {
        $all(".chip", chips).forEach(function (chip) {
          chip.classList.toggle("is-on", parseFloat(chip.getAttribute("data-value")) === parseFloat(input.value));
        });
      };
      chips.addEventListener("click", function (event) {
        var chip = event.target.closest(".chip");
        if (!chip) return;
        input.value = chip.getAttribute("data-value");
        input.dispatchEvent(new Event("change"));
      });
      input.addEventListener("input", mark);
      input.addEventListener("change", mark);
      mark();
    });

    var quality = function () {
      var format = $("input[name=outputFormat]:checked", form);
      var field = $("[data-option=outputQuality]", form);
      if (field && format) field.style.opacity = format.value === "png" ? "0.5" : "1";
    };
    $all("input[name=outputFormat]", form).forEach(function (r) { r.addEventListener("change", quality); });
    quality();

    /* The drop zone: a preview drawn here, the size and price from the server. */
    var drop = $("#dropzone");
    var fileInput = $("#image");
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("is-over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("is-over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) {
        fileInput.files = e.dataTransfer.files;
        fileInput.dispatchEvent(new Event("change"));
      }
    });
    fileInput.addEventListener("change", function () {
      var file = fileInput.files[0];
      var preview = $("#dz-preview");
      if (!file) {
        drop.classList.remove("has-file");
        preview.hidden = true;
        $("#dz-icon").hidden = false;
        return;
      }
      drop.classList.add("has-file");
      preview.src = URL.createObjectURL(file);
      preview.hidden = false;
      $("#dz-icon").hidden = true;
      $("#dz-text").innerHTML = "";
      var name = document.createElement("div");
      name.className = "dz-name";
      name.textContent = file.name;
      var size = document.createElement("div");
      size.className = "small";
      size.id = "dz-size";
      size.textContent = (file.size / 1048576).toFixed(file.size < 1048576 ? 2 : 1) + " MB · reading size…";
      $("#dz-text").appendChild(name);
      $("#dz-text").appendChild(size);
      quoted = null;
      sendFile();
    });

    var optionsBody = function (extra) {
      var body = new FormData();
      body.append("csrfmiddlewaretoken", csrf);
      var mode = currentMode();
      body.append("mode", mode);
      var factor = $("#" + mode + "-upscaleFactor");
      if (factor && factor.value) body.append("upscaleFactor", factor.value);
      var format = $("input[name=outputFormat]:checked", form);
      if (format) body.append("outputFormat", format.value);
      Object.keys(extra || {}).forEach(function (key) { body.append(key, extra[key]); });
      return body;
    };

    var askQuote = function (body) {
      var seq = ++quoteSeq;
      $("#quote-details").textContent = "Pricing…";
      return fetch(form.getAttribute("data-quote-url"), {
        method: "POST", body: body, credentials: "same-origin", headers: {"X-Requested-With": "fetch"}
      }).then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (answer) {
        if (seq !== quoteSeq) return;  // a later change asked again
        if (answer.ok) {
          quoted = {width: answer.data.width, height: answer.data.height, format: answer.data.format};
          var size = $("#dz-size");
          if (size) size.textContent = size.textContent.replace(/ · .*$/, "") + " · " + answer.data.width + "×" + answer.data.height;
        }
        showQuote(answer.data, !answer.ok);
      }).catch(function () {
        if (seq === quoteSeq) $("#quote-details").textContent = "Could not get a price just now; submitting still works.";
      });
    };

    var sendFile = function () {
      var file = fileInput.files[0];
      if (file) askQuote(optionsBody({image: file}));
    };

    var showQuote = function (data, failed) {
      var credits = $("#quote-credits"), unit = $("#quote-unit"), details = $("#quote-details");
      var submit = $("#submit");
      details.classList.remove("warn");
      credits.classList.toggle("placeholder", !data || !!failed);
      if (!data) {
        credits.textContent = "–";
        unit.textContent = "credits";
        details.textContent = "Choose an image to see the price.";
        return;
      }
      if (failed) {
        credits.textContent = "–";
        unit.textContent = "credits";
        details.textContent = data.error || "This image cannot be priced.";
        details.classList.add("warn");
        return;
      }
      credits.textContent = data.credits.toLocaleString("en-US");
      unit.textContent = data.credits === 1 ? "credit" : "credits";
      var text = data.width + "×" + data.height + " → " + data.outputWidth + "×" + data.outputHeight + " px · Balance " + plural(data.balance, "credit");
      if (!data.enough) {
        text += " — not enough credits for this job.";
        details.classList.add("warn");
      }
      details.textContent = text;
      credits.setAttribute("data-credits", data.credits);
      submit.setAttribute("aria-describedby", "quote-details");
    };

    /* Option changes re-price with the size already read; a URL is read once per change. */
    var scheduleQuote = function (delay, fromUrl) {
      clearTimeout(quoteTimer);
      quoteTimer = setTimeout(function () {
        if (currentSource() === "url") {
          var url = $("#imageUrl").value.trim();
          if (!/^https?:\/\/./i.test(url)) { showQuote(null); return; }
          if (fromUrl || !quoted) askQuote(optionsBody({imageUrl: url}));
          else askQuote(optionsBody({width: quoted.width, height: quoted.height, format: quoted.format}));
        } else if (quoted) {
          askQuote(optionsBody({width: quoted.width, height: quoted.height, format: quoted.format}));
        }
      }, delay);
    };
    $all("[data-quote]", form).forEach(function (input) {
      input.addEventListener("input", function () { scheduleQuote(350); });
      input.addEventListener("change", function () { scheduleQuote(0); });
    });
    $("#imageUrl").addEventListener("input", function () { quoted = null; scheduleQuote(700, true); });

    /* A refused submit keeps the chosen image: the file is put aside in this browser
       (IndexedDB) as the form is sent, and put back in the file input when the answer is
       the form again with what to fix; any other page forgets it. */
    var stash = {
      run: function (access, action) {
        return new Promise(function (resolve, reject) {
          var opened = window.indexedDB.open("upscaler-playground", 1);
          opened.onupgradeneeded = function () { opened.result.createObjectStore("files"); };
          opened.onerror = function () { reject(opened.error); };
          opened.onsuccess = function () {
            var db = opened.result;
            var tx = db.transaction("files", access);
            var request = action(tx.objectStore("files"));
            tx.oncomplete = function () { db.close(); resolve(request.result); };
            tx.onerror = function () { db.close(); reject(tx.error); };
          };
        });
      },
      put: function (file) { return stash.run("readwrite", function (s) { return s.put(file, "chosen"); }); },
      take: function () { return stash.run("readonly", function (s) { return s.get("chosen"); }); },
      forget: function () { return stash.run("readwrite", function (s) { return s.delete("chosen"); }); },
    };
    var sending = false;
    form.addEventListener("submit", function (event) {
      var button = $("#submit");
      button.classList.add("is-busy");
      button.lastElementChild.textContent = "Submitting…";
      setTimeout(function () { button.disabled = true; }, 0);
      var file = currentSource() === "file" && fileInput.files[0];
      if (sending || !file || !window.indexedDB) return;
      event.preventDefault();
      sending = true;
      var send = function () { HTMLFormElement.prototype.submit.call(form); };
      stash.put(file).then(send, send);
    });
    if (window.indexedDB) {
      if ($("#form-errors") && currentSource() === "file" && !fileInput.files.length) {
        stash.take().then(function (file) {
          if (!file) return;
          var chosen = new DataTransfer();
          chosen.items.add(file instanceof File ? file : new File([file], "image"));
          fileInput.files = chosen.files;
          fileInput.dispatchEvent(new Event("change"));
        }).catch(function () {});
      } else {
        stash.forget().catch(function () {});
      }
    }

    if (currentSource() === "url" && $("#imageUrl").value) scheduleQuote(0, true);
  }

  /* ---------- the before/after slider ---------- */

  var bindCompare = function () {
    var range = $("#compare-range");
    var compare = $("#compare");
    if (!range || !compare) return;
    var set = function () { compare.style.setProperty("--pos", range.value + "%"); };
    range.addEventListener("input", set);
    set();
  };
  bindCompare();

  /* ---------- a job's live progress ---------- */

  var result = $("#job-result");
  var LABELS = {IN_QUEUE: "In queue", IN_PROGRESS: "In progress", SUCCESS: "Done", FAILED: "Failed", CANCELED: "Canceled"};
  var BADGES = {IN_QUEUE: "badge-warning", IN_PROGRESS: "badge-info live", SUCCESS: "badge-success", FAILED: "badge-danger", CANCELED: ""};

  var render = function (job) {
    var badge = $("#job-status-badge");
    if (badge) {
      badge.className = "badge " + (BADGES[job.status] || "");
      badge.textContent = LABELS[job.status] || job.status;
    }
    result.setAttribute("data-status", job.status);
    var unfinished = job.status === "IN_QUEUE" || job.status === "IN_PROGRESS";
    $("#job-progress").hidden = !unfinished;
    if (unfinished) {
      var pct = job.progress || 0;
      var bar = $("#progress-bar");
      bar.classList.toggle("indeterminate", job.status === "IN_QUEUE");
      bar.firstElementChild.style.width = pct + "%";
      bar.setAttribute("aria-valuenow", pct);
      $("#progress-pct").textContent = pct + "%";
      $("#progress-text").textContent = waitingText(job);
      return;
    }
    if (job.status === "SUCCESS") {
      var after = $("#compare-after"), before = $("#compare-before");
      if (after && job.compressedImageUrl) after.src = job.compressedImageUrl;
      if (before && job.inputUrl) before.src = job.inputUrl;
      var download = $("#download"), jpg = $("#download-jpg");
      if (download) download.href = job.imageUrl;
      if (jpg) jpg.href = job.compressedImageUrl;
      if (job.processingSeconds != null) $("#meta-time").textContent = job.processingSeconds.toFixed(1) + " s";
      if (job.expiresAt) {
        $("#expires").textContent = "Links work until " + when(job.expiresAt);
      }
      $("#job-success").hidden = false;
    } else {
      $("#job-failed-title").textContent = job.status === "CANCELED" ? "Canceled" : "The job failed";
      $("#job-error").textContent = job.error || "";
      $("#job-failed").hidden = false;
    }
    refreshBalance(job.balance);
  };

  /* "3rd in line, about 40 s": the position and estimates of the status payload. */
  var ordinal = function (n) {
    var tens = n % 100, ones = n % 10;
    var suffix = tens >= 11 && tens <= 13 ? "th" : ones === 1 ? "st" : ones === 2 ? "nd" : ones === 3 ? "rd" : "th";
    return n + suffix;
  };
  var about = function (when) {
    var seconds = Math.max(Math.round((new Date(when) - Date.now()) / 1000), 1);
    if (seconds < 90) return "about " + seconds + " s";
    return "about " + Math.round(seconds / 60) + " min";
  };
  var STAGES = {fetched: "Starting…", running: "Upscaling…", encoding: "Encoding…", uploading: "Storing the result…"};
  var waitingText = function (job) {
    if (job.status === "IN_QUEUE") {
      if (job.queuePosition == null) return "Waiting for a worker…";
      var place = job.queuePosition === 1 ? "Next in line" : ordinal(job.queuePosition) + " in line";
      return job.estimatedStartAt ? place + ", " + about(job.estimatedStartAt) : place;
    }
    var doing = STAGES[job.stage] || "Upscaling…";
    return job.estimatedEndAt ? doing + " " + about(job.estimatedEndAt) + " left" : doing;
  };

  var refreshBalance = function (balance) {
    // A failed job's refund changes the balance shown in the sidebar.
    var chip = $("#balance-text");
    if (chip && balance != null) chip.textContent = plural(balance, "credit");
  };

  var poll = function (url, onData, stop, interval) {
    var delay = interval || 700;
    var tick = function () {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (response) {
        if (response.status === 429) {
          delay = Math.min(delay * 2, 10000);
          return null;
        }
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (data) onData(data);
        if (!data || !stop(data)) setTimeout(tick, delay);
      }).catch(function () { setTimeout(tick, Math.min(delay * 2, 10000)); });
    };
    tick();
  };

  if (result) {
    var status = result.getAttribute("data-status");
    if (status === "IN_QUEUE" || status === "IN_PROGRESS") {
      poll(result.getAttribute("data-status-url"), render, function (job) {
        return job.status !== "IN_QUEUE" && job.status !== "IN_PROGRESS";
      });
    }
  }

  /* ---------- a webhook redelivery, until its attempt is recorded ---------- */

  var deliveries = $("#deliveries[data-wait-deliveries]");
  if (deliveries && result) {
    var seen = parseInt(deliveries.getAttribute("data-deliveries"), 10);
    var started = Date.now();
    poll(result.getAttribute("data-status-url"), function (job) {
      if (job.webhookDeliveries > seen) window.location.replace(window.location.pathname + "#deliveries");
    }, function (job) {
      return job.webhookDeliveries > seen || Date.now() - started > 60000;
    }, 1000);
  }
})();
