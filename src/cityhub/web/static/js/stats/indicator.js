// Indicator page: the city's time series with up to three districts, the latest district comparison
// with year-on-year change, and downloads that follow the chosen districts. Data: /api/v1/stats.
(function () {
  "use strict";
  var root = document.getElementById("indicator");
  if (!root) return;
  var slug = root.getAttribute("data-slug"), lang = root.getAttribute("data-lang");
  var text = JSON.parse(document.getElementById("stats-i18n").textContent);
  var api = "/api/v1/stats/indicators/" + encodeURIComponent(slug);
  var picked = [];
  var seriesChart = echarts.init(document.getElementById("series-chart"));
  var compareChart = echarts.init(document.getElementById("compare-chart"));
  window.addEventListener("resize", function () { seriesChart.resize(); compareChart.resize(); });

  function name(d) { return (lang === "en" ? d.district_en || d.name_en : d.district || d.name) || d.district || d.name || text.city; }
  function num(v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString(lang === "en" ? "en" : "ko"); }

  function load() {
    var qs = picked.length ? "?district=" + encodeURIComponent(picked.join(",")) : "";
    return fetch(api + "/page" + qs, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); }).then(draw);
  }

  function drawPicks(districts) {
    var box = document.getElementById("district-picks");
    if (box.childElementCount) return;
    districts.forEach(function (d) {
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "checkbox"; input.value = d.code;
      input.addEventListener("change", function () {
        if (input.checked && picked.length >= 3) { input.checked = false; return; }
        picked = Array.prototype.filter.call(box.querySelectorAll("input:checked"), function () { return true; })
          .map(function (i) { return i.value; });
        var qs = picked.length ? "?district=" + encodeURIComponent(["city"].concat(picked).join(",")) : "";
        document.getElementById("dl-csv").href = api + "/series" + (qs ? qs + "&format=csv" : "?format=csv");
        document.getElementById("dl-json").href = api + "/series" + qs;
        load();
      });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + (lang === "en" ? d.name_en || d.name : d.name)));
      box.appendChild(label);
    });
  }

  function draw(page) {
    drawPicks(page.districts);
    var periods = {};
    page.series.series.forEach(function (s) { s.points.forEach(function (p) { periods[p.period] = true; }); });
    var x = Object.keys(periods).sort();
    seriesChart.setOption({
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 70, right: 20, top: 40, bottom: 30 },
      xAxis: { type: "category", data: x }, yAxis: { type: "value", scale: true, name: page.series.unit || "" },
      series: page.series.series.map(function (s) {
        var byPeriod = {}; s.points.forEach(function (p) { byPeriod[p.period] = p.value; });
        return { type: "line", name: s.district_code === "" ? text.city : name(s), showSymbol: x.length < 40,
                 data: x.map(function (p) { return byPeriod[p] === undefined ? null : byPeriod[p]; }) };
      })
    }, true);
    var comp = page.comparison;
    document.getElementById("compare-period").textContent = comp.period ? "(" + comp.period + ")" : "";
    compareChart.setOption({
      tooltip: { trigger: "axis" }, grid: { left: 70, right: 20, top: 20, bottom: 60 },
      xAxis: { type: "category", data: comp.districts.map(name), axisLabel: { rotate: 40 } },
      yAxis: { type: "value", scale: true },
      series: [{ type: "bar", data: comp.districts.map(function (d) { return d.value; }) }]
    }, true);
    var body = document.querySelector("#compare-table tbody");
    body.textContent = "";
    (comp.total ? [comp.total] : []).concat(comp.districts).forEach(function (d) {
      var tr = document.createElement("tr");
      [d.district_code === "" ? text.city : name(d), num(d.value), num(d.previous), num(d.change),
       d.change_percent === null ? "—" : d.change_percent + "%"].forEach(function (v, i) {
        var td = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) td.scope = "row"; else td.className = "num";
        td.textContent = v; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    root.setAttribute("data-ready", "true");
  }

  load();
})();
