"use strict";
(function () {
  const btn = document.getElementById("start");
  const err = document.getElementById("start-error");
  if (!btn) return;
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    err.textContent = "";
    try {
      const r = await CLIME.postJSON(btn.dataset.api, {});
      if (r.status === 200 && r.body && r.body.url) { location.href = r.body.url; return; }
      err.textContent = (r.body && r.body.error) || ("Could not start (error " + r.status + "). Reload the page.");
    } catch (e) {
      err.textContent = "No connection to the server. Try again in a moment.";
    }
    btn.disabled = false;
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && document.activeElement === document.body) btn.click();
  });
  btn.focus({ preventScroll: true }); // the greeting stays in view under the top bar
})();
