// SQL workbench: completion of the tables and columns you may use (from the API), paged results,
// :name parameters, history and saved/shared queries. Everything runs in the server's SQL sandbox.
(function () {
  "use strict";
  var root = document.getElementById("workbench");
  if (!root) return;
  var text = JSON.parse(document.getElementById("stats-i18n").textContent);
  var sql = document.getElementById("wb-sql"), form = document.getElementById("wb-form");
  var state = { offset: 0, limit: 50, queryId: null, names: [] };

  function getJSON(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" } }, options || {}))
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw body; return body; }); });
  }
  function li(list, label, onclick) {
    var item = document.createElement("li"), a = document.createElement("button");
    a.type = "button"; a.className = "link-button"; a.textContent = label; a.addEventListener("click", onclick);
    item.appendChild(a); list.appendChild(item);
  }

  function loadTables() {
    getJSON("/api/v1/stats/workbench/tables").then(function (tables) {
      var list = document.getElementById("wb-tables"); list.textContent = "";
      state.names = [];
      tables.forEach(function (t) {
        state.names.push('"' + t.name + '"');
        t.columns.forEach(function (c) { state.names.push(c.id); });
        li(list, t.title + " · " + t.resource, function () {
          sql.value = 'SELECT ' + t.columns.slice(0, 6).map(function (c) { return '"' + c.id + '"'; }).join(", ") + '\nFROM "' + t.name + '"\nLIMIT 100';
          params();
        });
      });
    });
  }
  function loadSaved() {
    getJSON("/api/v1/stats/queries").then(function (page) {
      var list = document.getElementById("wb-saved"); list.textContent = "";
      page.items.forEach(function (q) { li(list, q.title, function () { sql.value = q.sql; state.queryId = null; params(q.parameters); }); });
    }).catch(function () {});
  }
  function loadHistory() {
    getJSON("/api/v1/stats/workbench/history?limit=20").then(function (items) {
      var list = document.getElementById("wb-history"); list.textContent = "";
      items.forEach(function (h) { li(list, (h.error ? "✗ " : "✓ ") + h.sql.replace(/\s+/g, " ").slice(0, 60), function () { sql.value = h.sql; params(); }); });
    }).catch(function () {});
  }

  // Parameters: one input per :name in the text.
  function params(declared) {
    var box = document.getElementById("wb-params"), seen = {};
    var old = {}; box.querySelectorAll("input").forEach(function (i) { old[i.name] = i.value; });
    box.textContent = "";
    (sql.value.match(/(^|[^:]):([A-Za-z_][A-Za-z0-9_]*)/g) || []).forEach(function (m) {
      var name = m.replace(/^[^:]?:/, ""); if (seen[name]) return; seen[name] = true;
      var d = (declared || []).filter(function (p) { return p.name === name; })[0];
      var label = document.createElement("label"); label.textContent = ":" + name + " ";
      var input = document.createElement("input"); input.name = name; input.value = old[name] || (d && d.default !== null ? d.default : "");
      label.appendChild(input); box.appendChild(label);
    });
  }
  function paramValues() {
    var out = {}; document.querySelectorAll("#wb-params input").forEach(function (i) { out[i.name] = i.value; }); return out;
  }

  // Completion: names that start with the word being typed.
  sql.addEventListener("input", function () {
    params();
    var upto = sql.value.slice(0, sql.selectionStart), word = (upto.match(/"?[\w가-힣-]*$/) || [""])[0].replace(/^"/, "");
    var box = document.getElementById("wb-complete");
    if (word.length < 1) { box.textContent = ""; return; }
    var hits = state.names.filter(function (n) { return n.replace(/"/g, "").toLowerCase().indexOf(word.toLowerCase()) === 0; }).slice(0, 8);
    box.textContent = hits.join("  ");
  });

  function run() {
    var status = document.getElementById("wb-status"), error = document.getElementById("wb-error");
    status.textContent = "…"; error.textContent = "";
    getJSON("/api/v1/stats/workbench/run", { method: "POST", body: JSON.stringify({ sql: sql.value, params: paramValues(), limit: state.limit, offset: state.offset }) })
      .then(function (res) {
        var table = document.getElementById("wb-results"), head = table.tHead, body = table.tBodies[0];
        head.textContent = ""; body.textContent = "";
        var tr = document.createElement("tr");
        res.fields.forEach(function (f) { var th = document.createElement("th"); th.scope = "col"; th.textContent = f.id; tr.appendChild(th); });
        head.appendChild(tr);
        res.records.forEach(function (r) {
          var row = document.createElement("tr");
          res.fields.forEach(function (f) { var td = document.createElement("td"); var v = r[f.id]; td.textContent = v === null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v); row.appendChild(td); });
          body.appendChild(row);
        });
        document.getElementById("wb-range").textContent = (res.records.length ? (res.offset + 1) + "–" + (res.offset + res.records.length) : "0") + " " + text.rows;
        document.getElementById("wb-prev").disabled = res.offset === 0;
        document.getElementById("wb-next").disabled = !res.has_more;
        status.textContent = res.millis + " ms";
        root.setAttribute("data-ready", "true");
        loadHistory();
      }).catch(function (body) { status.textContent = ""; error.textContent = (body && (body.detail || body.title)) || "error"; loadHistory(); });
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); state.offset = 0; run(); });
  document.getElementById("wb-prev").addEventListener("click", function () { state.offset = Math.max(0, state.offset - state.limit); run(); });
  document.getElementById("wb-next").addEventListener("click", function () { state.offset += state.limit; run(); });
  var save = document.getElementById("wb-save");
  if (save) save.addEventListener("submit", function (e) {
    e.preventDefault();
    var declared = Object.keys(paramValues()).map(function (n) { return { name: n, type: "text", default: paramValues()[n] || null }; });
    getJSON("/api/v1/stats/queries", { method: "POST", body: JSON.stringify({ title: save.elements.title.value, sql: sql.value, parameters: declared, visibility: save.elements.visibility.value }) })
      .then(function () { save.reset(); loadSaved(); })
      .catch(function (body) { document.getElementById("wb-error").textContent = (body && body.detail) || "error"; });
  });
  loadTables(); loadSaved(); loadHistory(); params();
})();
