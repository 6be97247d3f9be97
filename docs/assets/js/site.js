// The site's behaviour: the search box (Pagefind), copy buttons on code, and the phone menu.
(function () {
  "use strict";

  function startSearch() {
    var box = document.getElementById("search");
    if (!box || typeof PagefindUI === "undefined") {
      return;
    }
    new PagefindUI({ element: box, showSubResults: true, showImages: false, resetStyles: false });
  }

  function addCopyButtons() {
    document.querySelectorAll(".codeblock .copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var code = button.parentElement.querySelector("pre code");
        if (!code || !navigator.clipboard) {
          return;
        }
        navigator.clipboard.writeText(code.innerText).then(function () {
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = "Copy"; }, 1500);
        });
      });
    });
  }

  function wireMenu() {
    var toggle = document.getElementById("menu-toggle");
    var button = document.querySelector(".menu-button");
    if (!toggle || !button) {
      return;
    }
    button.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle.checked = !toggle.checked;
      }
    });
    document.querySelectorAll(".sidebar a").forEach(function (link) {
      link.addEventListener("click", function () { toggle.checked = false; });
    });
  }

  function start() {
    startSearch();
    addCopyButtons();
    wireMenu();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
