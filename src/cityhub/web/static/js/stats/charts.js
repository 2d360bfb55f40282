// Draws chart data from /api/v1/stats (columns x, series, y0…; raw rows for scatter/points/table) with
// ECharts; district maps use the offline outlines at /geo/districts.geojson. window.CityhubCharts.draw.
(function () {
  "use strict";
  var mapReady = null;
  var districtAlias = {};  // English name or code → the Korean name the map's regions carry

  function districtMap() {
    if (!mapReady) {
      mapReady = fetch("/geo/districts.geojson").then(function (r) { return r.json(); }).then(function (geo) {
        geo.features.forEach(function (f) {
          f.properties.name = f.properties.name_ko;
          districtAlias[f.properties.name_en] = districtAlias[f.properties.code] = f.properties.name_ko;
        });
        echarts.registerMap("busan", geo);
      });
    }
    return mapReady;
  }

  function unique(values) { var seen = {}, out = []; values.forEach(function (v) { var k = String(v); if (!seen[k]) { seen[k] = true; out.push(v); } }); return out; }

  function grouped(data, spec, kind) {
    var cols = data.columns, xi = cols.indexOf("x"), si = cols.indexOf("series");
    var ys = cols.filter(function (c) { return /^y\d+$/.test(c); });
    var xs = unique(data.rows.map(function (r) { return r[xi]; }));
    var series = [];
    var type = kind === "stacked_bar" ? "bar" : kind === "area" ? "line" : kind;
    if (si >= 0) {
      unique(data.rows.map(function (r) { return r[si]; })).forEach(function (name) {
        var by = {}; data.rows.forEach(function (r) { if (r[si] === name) by[r[xi]] = r[cols.indexOf(ys[0])]; });
        series.push({ name: String(name), type: type, stack: kind === "stacked_bar" || kind === "area" ? "all" : undefined,
                      areaStyle: kind === "area" ? {} : undefined, data: xs.map(function (x) { return by[x] === undefined ? null : by[x]; }) });
      });
    } else {
      ys.forEach(function (y, i) {
        var label = (spec.y[i] && (spec.y[i].label || (spec.y[i].agg + (spec.y[i].column ? " " + spec.y[i].column : "")))) || y;
        series.push({ name: label, type: type, stack: kind === "stacked_bar" ? "all" : undefined, areaStyle: kind === "area" ? {} : undefined,
                      data: data.rows.map(function (r) { return r[cols.indexOf(y)]; }) });
      });
    }
    return { tooltip: { trigger: "axis" }, legend: { type: "scroll", top: 0 }, grid: { left: 60, right: 16, top: 36, bottom: 40 },
             xAxis: { type: "category", data: xs.map(String) }, yAxis: { type: "value", scale: kind === "line" }, series: series };
  }

  function option(data, spec) {
    var cols = data.columns, kind = spec.type;
    if (kind === "pie") {
      return { tooltip: { trigger: "item" }, legend: { type: "scroll", bottom: 0 },
               series: [{ type: "pie", radius: ["30%", "65%"], data: data.rows.map(function (r) { return { name: districtAlias[r[0]] || String(r[0]), value: r[cols.indexOf("y0")] }; }) }] };
    }
    if (kind === "heatmap") {
      var xs = unique(data.rows.map(function (r) { return r[0]; })), ys = unique(data.rows.map(function (r) { return r[1]; }));
      var vals = data.rows.map(function (r) { return r[2]; }).filter(function (v) { return v !== null; });
      return { tooltip: {}, grid: { left: 80, right: 20, top: 10, bottom: 70 },
               xAxis: { type: "category", data: xs.map(String) }, yAxis: { type: "category", data: ys.map(String) },
               visualMap: { min: Math.min.apply(null, vals), max: Math.max.apply(null, vals), calculable: true, orient: "horizontal", left: "center", bottom: 0 },
               series: [{ type: "heatmap", data: data.rows.map(function (r) { return [xs.indexOf(r[0]), ys.indexOf(r[1]), r[2]]; }) }] };
    }
    if (kind === "scatter") {
      var si = spec.size ? cols.indexOf(spec.size) : -1;
      return { tooltip: {}, grid: { left: 60, right: 16, top: 16, bottom: 40 }, xAxis: { type: "value", scale: true, name: spec.x.column },
               yAxis: { type: "value", scale: true, name: spec.y[0].column },
               series: [{ type: "scatter", symbolSize: si >= 0 ? function (v) { return Math.max(4, Math.sqrt(Math.abs(v[2] || 0))); } : 8,
                          data: data.rows.map(function (r) { return [r[cols.indexOf(spec.x.column)], r[cols.indexOf(spec.y[0].column)], si >= 0 ? r[si] : null]; }) }] };
    }
    if (kind === "choropleth") {
      var values = data.rows.map(function (r) { return r[cols.indexOf("y0")]; }).filter(function (v) { return v !== null; });
      return { tooltip: { trigger: "item" },
               visualMap: { min: Math.min.apply(null, values.concat([0])), max: Math.max.apply(null, values.concat([1])), calculable: true, left: 0, bottom: 0 },
               series: [{ type: "map", map: "busan", roam: true, data: data.rows.map(function (r) { return { name: districtAlias[r[0]] || String(r[0]), value: r[cols.indexOf("y0")] }; }) }] };
    }
    if (kind === "points") {
      var sz = spec.size ? cols.indexOf(spec.size) : -1;
      return { tooltip: {}, geo: { map: "busan", roam: true, itemStyle: { areaColor: "#e9eef3", borderColor: "#8aa" } },
               series: [{ type: "scatter", coordinateSystem: "geo", symbolSize: sz >= 0 ? function (v) { return Math.max(4, Math.sqrt(Math.abs(v[2] || 0)) * 2); } : 6,
                          data: data.rows.map(function (r) { return [r[cols.indexOf(spec.lon)], r[cols.indexOf(spec.lat)], sz >= 0 ? r[sz] : null]; }) }] };
    }
    return grouped(data, spec, kind);
  }

  function table(el, data) {
    var t = document.createElement("table"); t.className = "data-table";
    var head = document.createElement("tr");
    data.columns.forEach(function (c) { var th = document.createElement("th"); th.scope = "col"; th.textContent = c; head.appendChild(th); });
    var thead = document.createElement("thead"); thead.appendChild(head); t.appendChild(thead);
    var body = document.createElement("tbody");
    data.rows.slice(0, 500).forEach(function (r) {
      var tr = document.createElement("tr");
      r.forEach(function (v) { var td = document.createElement("td"); td.textContent = v === null ? "—" : String(v); tr.appendChild(td); });
      body.appendChild(tr);
    });
    t.appendChild(body); el.appendChild(t);
  }

  // Returns the ECharts instance (for PNG export), or null for KPI and table cards.
  function draw(el, data, spec) {
    var old = echarts.getInstanceByDom(el); if (old) old.dispose();
    el.textContent = "";
    if (spec.type === "kpi") {
      var v = data.rows.length ? data.rows[0][0] : null;
      var big = document.createElement("p"); big.className = "stats-kpi";
      big.textContent = v === null ? "—" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 });
      el.appendChild(big); return Promise.resolve(null);
    }
    if (spec.type === "table") { table(el, data); return Promise.resolve(null); }
    var ready = spec.type === "choropleth" || spec.type === "points" ? districtMap() : Promise.resolve();
    return ready.then(function () {
      var chart = echarts.init(el);
      chart.setOption(option(data, spec));
      return chart;
    });
  }

  window.CityhubCharts = { draw: draw };
})();
