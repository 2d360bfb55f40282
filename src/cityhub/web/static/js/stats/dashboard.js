// Dashboard: every card's data for this viewer from the API, filters across cards (date range, district),
// auto-refresh (10 s and up), full screen, card export as PNG (ECharts getDataURL) and CSV (server).
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) return;
  var api = root.getAttribute("data-api"), slug = root.getAttribute("data-slug");
  var embed = root.getAttribute("data-embed") === "true", lang = root.getAttribute("data-lang");
  var text = JSON.parse(document.getElementById("stats-i18n").textContent);
  var form = document.getElementById("board-filters");
  var charts = {}, timer = null;

  function params() {
    var qs = new URLSearchParams();
    if (!form) return qs;
    ["date_from", "date_to", "district"].forEach(function (k) { var v = form.elements[k].value; if (v) qs.set(k, v); });
    return qs;
  }

  function cardEl(card) {
    var el = root.querySelector('[data-card="' + card.id + '"]');
    return el;
  }

  function render(cards) {
    cards.forEach(function (card) {
      var el = cardEl(card); if (!el) return;
      var body = el.querySelector(".card-body"), note = el.querySelector(".card-note");
      el.setAttribute("data-status", card.status);
      var title = el.querySelector(".card-title");
      if (title && (card.title || card.title_en)) title.textContent = lang === "en" ? card.title_en || card.title : card.title || card.title_en;
      note.textContent = "";
      if (card.status === "no_access") { body.textContent = text.no_access; body.className = "card-body card-denied"; return; }
      if (card.status === "error") { body.textContent = card.message; body.className = "card-body card-error"; return; }
      body.className = "card-body";
      if (card.kind === "chart") {
        if (card.chart.capped) note.textContent = card.chart.message;
        CityhubCharts.draw(body, card.chart, card.spec).then(function (chart) { charts[card.id] = chart; });
      } else if (card.kind === "indicator") {
        var page = card.indicator, series = page.series.series;
        var spec = { type: "line", y: [{ agg: "sum", label: page.indicator.unit || "" }] };
        var rows = [];
        series.forEach(function (s) { s.points.forEach(function (p) { rows.push([p.period, s.district_code === "" ? text.city : (lang === "en" ? s.district_en : s.district) || s.district_code, p.value]); }); });
        CityhubCharts.draw(body, { columns: ["x", "series", "y0"], rows: rows }, spec).then(function (chart) { charts[card.id] = chart; });
      }
    });
    root.setAttribute("data-ready", "true");
    var stamp = document.getElementById("board-updated");
    if (stamp) stamp.textContent = new Date().toLocaleTimeString(lang === "en" ? "en" : "ko");
  }

  function load() {
    var qs = params().toString();
    return fetch(api + (qs ? "?" + qs : ""), { credentials: embed ? "omit" : "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); }).then(render);
  }

  if (form) {
    form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
    form.elements.refresh.addEventListener("change", function () {
      if (timer) clearInterval(timer);
      var s = parseInt(form.elements.refresh.value, 10);
      timer = s >= 10 ? setInterval(load, s * 1000) : null;
    });
    if (form.elements.refresh.value) form.elements.refresh.dispatchEvent(new Event("change"));
  }
  var full = document.getElementById("board-fullscreen");
  if (full) full.addEventListener("click", function () {
    if (document.fullscreenElement) document.exitFullscreen(); else root.requestFullscreen();
  });
  document.addEventListener("fullscreenchange", function () { Object.keys(charts).forEach(function (k) { if (charts[k]) charts[k].resize(); }); });
  window.addEventListener("resize", function () { Object.keys(charts).forEach(function (k) { if (charts[k]) charts[k].resize(); }); });

  root.addEventListener("click", function (e) {
    var button = e.target.closest("[data-export]"); if (!button) return;
    var id = button.closest("[data-card]").getAttribute("data-card");
    if (button.getAttribute("data-export") === "png") {
      var chart = charts[id]; if (!chart) return;
      var a = document.createElement("a");
      a.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
      a.download = slug + "-" + id + ".png"; document.body.appendChild(a); a.click(); a.remove();
    } else {
      var qs = params().toString();
      window.location.href = "/api/v1/stats/dashboards/" + encodeURIComponent(slug) + "/cards/" + encodeURIComponent(id) + ".csv" + (qs ? "?" + qs : "");
    }
  });
  load();
})();
