// Dashboard layout editor: cards (charts you may read, indicators, text) added, moved up and down,
// resized on the 12-column grid and removed; title, sharing and refresh; saved through
// /api/v1/stats/dashboards (POST for a new board, PATCH for yours). Keyboard-operable: every control
// is a button or a field, no dragging needed.
(function () {
  "use strict";
  var form = document.getElementById("board-editor");
  if (!form) return;
  var s = JSON.parse(document.getElementById("stats-i18n").textContent);
  var cards = JSON.parse(document.getElementById("board-cards").textContent);
  var list = document.getElementById("editor-cards"), empty = document.getElementById("editor-empty");
  var lang = document.documentElement.lang === "en" ? "en" : "ko";
  var names = {};  // "chart:<id>" / "indicator:<slug>" → label

  function getJSON(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" } }, options || {}))
      .then(function (r) {
        if (r.status === 204) return null;
        return r.json().then(function (body) { if (!r.ok) throw body; return body; });
      });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function sizeSelect(card, key, label) {
    var wrap = el("label", {}, label + " "), select = el("select", { "data-size": key });
    for (var i = 1; i <= 12; i++) { var o = el("option", { value: String(i) }, String(i)); if (card[key] === i) o.selected = true; select.appendChild(o); }
    select.addEventListener("change", function () { card[key] = parseInt(select.value, 10); });
    wrap.appendChild(select);
    return wrap;
  }
  function move(index, by) {
    var to = index + by;
    if (to < 0 || to >= cards.length) return;
    var card = cards.splice(index, 1)[0];
    cards.splice(to, 0, card);
    render(to, by < 0 ? "up" : "down");
  }
  function label(card) {
    if (card.kind === "text") return s["card.text"];
    var key = card.kind === "chart" ? "chart:" + card.chart_id : "indicator:" + card.indicator;
    return s["card." + card.kind] + " · " + (names[key] || card.title || card.chart_id || card.indicator);
  }
  function render(focusIndex, focusWhat) {
    list.textContent = "";
    empty.hidden = cards.length > 0;
    cards.forEach(function (card, i) {
      var item = el("li", { "class": "editor-card", "data-kind": card.kind });
      item.appendChild(el("strong", { "class": "editor-card-name" }, label(card)));
      if (card.kind === "text") {
        var text = el("textarea", { rows: "2", "aria-label": s.text });
        text.value = card.text || "";
        text.addEventListener("input", function () { card.text = text.value; });
        item.appendChild(text);
      }
      item.appendChild(sizeSelect(card, "w", s.width));
      item.appendChild(sizeSelect(card, "h", s.height));
      [["up", -1], ["down", 1]].forEach(function (pair) {
        var b = el("button", { type: "button", "class": "link-button", "data-move": pair[0] }, s[pair[0]]);
        b.disabled = (pair[1] < 0 && i === 0) || (pair[1] > 0 && i === cards.length - 1);
        b.addEventListener("click", function () { move(i, pair[1]); });
        item.appendChild(b);
      });
      var rm = el("button", { type: "button", "class": "link-button", "data-remove": "" }, s.remove);
      rm.addEventListener("click", function () { cards.splice(i, 1); render(Math.min(i, cards.length - 1), "remove"); });
      item.appendChild(rm);
      list.appendChild(item);
    });
    if (focusIndex !== undefined && focusIndex >= 0 && list.children[focusIndex]) {
      var target = list.children[focusIndex].querySelector("[data-move='" + focusWhat + "']:not([disabled])") ||
                   list.children[focusIndex].querySelector("button:not([disabled])");
      if (target) target.focus();
    }
  }
  function fill(select, items, key) {
    items.forEach(function (it) {
      var value = it[key], text = (lang === "en" && it.title_en) || it.title;
      names[(key === "id" ? "chart:" : "indicator:") + value] = text;
      select.appendChild(el("option", { value: value }, text));
    });
  }

  document.getElementById("add-chart").addEventListener("click", function () {
    var id = document.getElementById("add-chart-id").value;
    if (id) { cards.push({ kind: "chart", chart_id: id, w: 6, h: 5 }); render(cards.length - 1, "up"); }
  });
  document.getElementById("add-indicator").addEventListener("click", function () {
    var slug = document.getElementById("add-indicator-id").value;
    if (slug) { cards.push({ kind: "indicator", indicator: slug, w: 6, h: 4 }); render(cards.length - 1, "up"); }
  });
  document.getElementById("add-text").addEventListener("click", function () {
    cards.push({ kind: "text", text: "", w: 12, h: 2 }); render(cards.length - 1, "up");
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var e = form.elements, status = document.getElementById("editor-status"), error = document.getElementById("editor-error");
    status.textContent = ""; error.textContent = "";
    var slug = form.getAttribute("data-slug");
    var body = { title: e.title.value, title_en: e.title_en.value || null, description: e.description.value || null,
                 description_en: e.description_en.value || null, visibility: e.visibility.value,
                 refresh_seconds: e.refresh_seconds.value ? parseInt(e.refresh_seconds.value, 10) : null,
                 cards: cards.map(function (c) { var out = Object.assign({}, c); return out; }) };
    var request = slug
      ? getJSON("/api/v1/stats/dashboards/" + encodeURIComponent(slug), { method: "PATCH", body: JSON.stringify(body) })
      : getJSON("/api/v1/stats/dashboards", { method: "POST", body: JSON.stringify(Object.assign({ slug: e.slug.value }, body)) });
    request.then(function (board) {
      form.setAttribute("data-slug", board.slug);
      e.slug.readOnly = true;
      cards = board.cards;
      render();
      status.textContent = s.saved_ok + " ";
      var a = el("a", { href: "/stats/dashboards/" + board.slug, id: "editor-open" }, s.open_board);
      status.appendChild(a);
    }).catch(function (body) {
      var detail = (body && body.detail) || "error";
      if (body && body.errors) detail += ": " + Object.keys(body.errors).map(function (k) { return k + " " + body.errors[k]; }).join("; ");
      error.textContent = detail;
    });
  });

  Promise.all([getJSON("/api/v1/stats/charts?limit=500").catch(function () { return { items: [] }; }),
               getJSON("/api/v1/stats/indicators?limit=500").catch(function () { return { items: [] }; })])
    .then(function (both) {
      fill(document.getElementById("add-chart-id"), both[0].items, "id");
      fill(document.getElementById("add-indicator-id"), both[1].items, "slug");
      render();
      form.setAttribute("data-ready", "true");
    });
})();
