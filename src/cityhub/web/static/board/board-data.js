/* City board: shared state, words, colour scales, sparklines and the live feed (SSE with resume). */
"use strict";

const Board = (() => {
  const body = document.body;
  const words = JSON.parse(document.getElementById("board-words").textContent);
  const lang = body.dataset.lang || "ko";
  const view = body.dataset.view || "ops";
  const state = {
    view, lang, words, snap: null, layers: null, incidents: new Map(), district: "", metric: "pm25",
    cursor: 0, lastEventId: 0, connected: false, lastMessageAt: Date.now(), listeners: {},
  };

  const TYPES = {
    fire: ["화재", "Fire", "#ff3b30"], rescue: ["구조", "Rescue", "#ff2d55"], ems: ["구급", "EMS", "#ff9f0a"],
    crime: ["범죄", "Crime", "#bf5af2"], traffic_accident: ["교통사고", "Traffic accident", "#ffd60a"],
    disaster: ["재난", "Disaster", "#0a84ff"], environment: ["환경", "Environment", "#30d158"],
    vulnerable_person: ["사회적 약자", "Vulnerable person", "#64d2ff"],
  };
  const STATES = {
    dispatched: ["출동지령", "Dispatch order"], arrived: ["현장도착", "Arrived on scene"], operating: ["활동개시", "Operations started"],
    initially_suppressed: ["초진", "Initially suppressed"], fully_suppressed: ["완진", "Fully suppressed"], closed: ["종결", "Closed"],
    reported: ["접수", "Reported"], acknowledged: ["확인", "Acknowledged"], on_scene: ["현장도착", "On scene"], resolved: ["조치완료", "Resolved"],
  };
  const L10N = {
    open: ["진행 중 사건", "Open incidents"], today: ["오늘", "Today"], fires: ["화재", "Fires"],
    rescues: ["구조", "Rescues"], ems: ["구급", "EMS"], disasterAreas: ["재난 지역", "Disaster areas"],
    avgSpeed: ["평균 속도", "Average speed"], congested: ["정체 구간", "Congested links"],
    accidents: ["교통사고", "Accidents"], stationsBad: ["나쁨 이상 측정소", "Stations in bad bands"],
    alerts: ["활성 경보", "Active alerts"], ph: ["평균 pH", "Average pH"], riverWarn: ["경계 수위 초과", "Above warning"],
    riverAlarm: ["위험 수위 초과", "Above alarm"], riverMax: ["최고 수위", "Highest level"],
    complaints: ["수돗물 민원", "Water-supply complaints"], noSource: ["연계 전", "not connected"], openNow: ["처리 중", "open"],
    noData: ["자료 없음", "No data"], notYet: ["서비스 준비 중", "Service not available yet"],
    overdue: ["기한 경과", "Overdue"], due: ["기한", "Due"], started: ["발생", "Started"], address: ["주소", "Address"],
    agency: ["담당 기관", "Agency"], status: ["상태", "Status"], timeline: ["진행 경과", "Timeline"],
    cameras: ["주변 CCTV", "Nearby cameras"], severity: ["심각도", "Severity"], department: ["부서", "Department"],
    title: ["제목", "Title"], issue: ["지시하기", "Issue"], issued: ["지시가 등록되었습니다", "Directive issued"],
    granted: ["영상 공유 링크를 발급했습니다", "Video links granted"], last24: ["최근 24시간", "Last 24 hours"],
    good: ["좋음", "Good"], moderate: ["보통", "Moderate"], bad: ["나쁨", "Bad"], veryBad: ["매우 나쁨", "Very bad"],
    live: ["실시간", "Live"], reconnecting: ["재연결 중…", "Reconnecting…"], staleFor: ["실시간 연결 끊김 — 마지막 수신", "Live feed lost — last message"],
    openProject: ["사업 상세 보기", "Open project page"], noDirectives: ["진행 중인 지시 없음", "No open directives"],
    population: ["인구", "Population"], incidents: ["사건 수", "Incidents"], projects: ["사업 수", "Projects"],
    speedLegend: ["도로 속도 (km/h)", "Road speed (km/h)"], airLegend: ["초미세먼지 PM2.5", "PM2.5"],
    river: ["하천 수위", "River level"], water: ["수질", "Water quality"], cctv: ["CCTV", "CCTV"],
    districts: ["자치구", "Districts"], incidentsLayer: ["사건", "Incidents"], air: ["대기 측정소", "Air stations"],
    traffic: ["도로 구간", "Traffic links"], unitSpeed: ["km/h", "km/h"],
  };
  const tr = (key) => (L10N[key] ? L10N[key][lang === "en" ? 1 : 0] : key);
  const typeLabel = (t) => (TYPES[t] ? TYPES[t][lang === "en" ? 1 : 0] : t);
  const stateLabel = (s) => (STATES[s] ? STATES[s][lang === "en" ? 1 : 0] : s);
  const typeColour = (t) => (TYPES[t] ? TYPES[t][2] : "#aaaaaa");

  // Korean air-quality bands (AirKorea): PM2.5 15/35/75, PM10 30/80/150.
  const BAND_COLOURS = ["#3d8bfd", "#2fbf71", "#ffb020", "#ff4d4d"];
  function band(value, kind) {
    if (value === null || value === undefined) return -1;
    const lines = kind === "pm10" ? [30, 80, 150] : [15, 35, 75];
    return value <= lines[0] ? 0 : value <= lines[1] ? 1 : value <= lines[2] ? 2 : 3;
  }
  const bandLabel = (b) => [tr("good"), tr("moderate"), tr("bad"), tr("veryBad")][b] || tr("noData");
  function speedColour(v) {
    if (v === null || v === undefined) return "#777";
    return v < 15 ? "#ff3b30" : v < 30 ? "#ff9f0a" : v < 45 ? "#ffd60a" : "#30d158";
  }

  function esc(text) {
    return String(text === null || text === undefined ? "" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function fmt(v, digits = 1) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    return Number(v).toLocaleString(lang === "en" ? "en-GB" : "ko-KR", { maximumFractionDigits: digits });
  }
  function time(iso, withDate = false) {
    if (!iso) return "—";
    const d = new Date(iso);
    const opts = { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "Asia/Seoul" };
    if (withDate) { opts.month = "2-digit"; opts.day = "2-digit"; }
    return d.toLocaleString(lang === "en" ? "en-GB" : "ko-KR", opts);
  }

  /* A sparkline as inline SVG: cheap enough to redraw every panel on every update. */
  function sparkline(values, { width = 160, height = 36, colour = "#9ecbff", label = "" } = {}) {
    const pts = values.filter((v) => v !== null && v !== undefined);
    if (pts.length < 2) return `<svg class="spark" width="${width}" height="${height}" role="img" aria-label="${esc(label)}"></svg>`;
    const lo = Math.min(...pts), hi = Math.max(...pts), span = hi - lo || 1;
    const step = width / (values.length - 1);
    const path = values.map((v, i) => (v === null || v === undefined ? null :
      `${(i * step).toFixed(1)},${(height - 3 - ((v - lo) / span) * (height - 6)).toFixed(1)}`)).filter(Boolean).join(" ");
    return `<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(label)}">` +
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${path}"/></svg>`;
  }

  /* The first snapshot and layers calls were started by the page's head; later calls go to the network. */
  const early = window.__boardEarly || {};
  function take(url) {
    const m = /^\/api\/v1\/board\/(snapshot|layers)\?view=/.exec(url);
    const name = m ? m[1] : url === "/geo/districts.geojson" ? "districts" : null;
    if (!name || !early[name]) return null;
    const pending = early[name];
    delete early[name];
    return pending;
  }

  async function getJSON(url, opts = {}) {
    const res = await ((!opts.method && take(url)) ||
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, ...opts }));
    if (!res.ok) {
      let detail = res.statusText;
      try { detail = (await res.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(`${res.status} ${detail}`);
    }
    return res.json();
  }

  function on(name, fn) { (state.listeners[name] = state.listeners[name] || []).push(fn); }
  function emit(name, data) { (state.listeners[name] || []).forEach((fn) => fn(data)); }

  /* The live feed: batches of events, resumed by id after a reconnect or a server restart. */
  let source = null;
  function connect() {
    if (source) source.close();
    const after = state.lastEventId || state.cursor || 0;
    source = new EventSource(`/api/v1/board/events?view=${view}&after=${after}`);
    source.onopen = () => { state.connected = true; state.lastMessageAt = Date.now(); emit("connection", true); };
    source.onerror = () => {
      state.connected = false;
      emit("connection", false);
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000); // the browser gave up: start again
    };
    source.addEventListener("batch", (e) => {
      state.lastMessageAt = Date.now();
      state.lastEventId = Number(e.lastEventId) || state.lastEventId;
      let events = [];
      try { events = JSON.parse(e.data); } catch (err) { return; }
      emit("events", events);
    });
    source.addEventListener("resync", () => emit("resync", null));
  }

  return { state, words, lang, view, tr, typeLabel, stateLabel, typeColour, TYPES, band, bandLabel, BAND_COLOURS, speedColour,
           esc, fmt, time, sparkline, getJSON, on, emit, connect };
})();
