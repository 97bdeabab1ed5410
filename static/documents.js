/* The document page: one click (or number key) labels the document and opens the next one.
   Never uses innerHTML: the document text is rendered by the server, escaped. */
"use strict";
(function () {
  const { postJSON, refreshToken } = CLIME;
  const data = JSON.parse(document.getElementById("doc-data").textContent);
  const statusEl = document.getElementById("save-status");
  const buttons = Array.from(document.querySelectorAll(".catbtn"));
  const clearBtn = document.getElementById("doc-clear");
  let current = data.label;
  let busy = false;

  function setStatus(kind, text) {
    statusEl.className = "status " + kind;
    statusEl.textContent = text;
  }

  function show(labelled) {
    buttons.forEach((b, i) => {
      b.classList.toggle("chosen", i === current);
      b.setAttribute("aria-pressed", i === current ? "true" : "false");
    });
    clearBtn.disabled = current === null;
    if (labelled !== undefined) {
      document.getElementById("labelledinfo").textContent = labelled + " labelled";
      const bar = document.getElementById("docprogress");
      bar.value = labelled;
      bar.textContent = labelled + " of " + data.total;
    }
  }

  function go(n) {
    if (n < 1) return;
    window.location.href = n > data.total ? data.urls.done : data.urls.page + n;
  }

  async function save(label) {
    const body = { n: data.n, id: data.id, label: label };
    for (let tries = 0; tries < 3; tries++) {
      let r = null;
      try { r = await postJSON(data.urls.label, body); } catch (e) { r = null; }
      if (r && r.status === 200) return { ok: true, body: r.body };
      if (r && r.status === 403 && tries === 0) {
        try { await refreshToken(data.urls.csrf); } catch (e) { /* retried below */ }
        continue;
      }
      if (r && r.status < 500) return { ok: false, error: (r.body && r.body.error) || ("error " + r.status) };
      setStatus("error", "Not saved yet: no connection to the server, retrying…");
      await CLIME.sleep(500 * (tries + 1));
    }
    return { ok: false, error: "no connection to the server" };
  }

  async function choose(label, advance) {
    if (busy) return;
    busy = true;
    setStatus("saving", "Saving…");
    const res = await save(label);
    busy = false;
    if (!res.ok) { setStatus("error", "Not saved: " + res.error); return; }
    current = label;
    show(res.body.labelled);
    setStatus("saved", "All changes saved");
    if (advance) go(data.n + 1);
  }

  buttons.forEach((b, i) => b.addEventListener("click", () => {
    if (i === current) choose(null, false); else choose(i, true);
  }));
  clearBtn.addEventListener("click", () => { if (current !== null) choose(null, false); });
  document.getElementById("doc-skip").addEventListener("click", () => go(data.n + 1));
  document.getElementById("doc-back").addEventListener("click", () => go(data.n - 1));

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) return;
    const k = ev.key;
    if (/^[1-9]$/.test(k)) {
      const i = Number(k) - 1;
      if (i < buttons.length) { ev.preventDefault(); buttons[i].click(); }
    } else if (k === "n" || k === "ArrowRight") { ev.preventDefault(); go(data.n + 1); }
    else if (k === "p" || k === "ArrowLeft") { ev.preventDefault(); go(data.n - 1); }
    else if (k === "u" || k === "Backspace") { ev.preventDefault(); if (current !== null) choose(null, false); }
    else if (k === "f") { ev.preventDefault(); window.location.href = data.urls.done; }
  });
})();
