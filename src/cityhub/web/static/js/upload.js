// The steward's form: create the dataset through the native API, then upload each file with
// XMLHttpRequest so the browser reports upload progress.
(function () {
  "use strict";
  var form = document.getElementById("dataset-form");
  if (!form) return;
  var text = JSON.parse(document.getElementById("upload-i18n").textContent);
  var errorsBox = document.getElementById("form-errors");
  var status = document.getElementById("form-status");
  var list = document.getElementById("upload-list");
  var submit = document.getElementById("dataset-submit");
  var created = form.getAttribute("data-existing") || "";

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key] !== undefined ? values[key] : ""; });
  }

  function clearErrors() {
    errorsBox.hidden = true; errorsBox.textContent = "";
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    form.querySelectorAll(".field-error").forEach(function (el) { el.textContent = ""; });
  }

  function showProblem(problem) {
    var fields = problem.errors || {};
    var listed = [];
    Object.keys(fields).forEach(function (name) {
      var input = form.elements[name];
      var slot = document.getElementById("err-" + name);
      if (input && slot) {
        input.setAttribute("aria-invalid", "true");
        slot.textContent = fields[name].join("; ");
      }
      listed.push(name + ": " + fields[name].join("; "));
    });
    errorsBox.textContent = text.fix + " " + (listed.length ? listed.join(" · ") : (problem.detail || problem.title || ""));
    errorsBox.hidden = false;
    errorsBox.focus();
  }

  function metadata() {
    var data = {};
    ["name", "title", "title_en", "notes", "notes_en", "owner_org", "theme", "access_level", "license_id",
     "update_frequency", "spatial"].forEach(function (name) {
      var el = form.elements[name];
      if (el && el.value.trim() !== "") data[name] = el.value.trim();
    });
    var words = (form.elements.keywords.value || "").split(/[,，、]/).map(function (w) { return w.trim(); })
      .filter(Boolean);
    if (words.length) data.keywords = words;
    data.synthetic = form.elements.synthetic.checked;
    return data;
  }

  function createDataset() {
    status.textContent = text.creating;
    return fetch("/api/v1/datasets", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(metadata())
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { var e = new Error("invalid"); e.problem = body; throw e; }
        return body.name;
      });
    });
  }

  function uploadRow(file) {
    var li = document.createElement("li");
    li.className = "upload-item";
    var name = document.createElement("span"); name.textContent = file.name;
    var bar = document.createElement("progress"); bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", file.name);
    var state = document.createElement("span"); state.className = "upload-state"; state.textContent = text.waiting;
    li.append(name, bar, state);
    list.appendChild(li);
    return { li: li, bar: bar, state: state };
  }

  function upload(datasetName, file, row) {
    return new Promise(function (resolve) {
      var body = new FormData();
      body.append("upload", file, file.name);
      body.append("name", file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/datasets/" + encodeURIComponent(datasetName) + "/resources");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (!event.lengthComputable) return;
        var pct = Math.round(event.loaded * 100 / event.total);
        row.bar.value = pct;
        row.state.textContent = pct < 100 ? fmt(text.uploading, { pct: pct }) : text.processing;
      });
      xhr.upload.addEventListener("load", function () { row.bar.value = 100; row.state.textContent = text.processing; });
      xhr.addEventListener("load", function () {
        var ok = xhr.status >= 200 && xhr.status < 300;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
        row.li.classList.add(ok ? "ok" : "failed");
        row.state.textContent = ok ? text.done : fmt(text.failed, { message: body.detail || xhr.statusText });
        resolve(ok);
      });
      xhr.addEventListener("error", function () {
        row.li.classList.add("failed");
        row.state.textContent = fmt(text.failed, { message: "network" });
        resolve(false);
      });
      xhr.send(body);
    });
  }

  function uploadAll(datasetName) {
    var files = Array.prototype.slice.call(form.elements.files.files || []);
    list.replaceChildren();
    var rows = files.map(uploadRow);
    // One at a time: the server loads each table as it arrives, and the order of resources is kept.
    return files.reduce(function (chain, file, i) {
      return chain.then(function (allOk) {
        return upload(datasetName, file, rows[i]).then(function (ok) { return allOk && ok; });
      });
    }, Promise.resolve(true));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    submit.disabled = true;
    var ready = created ? Promise.resolve(created) : createDataset();
    ready.then(function (name) {
      created = name;
      form.setAttribute("data-existing", name);
      form.querySelectorAll("fieldset:not(:last-of-type)").forEach(function (fs) { fs.disabled = true; });
      return uploadAll(name).then(function (allOk) {
        var link = document.createElement("a");
        link.href = "/dataset/" + encodeURIComponent(name);
        link.textContent = text.open;
        link.id = "open-dataset";
        status.replaceChildren(document.createTextNode(allOk ? text.all_done + " " : ""), link);
        if (allOk) link.focus();
      });
    }).catch(function (error) {
      status.textContent = "";
      showProblem(error.problem || { detail: error.message });
    }).finally(function () { submit.disabled = false; });
  });
})();
