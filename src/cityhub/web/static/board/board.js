/* City board: the six panels, the directives list, drill-down drawers, district filter, live wiring. */
"use strict";

(() => {
  const B = Board;
  const S = B.state;
  const $ = (sel) => document.querySelector(sel);
  const STALE_MS = 15 * 60 * 1000;
  const isEn = B.lang === "en";

  /* --- helpers --------------------------------------------------------------------------------------- */

  const districtOf = (code) => (S.snap ? S.snap.districts.find((d) => d.code === code) : null);
  const districtName = (d) => (d ? (isEn ? d.name_en : d.name_ko) : B.words["board.all_city"]);
  const selectedEn = () => { const d = districtOf(S.district); return d ? d.name_en : null; };
  const inDistrict = (nameEn) => !S.district || nameEn === selectedEn();
  const liveFor = (key) => {
    const rows = (S.snap ? S.snap.live : []).filter((d) => inDistrict(d.district) && d[key] !== undefined && d[key] !== null);
    if (!rows.length) return null;
    return key === "alerts" ? rows.reduce((a, d) => a + d[key], 0) : rows.reduce((a, d) => a + d[key], 0) / rows.length;
  };
  const series = (key) => (S.snap ? S.snap.samples : []).map((s) => {
    if (!S.district) return s[key] ?? null;
    const d = (s.d || {})[selectedEn()];
    return d ? d[key] ?? null : null;
  });
  const kstMidnight = () => {
    const now = new Date(Date.now() + 9 * 3600e3);
    return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 9 * 3600e3;
  };
  function figure(label, value, extra = "", cls = "") {
    return `<div class="fig ${cls}"><span class="fig-label">${B.esc(label)}</span><span class="fig-value">${value}</span>${extra}</div>`;
  }
  function setPanel(name, html, { alarm = false, stale = false } = {}) {
    const panel = document.getElementById(`panel-${name}`);
    if (!panel) return;
    panel.querySelector(".panel-body").innerHTML = html;
    panel.classList.toggle("alarm", alarm);
    const tag = panel.querySelector(".stale-tag");
    if (tag) tag.hidden = !stale;
  }
  function newest(rows, index) {
    let best = 0;
    for (const r of rows || []) { const t = Date.parse(r[index]); if (t > best) best = t; }
    return best;
  }
  const isStale = (ts) => !ts || Date.now() - ts > STALE_MS;

  /* --- panels ------------------------------------------------------------------------------------------ */

  function renderSafety() {
    if (!document.getElementById("panel-safety")) return;
    if (S.snap.incidents === null) { setPanel("safety", `<p class="muted">${B.tr("notYet")}</p>`); return; }
    const all = [...S.incidents.values()].filter((i) => inDistrict(i.district));
    const open = all.filter((i) => !i.closed);
    const since = kstMidnight();
    const today = all.filter((i) => Date.parse(i.created_at) >= since);
    const byType = {};
    open.forEach((i) => { byType[i.type] = (byType[i.type] || 0) + 1; });
    const disasters = open.filter((i) => i.type === "disaster");
    const chips = Object.entries(byType).sort((a, b) => b[1] - a[1]).map(([t, n]) =>
      `<li class="chip" style="border-color:${B.typeColour(t)}"><i style="background:${B.typeColour(t)}"></i>${B.esc(B.typeLabel(t))} <b>${n}</b></li>`).join("");
    const list = open.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)).slice(0, 5).map((i) =>
      `<li><button type="button" class="inc-row" data-incident="${B.esc(i.id)}"><i style="background:${B.typeColour(i.type)}"></i>` +
      `${B.esc(B.typeLabel(i.type))} · ${B.esc(i.district || "")} <span class="muted">${B.time(i.created_at)} ${B.esc(B.stateLabel(i.state))}</span></button></li>`).join("");
    const count = (t) => today.filter((i) => i.type === t).length;
    const urgent = open.some((i) => i.type === "fire" || i.type === "rescue");
    setPanel("safety",
      `<div class="figs">${figure(B.tr("open"), `<b class="big" id="open-incidents">${open.length}</b>`,
        S.district ? "" : B.sparkline(series("incidents_open"), { colour: "#ff8a80", label: B.tr("open") }))}` +
      figure(`${B.tr("today")} ${B.tr("fires")}/${B.tr("rescues")}/${B.tr("ems")}`, `${count("fire")} / ${count("rescue")} / ${count("ems")}`) +
      figure(B.tr("disasterAreas"), `${disasters.length}`, disasters.length ? `<span class="muted">${B.esc([...new Set(disasters.map((d) => d.district))].join(", "))}</span>` : "") +
      `</div><ul class="chips">${chips}</ul><ul class="inc-list">${list}</ul>`, { alarm: urgent });
  }

  function renderTraffic() {
    const speed = liveFor("averageVehicleSpeed");
    const links = (S.layers ? S.layers.traffic : []).filter((r) => inDistrict(r[2]));
    const congested = links.filter((r) => r[3] !== null && r[3] < 15).length;
    const accidents = S.snap.incidents ? [...S.incidents.values()].filter((i) => !i.closed && i.type === "traffic_accident" && inDistrict(i.district)).length : null;
    const byDistrict = S.district ? "" : `<ol class="rank">${(S.snap.live || []).filter((d) => d.averageVehicleSpeed)
      .sort((a, b) => a.averageVehicleSpeed - b.averageVehicleSpeed).slice(0, 3).map((d) =>
        `<li>${B.esc(isEn ? d.district : d.name_ko)} <b>${B.fmt(d.averageVehicleSpeed)}</b></li>`).join("")}</ol>`;
    setPanel("traffic",
      `<div class="figs">${figure(B.tr("avgSpeed"), `<b class="big" style="color:${B.speedColour(speed)}">${B.fmt(speed)}</b> <small>km/h</small>`,
        B.sparkline(series("averageVehicleSpeed"), { colour: "#ffd60a", label: B.tr("avgSpeed") }))}` +
      figure(B.tr("congested"), `${congested} / ${links.length}`) +
      (accidents === null ? "" : figure(B.tr("accidents"), `${accidents}`)) + `</div>${byDistrict}`,
      { alarm: speed !== null && speed < 20, stale: isStale(newest(links, 4)) });
  }

  function renderAir() {
    const pm25 = liveFor("pm25"), pm10 = liveFor("pm10");
    const stations = (S.layers ? S.layers.air : []).filter((r) => inDistrict(r[2]));
    const bad = stations.filter((r) => B.band(r[3], "pm25") >= 2 || B.band(r[4], "pm10") >= 2).length;
    const b25 = B.band(pm25, "pm25"), b10 = B.band(pm10, "pm10");
    const alerts = liveFor("alerts");
    setPanel("air",
      `<div class="figs">${figure("PM2.5", `<b class="big" style="color:${B.BAND_COLOURS[b25] || "#ccc"}">${B.fmt(pm25, 0)}</b> <small>µg/m³ · ${B.bandLabel(b25)}</small>`,
        B.sparkline(series("pm25"), { colour: "#7cc4ff", label: "PM2.5" }))}` +
      figure("PM10", `<b class="mid" style="color:${B.BAND_COLOURS[b10] || "#ccc"}">${B.fmt(pm10, 0)}</b> <small>µg/m³ · ${B.bandLabel(b10)}</small>`,
        B.sparkline(series("pm10"), { colour: "#a5d6a7", label: "PM10" })) +
      figure(B.tr("stationsBad"), `${bad} / ${stations.length}`) + figure(B.tr("alerts"), `${alerts ?? 0}`) + "</div>",
      { alarm: b25 >= 2 || b10 >= 2, stale: isStale(newest(stations, 5)) });
  }

  function renderWater() {
    const ph = liveFor("pH");
    const levels = (S.layers ? S.layers.levels : []).filter((r) => inDistrict(r[2]));
    const warn = levels.filter((r) => r[4] !== null && r[3] >= r[4]).length;
    const alarm = levels.filter((r) => r[5] !== null && r[3] >= r[5]).length;
    const top = levels.reduce((m, r) => (r[3] > (m ? m[3] : -1) ? r : m), null);
    const stations = (S.layers ? S.layers.water : []).filter((r) => inDistrict(r[2]));
    setPanel("water",
      `<div class="figs">${figure(B.tr("ph"), `<b class="big">${B.fmt(ph, 2)}</b>`)}` +
      figure(B.tr("riverMax"), top ? `<b class="mid">${B.fmt(top[3], 2)} m</b> <small>/ ${B.fmt(top[4], 1)} m</small>` : "—",
        B.sparkline(series("waterLevel"), { colour: "#64d2ff", label: B.tr("riverMax") })) +
      figure(B.tr("riverWarn"), `${warn}`, "", warn ? "warn" : "") + figure(B.tr("riverAlarm"), `${alarm}`, "", alarm ? "alarm-fig" : "") +
      complaintsFigure() + "</div>",
      { alarm: alarm > 0, stale: isStale(newest(stations, 5)) });
  }

  /* Water-supply complaints: today's count (KST) city-wide or in the chosen district, open ones, the commonest
     kind, and a 7-day sparkline; "not connected" while the city has no complaints dataset. */
  function complaintsFigure() {
    const c = S.snap.water_complaints;
    if (!c) return figure(B.tr("complaints"), `<span class="muted">${B.tr("noSource")}</span>`);
    const name = selectedEn();
    const today = name ? c.today.districts[name] || 0 : c.today.total;
    const open = name ? c.open_by_district[name] || 0 : c.today.open;
    const top = Object.entries(c.today.categories).sort((a, b) => b[1] - a[1])[0];
    const topLabel = top ? `${isEn ? top[0].replace(/_/g, " ") : c.categories[top[0]] || top[0]} ${top[1]}` : "";
    return figure(`${B.tr("complaints")} · ${B.tr("today")}`,
      `<b class="mid" id="water-complaints">${today}</b> <small>${B.tr("openNow")} ${open}${name ? "" : ` · ${B.esc(topLabel)}`}</small>`,
      name ? "" : B.sparkline(c.daily, { colour: "#8ad4ff", label: B.tr("complaints") }), open >= 10 ? "warn" : "");
  }

  function renderProjects() {
    const items = (S.snap.projects || []).filter((p) => inDistrict(p.district) || !S.district);
    const scoped = S.district ? (S.snap.projects || []).filter((p) => p.district === selectedEn()) : items;
    const counts = { on_track: 0, at_risk: 0, delayed: 0, completed: 0 };
    scoped.forEach((p) => { counts[p.status] += 1; });
    const top = [...scoped].sort((a, b) => (b.budget_krw || 0) - (a.budget_krw || 0)).slice(0, 5);
    setPanel("projects",
      `<ul class="status-counts">${Object.entries(counts).map(([s, n]) =>
        `<li class="st-${s}"><b>${n}</b> ${B.esc(B.words["projects.status." + s])}</li>`).join("")}</ul>` +
      `<ul class="pj-top">${top.map((p) => `<li><button type="button" class="pj-row" data-project="${B.esc(p.slug)}">` +
        `<span class="pj-name">${B.esc(isEn && p.title_en ? p.title_en : p.title)}</span>` +
        `<span class="bar"><span class="fill st-${p.status}" style="width:${p.progress}%"></span></span><b>${p.progress}%</b></button></li>`).join("") ||
        `<li class="muted">${B.tr("noData")}</li>`}</ul>`,
      { alarm: counts.delayed > 0 && S.district !== "" });
  }

  function renderEconomy() {
    const rows = (S.snap.economy || []).map((e) => {
      const v = S.district ? e.districts[selectedEn()] : e.value;
      const change = S.district ? null : e.change_percent;
      const arrow = change === null || change === undefined ? "" :
        `<small class="${change >= 0 ? "up" : "down"}">${change >= 0 ? "▲" : "▼"} ${B.fmt(Math.abs(change), 1)}%</small>`;
      return `<li><span class="ind-name">${B.esc(isEn && e.title_en ? e.title_en : e.title)}</span>` +
        `<b>${B.fmt(v, 1)}</b> <small>${B.esc(isEn ? e.unit_en || "" : e.unit || "")}</small> ${arrow}` +
        `${S.district ? "" : B.sparkline(e.series.map((p) => p[1]), { width: 90, height: 24, colour: "#c3a6ff", label: e.title })}` +
        `<small class="muted">${B.esc(e.period || "")}</small></li>`;
    }).join("");
    setPanel("economy", rows ? `<ul class="ind-list">${rows}</ul>` : `<p class="muted">${B.tr("noData")}</p>`);
  }

  function renderDirectives() {
    if (!document.getElementById("panel-directives")) return;
    const items = S.snap.directives;
    if (items === null) { setPanel("directives", `<p class="muted">${B.tr("notYet")}</p>`); return; }
    const incidentDistrict = (d) => (d.incident_id && S.incidents.get(d.incident_id) ? S.incidents.get(d.incident_id).district : null);
    const shown = items.filter((d) => !S.district || incidentDistrict(d) === selectedEn() || !d.incident_id);
    const rows = shown.slice(0, 8).map((d) =>
      `<li class="dir${d.overdue ? " overdue" : ""}" data-directive="${B.esc(d.id)}"><b>${B.esc(d.title)}</b>` +
      `<span>${B.esc(d.department)}</span><span>${B.tr("due")} ${B.time(d.due_at, true)}</span>` +
      `<span class="bar"><span class="fill" style="width:${d.progress || 0}%"></span></span>` +
      `${d.overdue ? `<em>${B.tr("overdue")}</em>` : ""}</li>`).join("");
    setPanel("directives", rows ? `<ul class="dir-list">${rows}</ul>` : `<p class="muted">${B.tr("noDirectives")}</p>`,
      { alarm: shown.some((d) => d.overdue) });
  }

  // the map fitted to the districts (their shapes were requested by the page's head, so this is quick)
  const mapFitted = BoardMap.init().catch(report).finally(() => BoardMap.restyle());

  let frame = 0;
  function renderAll() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (!S.snap) return;
      renderSafety(); renderTraffic(); renderAir(); renderWater(); renderProjects(); renderEconomy(); renderDirectives();
      BoardMap.restyle();
      document.body.dataset.rendered = String(Date.now());
    });
  }

  /* --- loading --------------------------------------------------------------------------------------- */

  async function loadSnapshot() {
    const snap = await B.getJSON(`/api/v1/board/snapshot?view=${B.view}`);
    S.snap = snap;
    S.cursor = Math.max(S.cursor, snap.cursor || 0);
    S.incidents = new Map((snap.incidents || []).map((i) => [i.id, i]));
    // A snapshot read before a live event must not wipe what that event drew: re-apply the newer ones.
    recent = recent.filter((ev) => ev.id > (snap.cursor || 0));
    recent.forEach(mergeIncident);
    fillSelects();
    await mapFitted; // drawn once the map has its final view: a later fit re-placed every marker and path
    BoardMap.drawIncidents();
    renderAll();
  }
  async function loadLayers() {
    S.layers = await B.getJSON(`/api/v1/board/layers?view=${B.view}`);
    await mapFitted;
    BoardMap.drawLayers();
    renderAll();
  }
  const timers = {};
  function later(name, ms, fn) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => { timers[name] = null; fn().catch(report); }, ms);
  }
  function report(err) { console.warn("board:", err && err.message ? err.message : err); }

  function fillSelects() {
    const sel = $("#district-select");
    if (sel.options.length <= 1) {
      S.snap.districts.forEach((d) => sel.add(new Option(districtName(d), d.code)));
    }
    sel.value = S.district;
    const metric = $("#metric-select");
    if (!metric.options.length) {
      const opts = [["pm25", "PM2.5"], ["pm10", "PM10"], ["averageVehicleSpeed", B.tr("avgSpeed")], ["waterLevel", B.tr("river")],
                    ["alerts", B.tr("alerts")], ["projects", B.tr("projects")]];
      if (B.view === "ops") opts.push(["incidents", B.tr("incidents")]);
      (S.snap.economy || []).forEach((e) => opts.push([`ind:${e.slug}`, isEn && e.title_en ? e.title_en : e.title]));
      opts.forEach(([v, l]) => metric.add(new Option(l, v)));
      metric.value = S.metric;
    }
  }

  /* --- live events ------------------------------------------------------------------------------------ */

  let recent = []; // incident events newer than the last snapshot's cursor
  function mergeIncident(ev) {
    const p = ev.payload || {};
    const old = S.incidents.get(p.id) || { created_at: p.at, state_label: [] };
    S.incidents.set(p.id, { ...old, ...p, created_at: old.created_at || p.at, closed: p.state === "closed",
                             state_label: old.state === p.state ? old.state_label : [p.state, p.state] });
  }

  function applyEvents(events) {
    let incidents = false;
    for (const ev of events) {
      const p = ev.payload || {};
      if (ev.topic === "incident.created" || ev.topic === "incident.changed") {
        mergeIncident(ev);
        recent.push(ev);
        if (recent.length > 1000) recent = recent.slice(-500);
        BoardMap.upsertIncident(S.incidents.get(p.id));
        incidents = true;
        if (ev.topic === "incident.changed" && Drawer.current === `incident:${p.id}`) Drawer.incident(p.id);
      } else if (ev.topic.startsWith("directive.") || ev.topic === "project.changed") {
        later("snapshot", 800, loadSnapshot);
      } else if (ev.topic === "sensors" || ev.topic.startsWith("alert.")) {
        later("snapshot-live", 15000, loadSnapshot);
        later("layers", 30000, loadLayers);
      }
    }
    if (incidents) { BoardMap.refreshPulses(); renderAll(); }
  }

  let dropped = false;
  function showConnection(up) {
    const el = $("#conn");
    el.textContent = up ? `● ${B.words["board.live"]}` : `○ ${B.words["board.reconnecting"]}`;
    el.classList.toggle("down", !up);
    // back after a drop: catch up on anything the replay log cannot carry (the first open follows the snapshot)
    if (up && dropped) later("snapshot-reconnect", 300, loadSnapshot);
    if (!up) dropped = true;
  }

  function watchStaleness() {
    const banner = $("#stale-banner");
    const lost = !S.connected && Date.now() - S.lastMessageAt > 30000;
    banner.hidden = !lost;
    if (lost) banner.textContent = `${B.tr("staleFor")} ${B.time(new Date(S.lastMessageAt).toISOString())}`;
    $("#clock").textContent = clock.format(new Date());
  }
  // one formatter for the ticking clock (building one every second was a visible share of the page's script time)
  const clock = new Intl.DateTimeFormat(isEn ? "en-GB" : "ko-KR", { timeZone: "Asia/Seoul", hour12: false, year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });

  /* --- district filter ----------------------------------------------------------------------------------- */

  function setDistrict(code) {
    S.district = code || "";
    $("#district-select").value = S.district;
    const chip = $("#district-chip");
    chip.hidden = !S.district;
    chip.textContent = S.district ? `${districtName(districtOf(S.district))} ✕` : "";
    document.body.dataset.district = S.district;
    BoardMap.focusDistrict(S.district);
    renderAll();
  }

  /* --- wiring -------------------------------------------------------------------------------------------- */

  document.addEventListener("click", (e) => {
    const inc = e.target.closest("[data-incident]");
    if (inc && !e.target.closest(".leaflet-marker-icon")) { Drawer.incident(inc.dataset.incident); return; }
    const pj = e.target.closest("[data-project]");
    if (pj) Drawer.project(pj.dataset.project);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { Drawer.close(); return; }
    if (e.target.matches("input, select, textarea")) return;
    const panels = [...document.querySelectorAll(".panel")];
    const n = Number(e.key);
    if (n >= 1 && n <= panels.length) panels[n - 1].focus();
    if (e.key === "0") setDistrict("");
  });
  $("#district-select").addEventListener("change", (e) => setDistrict(e.target.value));
  $("#district-chip").addEventListener("click", () => setDistrict(""));
  $("#metric-select").addEventListener("change", (e) => { S.metric = e.target.value; BoardMap.restyle(); });
  B.on("district", (code) => { setDistrict(code === S.district ? "" : code); if (S.district) Drawer.district(S.district); });
  B.on("incident", (id) => Drawer.incident(id));
  B.on("sensor", (id) => Drawer.sensor(id));
  B.on("events", applyEvents);
  B.on("resync", () => { loadSnapshot().catch(report); loadLayers().catch(report); });
  B.on("connection", showConnection);
  B.on("refresh-directives", () => loadSnapshot().catch(report));

  window.BoardPage = { setDistrict, loadSnapshot, state: S };
  Promise.all([loadSnapshot(), loadLayers()])
    .then(() => new Promise((resolve) => requestAnimationFrame(() => resolve())))
    .then(() => {
      // First complete render: every panel filled (renderAll ran earlier in this frame) and every layer on the map.
      performance.mark("board:ready");
      try { performance.measure("board:first-render", "board:start", "board:ready"); } catch (e) { /* no start mark */ }
      window.__boardReady = performance.now();
      document.body.dataset.ready = "1";
      B.connect();
      // the chart library only for the sensor drawer: fetched once the wall has settled, or on the first sensor tap
      setTimeout(() => (window.requestIdleCallback || setTimeout)(() => Drawer.loadCharts()), 5000);
    })
    .catch((err) => { report(err); B.connect(); });
  // the beat of alarms and new fires (see board.css): one attribute flip a little more than once a second
  const calm = window.matchMedia("(prefers-reduced-motion: reduce)");
  setInterval(() => {
    const beat = document.body.dataset.ready && !calm.matches && document.body.dataset.beat !== "1";
    document.body.dataset.beat = beat ? "1" : "0";
  }, 700);
  setInterval(watchStaleness, 1000);
  watchStaleness();
})();
