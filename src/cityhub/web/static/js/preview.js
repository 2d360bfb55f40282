// Dataset page: a paged, filterable preview of datastore rows, a quick chart and a map.
// Everything comes from the native datastore API (/api/v1/datastore/{resource_id}); no CDN, no basemap.
(function () {
  "use strict";
  var section = document.getElementById("preview");
  if (!section) return;
  var api = section.getAttribute("data-api");
  var text = JSON.parse(document.getElementById("preview-i18n").textContent);
  var form = document.getElementById("preview-form");
  var status = document.getElementById("preview-status");
  var table = document.getElementById("preview-table");
  var range = document.getElementById("preview-range");
  var prev = document.getElementById("preview-prev");
  var next = document.getElementById("preview-next");
  var columnSelect = document.getElementById("preview-column");
  var NUMERIC = /^(int|integer|bigint|numeric|number|float|double|real|decimal)/i;
  var LAT = /^(lat|latitude|y|위도|y좌표|lat_wgs84)$/i, LON = /^(lon|lng|long|longitude|x|경도|x좌표|lon_wgs84)$/i;
  var state = { offset: 0, limit: 25, q: "", column: "", value: "", sort: "", fields: null };
  var requestSeq = 0;

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] !== undefined ? values[key] : ""; });
  }

  function visibleFields(fields) {
    return fields.filter(function (f) { return f.id !== "_id" && f.id !== "_full_text"; });
  }

  function filterParams() {
    var params = new URLSearchParams();
    if (state.q) params.set("q", state.q);
    if (state.column && state.value !== "") {
      var filters = {}; filters[state.column] = state.value;
      params.set("filters", JSON.stringify(filters));
    }
    if (state.sort) params.set("sort", state.sort);
    return params;
  }

  function query(extra) {
    var params = filterParams();
    params.set("limit", String(extra && extra.limit || state.limit));
    params.set("offset", String(extra && extra.offset !== undefined ? extra.offset : state.offset));
    return api + "?" + params.toString();
  }

  // The download links under the preview follow the filters, so what you see is what you get.
  function updateDownloads() {
    var qs = filterParams().toString();
    section.querySelectorAll(".preview-download a[data-base]").forEach(function (a) {
      a.href = a.getAttribute("data-base") + (qs ? "?" + qs : "");
    });
  }

  function fetchRows(extra) {
    return fetch(query(extra), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (!response.ok) throw new Error(body.detail || body.title || response.statusText);
          return body.result || body;  // the native shape, or CKAN's envelope
        });
      });
  }

  function cell(value, field) {
    var td = document.createElement("td");
    if (value === null || value === undefined) { td.className = "null"; td.textContent = "—"; return td; }
    if (typeof value === "object") value = JSON.stringify(value);
    if (NUMERIC.test(field.type || "")) td.className = "num";
    td.textContent = String(value);
    td.title = String(value);
    return td;
  }

  function header(fields) {
    var row = document.createElement("tr");
    fields.forEach(function (field) {
      var th = document.createElement("th");
      th.scope = "col";
      var button = document.createElement("button");
      button.type = "button";
      var sortedAsc = state.sort === field.id + " asc", sortedDesc = state.sort === field.id + " desc";
      button.textContent = field.id + (sortedAsc ? " ▲" : sortedDesc ? " ▼" : "");
      button.setAttribute("aria-label", field.id + " — " + (sortedAsc ? text.sort_desc : text.sort_asc));
      if (sortedAsc || sortedDesc) th.setAttribute("aria-sort", sortedAsc ? "ascending" : "descending");
      button.addEventListener("click", function () {
        state.sort = sortedAsc ? field.id + " desc" : field.id + " asc";
        state.offset = 0;
        load();
      });
      var type = document.createElement("span");
      type.className = "col-type";
      type.textContent = field.type || "";
      th.appendChild(button);
      th.appendChild(document.createElement("br"));
      th.appendChild(type);
      row.appendChild(th);
    });
    table.tHead.replaceChildren(row);
  }

  function fillColumns(fields) {
    if (columnSelect.options.length > 1) return;
    fields.forEach(function (field) {
      var option = document.createElement("option");
      option.value = field.id; option.textContent = field.id;
      columnSelect.appendChild(option);
    });
  }

  function render(result) {
    var fields = visibleFields(result.fields || []);
    state.fields = fields;
    fillColumns(fields);
    header(fields);
    var records = result.records || [];
    var body = document.createElement("tbody");
    records.forEach(function (record) {
      var tr = document.createElement("tr");
      fields.forEach(function (field, i) {
        tr.appendChild(cell(Array.isArray(record) ? record[i + 1] : record[field.id], field));
      });
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    var total = result.total;
    var from = records.length ? state.offset + 1 : 0, to = state.offset + records.length;
    var template = result.total_was_estimated ? text.estimated : text.range;
    range.textContent = total !== undefined && total !== null
      ? fmt(template, { from: from.toLocaleString(), to: to.toLocaleString(), total: Number(total).toLocaleString() })
      : from + "–" + to;
    status.textContent = records.length ? range.textContent : text.empty;
    prev.disabled = state.offset <= 0;
    next.disabled = total !== undefined && total !== null ? to >= total : records.length < state.limit;
  }

  function load() {
    var seq = ++requestSeq;
    status.textContent = text.loading;
    section.setAttribute("aria-busy", "true");
    return fetchRows().then(function (result) {
      if (seq !== requestSeq) return;
      render(result);
      updateDownloads();
      section.setAttribute("data-loaded", "true");
      drawChart();
      drawMap();
    }).catch(function (error) {
      if (seq !== requestSeq) return;
      status.textContent = fmt(text.error, { message: error.message });
    }).finally(function () { section.removeAttribute("aria-busy"); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    state.q = form.elements.q.value.trim();
    state.column = columnSelect.value;
    state.value = form.elements.value.value.trim();
    state.limit = parseInt(form.elements.limit.value, 10) || 25;
    state.offset = 0;
    load();
  });
  form.addEventListener("reset", function () {
    setTimeout(function () {
      state.q = ""; state.column = ""; state.value = ""; state.sort = ""; state.offset = 0;
      state.limit = parseInt(form.elements.limit.value, 10) || 25;
      load();
    }, 0);
  });
  prev.addEventListener("click", function () { state.offset = Math.max(0, state.offset - state.limit); load(); });
  next.addEventListener("click", function () { state.offset += state.limit; load(); });

  // --- quick chart: one numeric column against a label column, first rows of the current filter ---
  var CHART_ROWS = 200;
  var chart = null;
  var chartX = document.getElementById("chart-x"), chartY = document.getElementById("chart-y");
  var chartKind = document.getElementById("chart-kind");

  function option(select, value, label) {
    var o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o);
  }

  // Sensible first choice: time on the x axis when there is one, and a measured quantity (not a
  // coordinate or a code) on the y axis; the visitor can change both.
  var CODE_LIKE = /(번호|코드|code|id$|^no$|연도|year)/i;

  function prepareChart(fields) {
    if (chartY.options.length) return true;
    var numeric = fields.filter(function (f) { return NUMERIC.test(f.type || ""); });
    var measured = numeric.filter(function (f) { return !LAT.test(f.id) && !LON.test(f.id) && !CODE_LIKE.test(f.id); });
    if (!measured.length || !window.echarts) return false;
    var labels = fields.filter(function (f) { return !NUMERIC.test(f.type || "") && !/geo/i.test(f.type || ""); });
    var times = labels.filter(function (f) { return /date|time/i.test(f.type || ""); });
    option(chartX, "", "#");
    labels.forEach(function (f) { option(chartX, f.id, f.id); });
    if (times.length) { chartX.value = times[0].id; chartKind.value = "line"; }
    else if (labels.length) chartX.value = labels[0].id;
    numeric.forEach(function (f) { option(chartY, f.id, f.id); });
    chartY.value = measured[0].id;
    [chartX, chartY, chartKind].forEach(function (s) { s.addEventListener("change", drawChart); });
    return true;
  }

  function drawChart() {
    if (!state.fields || !prepareChart(state.fields)) return;
    document.getElementById("chart-section").hidden = false;
    fetchRows({ limit: CHART_ROWS, offset: 0 }).then(function (result) {
      var records = result.records || [];
      var x = chartX.value, y = chartY.value;
      var labels = records.map(function (r, i) { return x ? String(r[x]) : String(i + 1); });
      var values = records.map(function (r) { return r[y] === null ? null : Number(r[y]); });
      chart = chart || window.echarts.init(document.getElementById("chart"), null, { renderer: "svg" });
      chart.setOption({
        aria: { enabled: true },
        animation: false,
        tooltip: { trigger: "axis" },
        grid: { left: 60, right: 20, top: 40, bottom: 70 },
        xAxis: { type: "category", data: labels, axisLabel: { rotate: labels.length > 12 ? 45 : 0 } },
        yAxis: { type: "value", name: y },
        dataZoom: records.length > 40 ? [{ type: "slider" }] : [],
        series: [{ type: chartKind.value, name: y, data: values, itemStyle: { color: "#0b5cad" } }]
      }, true);
      document.getElementById("chart-note").textContent = fmt(text.chart_note, { n: records.length });
    });
  }
  window.addEventListener("resize", function () { if (chart) chart.resize(); });

  // --- map: GeoJSON geometry columns or latitude/longitude pairs, drawn on a blank background ---
  var MAP_ROWS = 2000;
  var map = null, layer = null;

  function geometryOf(fields) {
    var geo = fields.filter(function (f) { return /geo|geometry|geojson/i.test(f.type || "") || /^(geometry|geom|the_geom)$/i.test(f.id); })[0];
    if (geo) return { geo: geo.id };
    var lat = fields.filter(function (f) { return LAT.test(f.id); })[0];
    var lon = fields.filter(function (f) { return LON.test(f.id); })[0];
    return lat && lon ? { lat: lat.id, lon: lon.id } : null;
  }

  function toFeature(record, how, fields) {
    var geometry = null;
    if (how.geo) {
      geometry = record[how.geo];
      if (typeof geometry === "string") { try { geometry = JSON.parse(geometry); } catch (e) { geometry = null; } }
    } else {
      var lat = Number(record[how.lat]), lon = Number(record[how.lon]);
      if (isFinite(lat) && isFinite(lon) && record[how.lat] !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
        geometry = { type: "Point", coordinates: [lon, lat] };
      }
    }
    if (!geometry || !geometry.type) return null;
    var label = fields.filter(function (f) { return !NUMERIC.test(f.type || "") && f.id !== how.geo; })[0];
    return { type: "Feature", geometry: geometry, properties: { label: label ? record[label.id] : "" } };
  }

  // District outlines give the points a place without a tile basemap (nothing asked of the internet).
  function drawDistricts(target) {
    var lang = document.documentElement.lang === "en" ? "name_en" : "name_ko";
    target.createPane("districts");
    target.getPane("districts").style.zIndex = 350;  // under the overlay pane that holds the data
    fetch("/geo/districts.geojson").then(function (r) { return r.ok ? r.json() : null; }).then(function (geo) {
      if (!geo) return;
      var outlines = window.L.geoJSON(geo, {
        interactive: false,
        pane: "districts",
        style: function () { return { color: "#8a96a3", weight: 1, fill: true, fillColor: "#ffffff", fillOpacity: 0.6 }; },
        onEachFeature: function (feature, l) {
          l.bindTooltip(feature.properties[lang], { permanent: true, direction: "center", className: "district-label" });
        }
      }).addTo(target);
      if (!outlines.getLayers().length) return;
    }).catch(function () { /* the outlines are decoration; the data layer stands alone */ });
  }

  function drawMap() {
    if (!state.fields || !window.L) return;
    var how = geometryOf(state.fields);
    if (!how) return;
    fetchRows({ limit: MAP_ROWS, offset: 0 }).then(function (result) {
      var features = (result.records || []).map(function (r) { return toFeature(r, how, state.fields); })
        .filter(Boolean);
      if (!features.length) return;
      document.getElementById("map-section").hidden = false;
      if (!map) {
        map = window.L.map("map", { attributionControl: false, zoomSnap: 0.25 });
        window.L.control.scale({ imperial: false }).addTo(map);
        drawDistricts(map);
      }
      if (layer) layer.remove();
      layer = window.L.geoJSON({ type: "FeatureCollection", features: features }, {
        pointToLayer: function (feature, latlng) {
          return window.L.circleMarker(latlng, { radius: 6, color: "#7a2e00", weight: 1.5, fillColor: "#e8590c", fillOpacity: 0.9 });
        },
        style: function (feature) {
          // Leaflet applies this to point markers too, so points keep their own colours here.
          return /Point/.test(feature.geometry.type)
            ? { color: "#7a2e00", weight: 1.5, fillColor: "#e8590c", fillOpacity: 0.9 }
            : { color: "#0b5cad", weight: 2, fillOpacity: 0.2 };
        },
        onEachFeature: function (feature, l) {
          if (feature.properties.label) l.bindTooltip(String(feature.properties.label));
        }
      }).addTo(map);
      map.invalidateSize();
      map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 15 });
      document.getElementById("map-note").textContent = fmt(text.map_note, { n: features.length });
    });
  }

  load();
})();
