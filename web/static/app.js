// lakeport console: small enhancements over server-rendered pages. Every page works
// without this script; with it, Test connection, queries and sync progress update in
// place. No inline script, no third-party code.
(function () {
  "use strict";
  var csrf = document.body.dataset.csrf || "";
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function post(url, form) {
    return fetch(url, { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf } });
  }
  function fmtInt(n) { return Number(n || 0).toLocaleString("en-US"); }
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0; n = Number(n || 0);
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function fmtMs(ms) { return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + "s"; }

  // Copy buttons.
  $all("button.copy").forEach(function (b) {
    b.addEventListener("click", function () {
      var src = document.getElementById(b.dataset.copy);
      var text = src ? src.textContent : "";
      var done = function () { var t = b.textContent; b.textContent = "Copied"; b.classList.add("done"); setTimeout(function () { b.textContent = t; b.classList.remove("done"); }, 1500); };
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, fallback); } else { fallback(); }
      function fallback() {
        var ta = el("textarea"); ta.value = text; document.body.appendChild(ta); ta.select();
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selectable */ }
        document.body.removeChild(ta);
      }
    });
  });

  // A select that chooses what the page shows.
  $all("select[data-autosubmit]").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
    var btn = s.form.querySelector("button[type=submit]");
    if (btn) btn.hidden = true;
  });

  // A file input that loads a text file (a manifest) into a textarea, which is what the
  // form sends; without this script, paste the text.
  $all("input[type=file][data-load-into]").forEach(function (f) {
    f.addEventListener("change", function () {
      var target = document.getElementById(f.dataset.loadInto);
      if (!target || !f.files || !f.files[0]) return;
      f.files[0].text().then(function (t) { target.value = t; });
    });
  });

  storagePage();
  runPage();
  queryPage();

  function storagePage() {
    var form = $("#storage-form");
    if (!form) return;
    var hosted = $("#hosted"), managed = $("#managed-actions"), save = $("#save-btn"), help = $("#save-help"), test = $("#test-btn");
    var fields = ["bucket", "region", "role_arn", "kms_key_arn", "endpoint", "access_key_id", "secret_access_key"];
    var passed = save && !save.disabled ? values() : null;
    function values() { return fields.map(function (f) { var e = form.elements[f]; return e ? e.value.trim() : ""; }).join("\u0000"); }
    function mode() { var m = form.querySelector("input[name=mode]:checked"); return m ? m.value : "managed"; }
    function showMode() {
      hosted.hidden = mode() !== "customer_hosted";
      if (managed) managed.hidden = mode() !== "managed";
    }
    form.addEventListener("change", showMode);
    showMode();
    function refreshSave() {
      if (!save) return;
      var ok = passed !== null && passed === values();
      save.disabled = !ok;
      help.textContent = ok ? "The test passed for exactly these values." : (passed !== null ? "The values changed since the passing test: test again." : "Test the connection first.");
    }
    form.addEventListener("input", refreshSave);
    form.addEventListener("change", refreshSave);

    // Policies fill in as the bucket is typed.
    var timer = null;
    function policies() {
      var q = new URLSearchParams({ bucket: form.elements.bucket.value.trim(), kms_key_arn: form.elements.kms_key_arn.value.trim() });
      fetch("/settings/storage/policy?" + q, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          $("#policy-error").textContent = p.error || "";
          $("#perm-policy").textContent = p.error ? "" : p.permission_policy;
          $("#trust-policy").textContent = p.error ? "" : p.trust_policy;
        }).catch(function () {});
    }
    ["bucket", "kms_key_arn"].forEach(function (f) {
      form.elements[f].addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(policies, 250); });
    });

    // Test connection in place: every step is listed at once, then each row is filled
    // in as the server finishes that step (Server-Sent Events over the POST's answer).
    var labels = {};
    $all("#step-labels span").forEach(function (s) { labels[s.dataset.name] = s.textContent; });
    if (!test) return;
    test.addEventListener("click", function (ev) {
      ev.preventDefault();
      var tested = values();
      var report = $("#report"), list = $("#report-steps"), summary = $("#report-summary");
      report.hidden = false; list.textContent = ""; summary.className = "summary"; summary.textContent = "Testing the connection…";
      Object.keys(labels).forEach(function (name, i) {
        var li = el("li", { "class": "step pending", "data-step": name });
        li.appendChild(el("span", { "class": "badge pending" }, i === 0 ? "running" : "waiting"));
        li.appendChild(el("span", { "class": "step-name" }, labels[name]));
        li.appendChild(el("span", { "class": "time" }, ""));
        list.appendChild(li);
      });
      test.disabled = true; passed = null; refreshSave();
      var shown = 0; // steps filled in from their own events
      function onStep(s) {
        var item = stepItem(s, labels), old = list.querySelector('.step[data-step="' + stepKey(s) + '"]');
        if (old) list.replaceChild(item, old); else list.appendChild(item);
        shown++;
        var next = item.nextElementSibling;
        if (next && next.classList.contains("pending")) next.querySelector(".badge").textContent = "running";
      }
      function onReport(body) {
        test.disabled = false;
        var rep = body.report;
        if (!rep) { fail(body.message || "Test connection could not run."); return; }
        if (!shown) { list.textContent = ""; rep.steps.forEach(function (s) { list.appendChild(stepItem(s, body.labels || labels)); }); }
        summary.className = "summary " + (rep.ok ? "ok" : "bad");
        summary.textContent = rep.ok ? "Test connection passed." : "Test connection failed.";
        passed = rep.ok ? tested : null;
        refreshSave();
        var failed = list.querySelector(".step.failed");
        if (failed) failed.scrollIntoView({ block: "nearest" });
      }
      function fail(msg) {
        test.disabled = false; summary.className = "summary bad"; summary.textContent = msg;
        $all(".step.pending", list).forEach(function (li) { list.removeChild(li); });
        passed = null; refreshSave();
      }
      fetch("/settings/storage/test", { method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
        headers: { "Accept": "text/event-stream, application/json", "X-CSRF-Token": csrf } }).then(function (r) {
        if ((r.headers.get("Content-Type") || "").indexOf("text/event-stream") !== 0) {
          return r.json().then(function (body) {
            if (r.status !== 200) { fail(body.message || "Test connection could not run."); return; }
            onReport(body);
          });
        }
        var ended = false;
        return readEvents(r, function (event, data) {
          if (event === "step") onStep(JSON.parse(data));
          else if (event === "report") { ended = true; onReport(JSON.parse(data)); }
          else if (event === "failure") { ended = true; fail(JSON.parse(data).message); }
        }).then(function () { if (!ended) fail("Test connection stopped before it finished: the connection to lakeport was cut. Test again."); });
      }).catch(function (e) { fail("Test connection could not reach lakeport: " + e); });
    });
  }

  // readEvents reads Server-Sent Events from a fetch response as they arrive and calls
  // fn(event, data) for each; it resolves at the end of the stream.
  function readEvents(resp, fn) {
    var buf = "";
    function feed(text) {
      buf += text.replace(/\r\n?/g, "\n");
      var end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        var block = buf.slice(0, end), event = "message", data = [];
        buf = buf.slice(end + 2);
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) event = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) fn(event, data.join("\n"));
      }
    }
    if (!resp.body || !resp.body.getReader) return resp.text().then(feed);
    var reader = resp.body.getReader(), dec = new TextDecoder();
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) { feed(dec.decode()); return; }
        feed(dec.decode(r.value, { stream: true }));
        return pump();
      });
    }
    return pump();
  }

  // stepKey names a step of Test connection: who took it, and which it is.
  function stepKey(s) { return (s.principal || "") + "/" + s.name; }

  function stepItem(s, labels) {
    var li = el("li", { "class": "step " + s.status, "data-step": stepKey(s) });
    li.appendChild(el("span", { "class": "badge " + s.status }, s.status));
    li.appendChild(el("span", { "class": "step-name" }, labels[stepKey(s)] || s.name));
    li.appendChild(el("span", { "class": "time" }, fmtMs(s.duration_ms || 0)));
    if (s.status === "failed") {
      var c = el("div", { "class": "cause" });
      c.appendChild(el("p", { "class": "msg" }, s.message || ""));
      if (s.hint) { var h = el("p", { "class": "hint" }); h.appendChild(el("strong", {}, "What to check: ")); h.appendChild(document.createTextNode(s.hint)); c.appendChild(h); }
      var meta = [];
      if (s.cause) meta.push("cause " + s.cause);
      if (s.error_code) meta.push("AWS error " + s.error_code);
      if (s.request_id) meta.push("request ID " + s.request_id);
      if (meta.length) c.appendChild(el("p", { "class": "meta" }, meta.join(" · ")));
      li.appendChild(c);
    }
    return li;
  }

  function runPage() {
    var box = $("#run");
    if (!box || box.dataset.done === "true" || !window.EventSource) { if (box) paint(Number($("#run-bar").dataset.percent), box.dataset.done === "true" ? $("#run-status").textContent : "running"); return; }
    var es = new EventSource("/runs/" + encodeURIComponent(box.dataset.run) + "/events");
    function update(p) {
      var st = $("#run-status"); st.textContent = p.status; st.className = "badge " + p.status;
      $("#run-records").textContent = fmtInt(p.records);
      $("#run-bytes").textContent = fmtBytes(p.bytes);
      $("#run-rate").textContent = fmtInt(Math.round(p.records_per_second)) + " records/s";
      $("#run-elapsed").textContent = fmtMs(p.elapsed_ms);
      $("#run-error").textContent = p.error || "";
      paint(p.percent, p.status);
      var tb = $("#run-streams"); tb.textContent = "";
      (p.streams || []).forEach(function (s) {
        var tr = el("tr");
        var td = el("td"); td.appendChild(el("code", {}, s.name)); tr.appendChild(td);
        tr.appendChild(el("td", {}, s.mode || ""));
        tr.appendChild(el("td", { "class": "num" }, fmtInt(s.records)));
        tr.appendChild(el("td", { "class": "num" }, fmtInt(s.committed)));
        tr.appendChild(el("td", { "class": "num" }, fmtBytes(s.bytes)));
        var notes = el("td", {}, s.status || "");
        (s.changes || []).forEach(function (c) { notes.appendChild(el("div", { "class": "muted" }, c)); });
        tr.appendChild(notes);
        tb.appendChild(tr);
      });
    }
    es.addEventListener("progress", function (e) { update(JSON.parse(e.data)); });
    es.addEventListener("done", function (e) { update(JSON.parse(e.data)); es.close(); $("#run-note").textContent = "Finished."; box.dataset.done = "true"; });
    es.addEventListener("failure", function () { es.close(); $("#run-note").textContent = "Live updates stopped; reload the page."; });
  }
  function paint(percent, status) {
    var bar = $("#run-bar"), fill = bar.querySelector(".fill");
    bar.classList.toggle("indeterminate", percent < 0 && status !== "failed");
    bar.classList.toggle("done", status === "succeeded");
    bar.classList.toggle("failed", status === "failed");
    if (percent >= 0) { fill.style.width = percent + "%"; bar.setAttribute("aria-valuenow", percent); $("#run-percent").textContent = percent + "%"; }
    else if (status === "failed") { fill.style.width = "100%"; $("#run-percent").textContent = "failed"; }
    else { fill.style.width = ""; $("#run-percent").textContent = "working…"; }
  }

  function queryPage() {
    var form = $("#query-form");
    if (!form) return;
    var sql = form.elements.sql, status = $("#query-status"), errBox = $("#query-error");
    var result = null, pageNo = 0, per = 50, chartKind = null;
    $all("button.insert").forEach(function (b) {
      b.addEventListener("click", function (ev) {
        ev.preventDefault();
        var s = sql.selectionStart, e = sql.selectionEnd;
        sql.value = sql.value.slice(0, s) + b.dataset.insert + sql.value.slice(e);
        sql.focus(); sql.selectionStart = sql.selectionEnd = s + b.dataset.insert.length;
      });
    });
    sql.addEventListener("keydown", function (e) { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } });
    $("#run-query").addEventListener("click", function (e) { e.preventDefault(); run(); });
    $("#prev").addEventListener("click", function () { if (pageNo > 0) { pageNo--; table(); } });
    $("#next").addEventListener("click", function () { if ((pageNo + 1) * per < result.rows.length) { pageNo++; table(); } });
    $all(".seg button").forEach(function (b) { b.addEventListener("click", function () { chartKind = b.dataset.chart; chart(); }); });

    function run() {
      errBox.textContent = ""; status.textContent = "Running…";
      post("/query/run", form).then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
        .then(function (res) {
          if (res.status !== 200) { status.textContent = ""; errBox.textContent = res.body.message || "The query failed."; return; }
          result = res.body; pageNo = 0; chartKind = null;
          status.textContent = fmtInt(result.row_count) + " row" + (result.row_count === 1 ? "" : "s") + " in " + result.elapsed_ms + " ms" + (result.truncated ? " (stopped at the row limit)" : "");
          if (result.error) errBox.textContent = result.error.message;
          table(); chart();
        }).catch(function (e) { status.textContent = ""; errBox.textContent = "The query could not reach lakeport: " + e; });
    }
    function cell(v) {
      if (v === null || v === undefined) return el("td", { "class": "muted" }, "NULL");
      if (typeof v === "object") return el("td", {}, JSON.stringify(v));
      return el("td", typeof v === "number" ? { "class": "num" } : {}, String(v));
    }
    function table() {
      var t = $("#result"); t.textContent = "";
      $("#result-card").hidden = false;
      var thead = el("thead"), tr = el("tr");
      result.columns.forEach(function (c) { var th = el("th", { scope: "col" }, c.name + " "); th.appendChild(el("span", { "class": "muted small" }, c.type)); tr.appendChild(th); });
      thead.appendChild(tr); t.appendChild(thead);
      var tb = el("tbody"), rows = result.rows.slice(pageNo * per, (pageNo + 1) * per);
      rows.forEach(function (r) { var tr = el("tr"); r.forEach(function (v) { tr.appendChild(cell(v)); }); tb.appendChild(tr); });
      t.appendChild(tb);
      var from = result.rows.length ? pageNo * per + 1 : 0, to = pageNo * per + rows.length;
      $("#page-info").textContent = "rows " + from + "–" + to + " of " + fmtInt(result.rows.length);
      $("#prev").disabled = pageNo === 0;
      $("#next").disabled = to >= result.rows.length;
    }
    function isNum(t) { return /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC|HUGEINT/i.test(t); }
    function chart() {
      var card = $("#chart-card"), box = $("#chart");
      box.textContent = "";
      var cols = result && result.columns;
      if (!cols || cols.length !== 2 || !isNum(cols[1].type) || result.rows.length < 1) { card.hidden = true; return; }
      card.hidden = false;
      if (!chartKind) chartKind = (isNum(cols[0].type) || /DATE|TIME/i.test(cols[0].type)) ? "line" : "bar";
      $all(".seg button").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.chart === chartKind)); });
      var rows = result.rows.slice(0, 500), W = 900, H = 280, L = 56, B = 40, T = 12, R = 12;
      var ys = rows.map(function (r) { return Number(r[1]) || 0; });
      var max = Math.max.apply(null, ys.concat([0])), minv = Math.min.apply(null, ys.concat([0]));
      var span = (max - minv) || 1;
      var ns = "http://www.w3.org/2000/svg";
      function s(tag, a, text) { var e = document.createElementNS(ns, tag); for (var k in a) e.setAttribute(k, a[k]); if (text != null) e.textContent = text; return e; }
      var svg = s("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none" });
      box.setAttribute("aria-label", (chartKind === "bar" ? "Bar" : "Line") + " chart of " + cols[1].name + " by " + cols[0].name);
      function y(v) { return T + (H - T - B) * (1 - (v - minv) / span); }
      svg.appendChild(s("line", { x1: L, x2: W - R, y1: y(0), y2: y(0), "class": "axis" }));
      [minv, (minv + max) / 2, max].forEach(function (v) { svg.appendChild(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, Number(v.toPrecision(4)).toLocaleString("en-US"))); });
      var step = (W - L - R) / rows.length, every = Math.ceil(rows.length / 12);
      if (chartKind === "bar") {
        rows.forEach(function (r, i) {
          var v = ys[i], x = L + i * step + step * 0.15, top = Math.min(y(v), y(0));
          var rect = s("rect", { x: x, y: top, width: Math.max(1, step * 0.7), height: Math.max(1, Math.abs(y(v) - y(0))), "class": "bar" });
          rect.appendChild(s("title", {}, String(r[0]) + ": " + v.toLocaleString("en-US")));
          svg.appendChild(rect);
        });
      } else {
        var d = rows.map(function (r, i) { return (i ? "L" : "M") + (L + i * step + step / 2).toFixed(1) + " " + y(ys[i]).toFixed(1); }).join(" ");
        svg.appendChild(s("path", { d: d, "class": "line" }));
        if (rows.length <= 60) rows.forEach(function (r, i) { var c = s("circle", { cx: L + i * step + step / 2, cy: y(ys[i]), r: 3, "class": "dot" }); c.appendChild(s("title", {}, String(r[0]) + ": " + ys[i])); svg.appendChild(c); });
      }
      rows.forEach(function (r, i) {
        if (i % every) return;
        var label = String(r[0]); if (label.length > 14) label = label.slice(0, 13) + "…";
        svg.appendChild(s("text", { x: L + i * step + step / 2, y: H - B + 16, "text-anchor": "middle" }, label));
      });
      box.appendChild(svg);
    }
  }
})();
