// Chart builder: pick a table or saved query, a chart type and columns for x (with time bucketing),
// colour, y (with aggregation), size, map coordinates; preview through /api/v1/stats/charts/data
// (run as you, in the SQL sandbox) and save the chart.
(function () {
  "use strict";
  var form = document.getElementById("cb-form");
  if (!form) return;
  var preview = document.getElementById("cb-preview"), sources = {};

  function getJSON(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" } }, options || {}))
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw body; return body; }); });
  }
  function option(select, value, label) { var o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o); }

  function fillColumns(columns) {
    form.querySelectorAll("[data-columns]").forEach(function (select) {
      var keep = select.value; select.textContent = "";
      if (select.hasAttribute("data-optional")) option(select, "", "—");
      columns.forEach(function (c) { option(select, c, c); });
      if (columns.indexOf(keep) >= 0) select.value = keep;
    });
  }
  function loadColumns() {
    var key = form.elements.source.value, src = sources[key];
    if (!src) return;
    if (src.columns) { fillColumns(src.columns); return; }
    getJSON("/api/v1/stats/workbench/run", { method: "POST", body: JSON.stringify({ query_id: src.query_id, limit: 1 }) })
      .then(function (res) { src.columns = res.fields.map(function (f) { return f.id; }); fillColumns(src.columns); })
      .catch(function (body) { document.getElementById("cb-error").textContent = body.detail || "error"; });
  }

  function spec() {
    var e = form.elements, src = sources[e.source.value];
    var s = { type: e.type.value, source: src.resource_id ? { resource_id: src.resource_id } : { query_id: src.query_id },
              y: [{ column: e.y.value || null, agg: e.agg.value || null }] };
    if (e.type.value !== "kpi" && e.type.value !== "points" && e.x.value) s.x = { column: e.x.value, bucket: e.bucket.value || null };
    ["series", "size", "lat", "lon", "time_column", "district_column"].forEach(function (k) { if (e[k].value) s[k] = e[k].value; });
    return s;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var error = document.getElementById("cb-error"), note = document.getElementById("cb-note");
    error.textContent = ""; note.textContent = "";
    var s = spec();
    getJSON("/api/v1/stats/charts/data", { method: "POST", body: JSON.stringify(s) }).then(function (data) {
      note.textContent = (data.message || "") + " (" + data.engine + ", " + data.millis + " ms)";
      return CityhubCharts.draw(preview, data, s);
    }).then(function () { preview.setAttribute("data-ready", "true"); })
      .catch(function (body) { error.textContent = (body && body.detail) || String(body); });
  });
  form.elements.source.addEventListener("change", loadColumns);

  var save = document.getElementById("cb-save");
  if (save) save.addEventListener("submit", function (ev) {
    ev.preventDefault();
    getJSON("/api/v1/stats/charts", { method: "POST", body: JSON.stringify({ title: save.elements.title.value, spec: spec(), visibility: save.elements.visibility.value }) })
      .then(function (chart) { return addToBoard(chart, save.elements.dashboard.value).then(function (board) {
        var out = document.getElementById("cb-saved"); out.textContent = "";
        var a = document.createElement("a");
        a.href = board ? "/stats/dashboards/" + board.slug : "/api/v1/stats/charts/" + chart.id + "/data";
        a.textContent = board ? board.title : chart.id;
        out.appendChild(a);
      }); }).catch(function (body) { document.getElementById("cb-error").textContent = (body && body.detail) || "error"; });
  });

  // A saved chart goes onto a dashboard of yours (made, shared by link, when it does not exist yet).
  function addToBoard(chart, slug) {
    if (!slug) return Promise.resolve(null);
    var url = "/api/v1/stats/dashboards/" + encodeURIComponent(slug), card = { kind: "chart", chart_id: chart.id, w: 6, h: 5 };
    return getJSON("/api/v1/stats/dashboards?limit=500").then(function (page) {
      var board = page.items.filter(function (b) { return b.slug === slug && b.mine; })[0];
      if (!board) {
        return getJSON("/api/v1/stats/dashboards", { method: "POST", body: JSON.stringify({ slug: slug, title: slug, cards: [card], visibility: "link", refresh_seconds: 60 }) });
      }
      return getJSON(url, { method: "PATCH", body: JSON.stringify({ cards: board.cards.concat([card]) }) });
    });
  }

  Promise.all([getJSON("/api/v1/stats/workbench/tables"), getJSON("/api/v1/stats/queries").catch(function () { return { items: [] }; })])
    .then(function (both) {
      var select = form.elements.source;
      both[0].forEach(function (t) { var k = "t:" + t.name; sources[k] = { resource_id: t.name, columns: t.columns.map(function (c) { return c.id; }) }; option(select, k, t.title + " · " + t.resource); });
      both[1].items.forEach(function (q) { var k = "q:" + q.id; sources[k] = { query_id: q.id }; option(select, k, "SQL · " + q.title); });
      var wanted = new URLSearchParams(location.search).get("resource");
      if (wanted && sources["t:" + wanted]) select.value = "t:" + wanted;
      loadColumns();
    });
})();
