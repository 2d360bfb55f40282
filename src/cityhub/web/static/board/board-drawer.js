/* City board drill-downs: incident (timeline, cameras, directive), district, sensor (24 h chart), project. */
"use strict";

const Drawer = (() => {
  const B = Board;
  const S = B.state;
  const el = document.getElementById("drawer");
  const title = document.getElementById("drawer-title");
  const body = document.getElementById("drawer-body");
  const isEn = B.lang === "en";
  let chart = null;
  let opener = null;
  const api = { current: null };

  function open(key, heading, html) {
    if (!api.current) opener = document.activeElement;
    api.current = key;
    title.textContent = heading;
    body.innerHTML = html;
    el.hidden = false;
    el.dataset.kind = key.split(":")[0];
    el.focus();
  }
  function close() {
    if (el.hidden) return;
    el.hidden = true;
    api.current = null;
    if (chart) { chart.dispose(); chart = null; }
    if (opener && opener.focus) opener.focus();
  }
  document.getElementById("drawer-close").addEventListener("click", close);

  const row = (k, v) => `<dt>${B.esc(B.tr(k))}</dt><dd>${v}</dd>`;

  async function incident(id) {
    let inc;
    try { inc = await B.getJSON(`/api/v1/board/incidents/${encodeURIComponent(id)}`); } catch (err) {
      open(`incident:${id}`, B.typeLabel(""), `<p class="error">${B.esc(err.message)}</p>`); return;
    }
    const label = B.stateLabel(inc.state);
    const timeline = (inc.timeline || []).map((t) =>
      `<li><time>${B.time(t.at, true)}</time> <b>${B.esc(t.to_state ? B.stateLabel(t.to_state) : t.kind)}</b> ${B.esc(t.actor_label || "")} ${B.esc(t.note || "")}</li>`).join("");
    const cams = (inc.cameras || []).map((c) =>
      `<li data-camera="${B.esc(c.id)}">${B.esc(c.name || c.id)} <span class="muted">${B.fmt(c.distance_m, 0)} m · ${B.esc(c.usage || "")}</span></li>`).join("");
    const canVideo = S.snap && S.snap.can.video && (inc.agencies || []).length;
    const canDirect = S.snap && S.snap.can.directive;
    const due = new Date(Date.now() + 2 * 3600e3 + 9 * 3600e3).toISOString().slice(0, 16);
    open(`incident:${id}`, `${B.typeLabel(inc.type)} — ${inc.district || ""}`,
      `<dl class="facts">${row("started", B.time(inc.created_at, true))}${row("address", B.esc(inc.address || "—"))}` +
      `${row("agency", B.esc((inc.agencies || []).join(", ") || "—"))}${row("status", `<b class="state">${B.esc(label)}</b>`)}` +
      `${row("severity", B.esc(inc.severity))}</dl>` +
      `<h3>${B.tr("timeline")}</h3><ol class="timeline">${timeline}</ol>` +
      `<h3>${B.tr("cameras")}</h3><ul class="cams">${cams || `<li class="muted">—</li>`}</ul>` +
      (canVideo ? `<button type="button" class="btn" id="request-video">${B.esc(B.words["board.request_video"])}</button> <span id="video-result" role="status"></span>` : "") +
      `<h3>${B.esc(B.words["board.directives"])}</h3><ul class="dir-list">${(inc.directives || []).map((d) =>
        `<li class="dir${d.overdue ? " overdue" : ""}">${B.esc(d.title)} · ${B.esc(d.department)}</li>`).join("") || `<li class="muted">—</li>`}</ul>` +
      (canDirect ? `<form id="directive-form" class="dir-form"><h3>${B.esc(B.words["board.issue_directive"])}</h3>` +
        `<label>${B.tr("title")} <input name="title" required maxlength="300"></label>` +
        `<label>${B.tr("department")} <input name="department" required value="safety-office"></label>` +
        `<label>${B.tr("due")} <input name="due_at" type="datetime-local" required value="${due}"></label>` +
        `<button type="submit" class="btn">${B.tr("issue")}</button> <span id="directive-result" role="status"></span></form>` : ""));
    const form = document.getElementById("directive-form");
    if (form) form.addEventListener("submit", (e) => { e.preventDefault(); issue(inc, form); });
    const video = document.getElementById("request-video");
    if (video) video.addEventListener("click", () => requestVideo(inc));
  }

  async function issue(inc, form) {
    const data = Object.fromEntries(new FormData(form).entries());
    const result = document.getElementById("directive-result");
    try {
      await B.getJSON("/api/v1/board/directives", {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ title: data.title, department: data.department, incident_id: inc.id,
                               due_at: `${data.due_at}:00+09:00` }) });
      result.textContent = B.tr("issued");
      form.reset();
      B.emit("refresh-directives");
    } catch (err) { result.textContent = err.message; }
  }

  async function requestVideo(inc) {
    const out = document.getElementById("video-result");
    try {
      const grant = await B.getJSON(`/api/v1/ops/incidents/${encodeURIComponent(inc.id)}/grants`, {
        method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ agency: inc.agencies[0], reason: `city board: ${inc.type} ${inc.district || ""}` }) });
      out.innerHTML = `${B.tr("granted")}: ${(grant.links || []).map((l) =>
        `<a href="${B.esc(l.url)}" target="_blank" rel="noopener">${B.esc(l.camera_name || l.camera_id)}</a>`).join(", ")}`;
    } catch (err) { out.textContent = err.message; }
  }

  function district(code) {
    const d = S.snap.districts.find((x) => x.code === code);
    const live = (S.snap.live || []).find((x) => x.district === (d && d.name_en)) || {};
    const openCount = [...S.incidents.values()].filter((i) => !i.closed && i.district === (d && d.name_en)).length;
    open(`district:${code}`, d ? (isEn ? d.name_en : d.name_ko) : code,
      `<dl class="facts">${row("avgSpeed", `${B.fmt(live.averageVehicleSpeed)} km/h`)}${row("PM2.5", B.fmt(live.pm25, 0))}` +
      `${row("PM10", B.fmt(live.pm10, 0))}${row("ph", B.fmt(live.pH, 2))}${row("riverMax", B.fmt(live.waterLevel, 2))}` +
      `${row("alerts", live.alerts ?? 0)}${B.view === "ops" ? row("open", openCount) : ""}</dl>`);
  }

  /* ECharts (1 MB) is only needed by the sensor chart: fetched after the board is drawn, or on the first sensor. */
  let charts = null;
  function loadCharts() {
    if (window.echarts) return Promise.resolve(true);
    if (!charts) {
      charts = new Promise((resolve) => {
        const script = document.createElement("script");
        script.src = "/static/vendor/echarts/echarts.min.js";
        script.onload = () => resolve(true);
        script.onerror = () => { charts = null; resolve(false); };
        document.head.appendChild(script);
      });
    }
    return charts;
  }

  async function sensor(id) {
    let data;
    const chartsReady = loadCharts();
    try { data = await B.getJSON(`/api/v1/board/sensors/${encodeURIComponent(id)}?view=${B.view}`); } catch (err) {
      open(`sensor:${id}`, id, `<p class="error">${B.esc(err.message)}</p>`); return;
    }
    const e = data.entity;
    const facts = Object.entries(e).filter(([k]) => !["id", "type", "location", "@context"].includes(k))
      .map(([k, v]) => `<dt>${B.esc(k)}</dt><dd>${B.esc(typeof v === "object" ? JSON.stringify(v) : v)}</dd>`).join("");
    open(`sensor:${id}`, `${e.type} · ${id.split(":").pop()}`,
      `<dl class="facts">${facts}</dl><h3>${B.tr("last24")} — ${B.esc(data.attr || "")}</h3><div id="sensor-chart" class="chart"></div>`);
    await chartsReady;
    if (api.current !== `sensor:${id}`) return; // another drawer was opened meanwhile
    if (data.series.length && window.echarts) {
      chart = echarts.init(document.getElementById("sensor-chart"), "dark", { renderer: "canvas" });
      chart.setOption({ backgroundColor: "transparent", grid: { left: 48, right: 16, top: 16, bottom: 32 },
        xAxis: { type: "time" }, yAxis: { type: "value", scale: true }, tooltip: { trigger: "axis" },
        series: [{ type: "line", showSymbol: false, data: data.series, lineStyle: { width: 3 } }] });
    } else {
      document.getElementById("sensor-chart").innerHTML = `<p class="muted">${B.tr("noData")}</p>`;
    }
  }

  function project(slug) {
    const p = (S.snap.projects || []).find((x) => x.slug === slug);
    if (!p) return;
    open(`project:${slug}`, isEn && p.title_en ? p.title_en : p.title,
      `<p>${B.esc(isEn && p.summary_en ? p.summary_en : p.summary || "")}</p><dl class="facts">` +
      `<dt>${B.esc(B.words["projects.status." + p.status])}</dt><dd><span class="bar wide"><span class="fill st-${p.status}" style="width:${p.progress}%"></span></span> ${p.progress}% (${B.esc(B.words["projects.expected"])} ${p.expected_progress}%)</dd>` +
      `<dt>${B.esc(B.words["projects.department"])}</dt><dd>${B.esc(isEn && p.department_title_en ? p.department_title_en : p.department_title || p.department)}</dd>` +
      `<dt>${B.esc(B.words["projects.schedule"])}</dt><dd>${B.esc(p.start_date)} – ${B.esc(p.end_date)}</dd></dl>` +
      `<a class="btn" href="/projects/${encodeURIComponent(p.slug)}">${B.tr("openProject")}</a>`);
  }

  return Object.assign(api, { incident, district, sensor, project, close, loadCharts });
})();
