/* dangan: the little page behaviour there is, from a static file (the Content-Security-Policy
   allows scripts from this site only: no inline script, no onclick/onsubmit attributes).
   Listeners sit on the document, so they also serve rows htmx swaps in. */
(function () {
  "use strict";

  // <form data-confirm="…"> asks before it is sent. With data-confirm-op="x" it asks only when the
  // button pressed has value x (Enter without a button asks too). A form htmx sends (hx-post) asks
  // through its hx-confirm instead, unless htmx did not load.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var message = form.getAttribute("data-confirm");
    if (!message) return;
    if (window.htmx && form.hasAttribute("hx-post")) return;
    var op = form.getAttribute("data-confirm-op");
    if (op && event.submitter && event.submitter.value !== op) return;
    if (!window.confirm(message)) event.preventDefault();
  });

  // <input type="checkbox" class="select-page" data-form="id"> ticks or clears the page's boxes
  // input[name=ids][form=id].
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || !box.classList.contains("select-page")) return;
    var formId = box.getAttribute("data-form") || "";
    var selector = 'input[name="ids"][form="' + CSS.escape(formId) + '"]';
    document.querySelectorAll(selector).forEach(function (c) {
      c.checked = box.checked;
    });
  });
})();
