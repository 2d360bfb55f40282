// Small page helpers: copy buttons for the API snippets.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(function () {
      var original = button.textContent;
      var i18n = document.getElementById("preview-i18n");
      button.textContent = i18n ? JSON.parse(i18n.textContent).copied : "✓";
      setTimeout(function () { button.textContent = original; }, 1500);
    });
  });
})();
