/* City board map: district polygons as the offline base, incidents, cameras, sensors, choropleth, legend. */
"use strict";

const BoardMap = (() => {
  const B = Board;
  const S = B.state;
  let map, districtLayer, incidentLayer, cameraLayer, airLayer, trafficLayer, waterLayer, levelLayer, legend;
  const markers = new Map();
  // One canvas for every sensor dot, link and lone camera; a small padding keeps the bitmap the compositor
  // copies each redraw small (a wall screen rarely pans). Districts (16 shapes restyled on every update) stay in SVG
  // so a restyle does not redraw and re-upload that canvas.
  const canvas = L.canvas({ padding: 0.1 });
  const svg = L.svg({ padding: 0.1 });
  let cameras = []; // [id, lon, lat]
  const icons = new Map();

  function init() {
    map = L.map("map", { zoomControl: true, attributionControl: false, preferCanvas: true, keyboard: true,
                         minZoom: 9, maxZoom: 18 }).setView([35.17, 129.06], 11);
    const basemap = document.body.dataset.basemap;
    if (basemap) L.tileLayer(basemap, { maxZoom: 18, opacity: 0.5 }).addTo(map);
    districtLayer = L.geoJSON(null, { style: districtStyle, onEachFeature: bindDistrict, renderer: svg }).addTo(map);
    incidentLayer = L.layerGroup().addTo(map);
    airLayer = L.layerGroup().addTo(map);
    trafficLayer = L.layerGroup().addTo(map);
    waterLayer = L.layerGroup().addTo(map);
    levelLayer = L.layerGroup().addTo(map);
    const overlays = {};
    if (B.view === "ops") {
      overlays[B.tr("incidentsLayer")] = incidentLayer;
      cameraLayer = L.layerGroup();
      cameraLayer.on("add", drawCameras);
      map.on("zoomend", drawCameras);
      overlays[B.tr("cctv")] = cameraLayer;
      cameraLayer.addTo(map);
    }
    overlays[B.tr("air")] = airLayer;
    overlays[B.tr("traffic")] = trafficLayer;
    overlays[B.tr("water")] = waterLayer;
    overlays[B.tr("river")] = levelLayer;
    L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
    legend = L.control({ position: "bottomright" });
    legend.onAdd = () => L.DomUtil.create("div", "bd-legend");
    legend.addTo(map);
    return B.getJSON("/geo/districts.geojson").then((geo) => { // started by the page's head
      districtLayer.addData(geo);
      // no fly-in: an animated first fit repainted the map for many frames while the board was still loading
      map.fitBounds(districtLayer.getBounds(), { padding: [8, 8], animate: false });
    });
  }

  /* --- districts and the choropleth ------------------------------------------------------------- */

  function metricValue(nameEn) {
    const m = S.metric;
    if (!S.snap) return null;
    if (m === "incidents") return [...S.incidents.values()].filter((i) => !i.closed && i.district === nameEn).length;
    if (m === "projects") return (S.snap.projects || []).filter((p) => p.district === nameEn).length;
    if (m.startsWith("ind:")) {
      const ind = (S.snap.economy || []).find((e) => e.slug === m.slice(4));
      return ind ? ind.districts[nameEn] ?? null : null;
    }
    const live = (S.snap.live || []).find((d) => d.district === nameEn);
    return live ? live[m] ?? null : null;
  }

  function range() {
    const values = (S.snap ? S.snap.districts : []).map((d) => metricValue(d.name_en)).filter((v) => v !== null);
    return values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
  }

  function ramp(t) { // dark blue → teal → yellow → red, readable on a dark wall
    const stops = [[30, 60, 120], [20, 140, 150], [240, 200, 60], [230, 60, 50]];
    const x = Math.max(0, Math.min(0.999, t)) * (stops.length - 1);
    const i = Math.floor(x), f = x - i, a = stops[i], b = stops[i + 1];
    return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * f)).join(",")})`;
  }

  function districtStyle(feature) {
    const name = feature.properties.name_en;
    const [lo, hi] = range();
    const v = metricValue(name);
    const selected = S.district === feature.properties.code;
    return { color: selected ? "#ffffff" : "#7f93b2", weight: selected ? 4 : 1.2,
             fillColor: v === null ? "#1b2433" : ramp((v - lo) / ((hi - lo) || 1)), fillOpacity: v === null ? 0.4 : 0.45 };
  }

  function bindDistrict(feature, layer) {
    const p = feature.properties;
    layer.bindTooltip(B.lang === "en" ? p.name_en : p.name_ko, { sticky: true, className: "bd-tip" });
    layer.on("click", () => B.emit("district", p.code));
  }

  function restyle() {
    districtLayer.setStyle(districtStyle);
    drawLegend();
  }

  /* --- incidents ---------------------------------------------------------------------------------- */

  /* Fires and rescues wear a red ring; only the newest few of the last half hour pulse. A wall of sixty pulsing
     rings draws the eye nowhere, and each running pulse keeps the compositor redrawing the whole screen. */
  const PULSE_MAX = 8;
  const PULSE_MS = 30 * 60 * 1000;
  const isUrgent = (inc) => inc.type === "fire" || inc.type === "rescue";
  let pulsing = new Set();

  function incidentIcon(inc) { // one icon per look, shared by every marker that has it
    const cls = `inc-marker inc-${inc.type} sev-${inc.severity}${isUrgent(inc) ? " urgent" : ""}` +
      `${pulsing.has(inc.id) ? " pulse" : ""}`;
    if (!icons.has(cls)) {
      icons.set(cls, L.divIcon({ className: cls, html: `<span style="background:${B.typeColour(inc.type)}"></span>`,
                                 iconSize: [22, 22] }));
    }
    return icons.get(cls);
  }

  function tag(marker, id) { const el = marker.getElement(); if (el) el.dataset.incident = id; }

  function upsertIncident(inc) {
    if (!incidentLayer) return;
    const existing = markers.get(inc.id);
    if (inc.closed) {
      if (existing) { incidentLayer.removeLayer(existing); markers.delete(inc.id); }
      return;
    }
    const label = `${B.typeLabel(inc.type)} · ${inc.district || ""}`;
    if (existing) { // only what changed: a new icon rebuilds the marker's element
      const at = existing.getLatLng();
      if (at.lat !== inc.lat || at.lng !== inc.lon) existing.setLatLng([inc.lat, inc.lon]);
      const icon = incidentIcon(inc);
      if (existing.options.icon !== icon) { existing.setIcon(icon); tag(existing, inc.id); }
      return;
    }
    const marker = L.marker([inc.lat, inc.lon], { icon: incidentIcon(inc), title: label, alt: label, keyboard: true,
                                                  zIndexOffset: 1000 });
    marker.on("click", () => B.emit("incident", inc.id));
    marker.on("add", () => tag(marker, inc.id));
    marker.addTo(incidentLayer);
    markers.set(inc.id, marker);
  }

  function refreshPulses() {
    const since = Date.now() - PULSE_MS;
    const fresh = [...S.incidents.values()].filter((i) => !i.closed && isUrgent(i) && Date.parse(i.created_at) >= since)
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)).slice(0, PULSE_MAX).map((i) => i.id);
    const next = new Set(fresh);
    const changed = [...pulsing].filter((id) => !next.has(id)).concat(fresh.filter((id) => !pulsing.has(id)));
    pulsing = next;
    changed.forEach((id) => { if (S.incidents.has(id)) upsertIncident(S.incidents.get(id)); });
  }

  function drawIncidents() { // a new snapshot: markers kept, moved or dropped rather than all rebuilt
    if (!incidentLayer) return;
    markers.forEach((marker, id) => {
      if (!S.incidents.has(id)) { incidentLayer.removeLayer(marker); markers.delete(id); }
    });
    S.incidents.forEach(upsertIncident);
    refreshPulses();
  }

  /* --- sensors and cameras ------------------------------------------------------------------------ */

  function drawLayers() {
    const data = S.layers;
    if (!data) return;
    airLayer.clearLayers(); trafficLayer.clearLayers(); waterLayer.clearLayers(); levelLayer.clearLayers();
    for (const [id, pt, , pm25, pm10] of data.air) {
      const b = Math.max(B.band(pm25, "pm25"), B.band(pm10, "pm10"));
      L.circleMarker([pt[1], pt[0]], { renderer: canvas, radius: 5, weight: 1, color: "#0b1220",
        fillColor: B.BAND_COLOURS[b] || "#777", fillOpacity: 0.95 })
        .on("click", () => B.emit("sensor", id)).addTo(airLayer);
    }
    for (const [id, shape, , speed] of data.traffic) {
      const coords = Array.isArray(shape[0]) ? shape.map((c) => [c[1], c[0]]) : [[shape[1], shape[0]]];
      L.polyline(coords, { renderer: canvas, color: B.speedColour(speed), weight: 4, opacity: 0.9 })
        .on("click", () => B.emit("sensor", id)).addTo(trafficLayer);
    }
    for (const [id, pt, , ph] of data.water) {
      L.circleMarker([pt[1], pt[0]], { renderer: canvas, radius: 6, weight: 2, color: "#64d2ff",
        fillColor: ph && (ph < 6.5 || ph > 8.5) ? "#ff9f0a" : "#0a84ff", fillOpacity: 0.8 })
        .on("click", () => B.emit("sensor", id)).addTo(waterLayer);
    }
    for (const [id, pt, , level, warning, alarm] of data.levels) {
      const colour = level >= (alarm ?? 1e9) ? "#ff3b30" : level >= (warning ?? 1e9) ? "#ff9f0a" : "#8ad4ff";
      L.circleMarker([pt[1], pt[0]], { renderer: canvas, radius: 8, weight: 3, color: colour, fill: false })
        .on("click", () => B.emit("sensor", id)).addTo(levelLayer);
    }
    if (cameraLayer && data.cameras) {
      cameras = data.cameras.map(([id, pt]) => [id, pt[0], pt[1]]);
      drawCameras();
    }
  }

  /* Cameras clustered on a pixel grid at the current zoom: one pass over the points per zoom, a labelled bubble
     per crowded cell and a canvas dot per lone camera (a clustering library built every zoom's tree up front). */
  const CELL_PX = 80;
  function drawCameras() {
    if (!cameraLayer || !map || !map.hasLayer(cameraLayer)) return;
    cameraLayer.clearLayers();
    const zoom = map.getZoom();
    const cells = new Map();
    for (const cam of cameras) {
      const pt = map.project([cam[2], cam[1]], zoom);
      const key = zoom >= 17 ? cam[0] : `${Math.floor(pt.x / CELL_PX)}:${Math.floor(pt.y / CELL_PX)}`;
      const cell = cells.get(key);
      if (cell) { cell.n += 1; cell.lon += cam[1]; cell.lat += cam[2]; } else cells.set(key, { n: 1, id: cam[0], lon: cam[1], lat: cam[2] });
    }
    for (const cell of cells.values()) {
      const at = [cell.lat / cell.n, cell.lon / cell.n];
      if (cell.n === 1) {
        L.circleMarker(at, { renderer: canvas, radius: 4, weight: 1, color: "#263238", fillColor: "#b0bec5", fillOpacity: 1 })
          .bindTooltip(cell.id, { className: "bd-tip" }).addTo(cameraLayer);
        continue;
      }
      const size = cell.n < 10 ? 30 : cell.n < 100 ? 36 : 44;
      L.marker(at, { icon: L.divIcon({ className: "marker-cluster", html: `<div>${cell.n}</div>`, iconSize: [size, size] }),
                     keyboard: false, title: `${B.tr("cctv")} ${cell.n}` })
        .on("click", () => map.setView(at, Math.min(zoom + 2, 18)))
        .addTo(cameraLayer);
    }
  }

  function drawLegend() {
    const el = legend && legend.getContainer();
    if (!el) return;
    const [lo, hi] = range();
    const metricLabel = document.querySelector(`#metric-select option[value="${S.metric}"]`);
    let html = `<h3>${B.esc(metricLabel ? metricLabel.textContent : S.metric)}</h3>` +
      `<div class="ramp"></div><div class="ramp-ends"><span>${B.fmt(lo)}</span><span>${B.fmt(hi)}</span></div>`;
    if (B.view === "ops") {
      html += `<h3>${B.tr("incidentsLayer")}</h3><ul>` + Object.keys(B.TYPES).map((t) =>
        `<li><i style="background:${B.typeColour(t)}"></i>${B.esc(B.typeLabel(t))}</li>`).join("") + "</ul>";
    }
    html += `<h3>${B.tr("airLegend")}</h3><ul>` + [0, 1, 2, 3].map((b) =>
      `<li><i style="background:${B.BAND_COLOURS[b]}"></i>${B.bandLabel(b)}</li>`).join("") + "</ul>";
    html += `<h3>${B.tr("speedLegend")}</h3><ul>` + [[10, "&lt;15"], [20, "15–30"], [40, "30–45"], [50, "45+"]].map(([v, l]) =>
      `<li><i style="background:${B.speedColour(v)}"></i>${l}</li>`).join("") + "</ul>";
    el.innerHTML = html;
  }

  function focusDistrict(code) {
    if (!districtLayer) return;
    if (!code) { map.fitBounds(districtLayer.getBounds(), { padding: [8, 8] }); return; }
    districtLayer.eachLayer((layer) => {
      if (layer.feature.properties.code === code) map.fitBounds(layer.getBounds(), { padding: [30, 30], maxZoom: 13 });
    });
  }

  return { init, restyle, drawIncidents, upsertIncident, refreshPulses, drawLayers, focusDistrict, drawLegend,
           get map() { return map; } };
})();
