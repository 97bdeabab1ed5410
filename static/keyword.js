/* CLIME annotation app: one keyword page.
 * Every action is sent to the server at once, in order, through one queue; a failed
 * request (no connection, server restarting) is retried until it goes through.
 * Words come from corpora: they are only ever put into the page with textContent. */
"use strict";
(function () {
  const { el, sleep, postJSON, getJSON, refreshToken } = CLIME;
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const LANGS = ["src", "tgt"];
  const rows = { src: data.rows.src.slice(), tgt: data.rows.tgt.slice() };
  const statusEl = document.getElementById("save-status");
  const panel = document.getElementById("ctx-panel");
  let sel = 1; // index into items(): 0 is the keyword, then src rows, then tgt rows
  let navigating = false;
  // done / skipped / remaining keywords and the undo / redo steps the server holds
  const prog = Object.assign({ done: data.done, skipped: 0, remaining: 0, undo: 0, redo: 0 }, data.progress);
  let skipped = !!data.skipped;
  const UNDOABLE = ["mark", "add", "remove", "skip"];

  /* ---------- saving: one ordered queue ---------- */
  const queue = [];
  let pumping = false;
  let lastError = "";

  function setStatus(kind, text) {
    statusEl.className = "status " + kind;
    statusEl.textContent = text;
  }

  function send(action, body) {
    return new Promise((resolve, reject) => {
      queue.push({ action, body, resolve, reject, tries: 0 });
      setStatus("saving", "Saving…");
      document.body.dataset.saving = "1";
      pump();
    });
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    let delay = 400;
    while (queue.length) {
      const item = queue[0];
      let r = null;
      try {
        r = await postJSON(data.urls.api + item.action, item.body);
      } catch (e) {
        r = null;
      }
      if (r === null || r.status >= 500 || r.status === 429 || (r.status === 403 && item.tries < 2)) {
        item.tries += 1;
        if (r && r.status === 403) {
          try { await refreshToken(data.urls.csrf); } catch (e) { /* retried below */ }
        } else {
          setStatus("error", "Not saved yet: no connection to the server, retrying…");
          await sleep(delay);
          delay = Math.min(delay * 2, 8000);
        }
        continue;
      }
      queue.shift();
      delay = 400;
      if (r.status >= 400) {
        lastError = (r.body && r.body.error) || ("error " + r.status);
        item.reject(new CLIME.ApiError(lastError, r.status));
      } else {
        lastError = "";
        if (UNDOABLE.includes(item.action)) { prog.undo += 1; prog.redo = 0; paintProgress(); }
        item.resolve(r.body);
      }
    }
    pumping = false;
    document.body.dataset.saving = "0"; // nothing in flight (the browser tests wait for this)
    if (lastError) setStatus("error", "Refused: " + lastError);
    else setStatus("saved", "All changes saved");
  }

  window.addEventListener("beforeunload", (e) => {
    if (queue.length && !navigating) { e.preventDefault(); e.returnValue = ""; }
  });
  // A page restored from the back/forward cache may show stale marks: reload it.
  window.addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });

  /* ---------- rows ---------- */
  function items() {
    return [{ keyword: true }].concat(rows.src.map((r) => ({ lang: "src", row: r })),
                                      rows.tgt.map((r) => ({ lang: "tgt", row: r })));
  }

  function renderRow(lang, row) {
    const li = el("li", "row");
    li.tabIndex = -1;
    row.el = li;
    const word = el("button", "word", row.word);
    word.type = "button";
    word.title = "show contexts (c)";
    word.addEventListener("click", () => { select(lang, row); showContexts(lang, row.word); });
    li.appendChild(word);
    if (row.added) li.appendChild(el("span", "tag", "added"));
    const marks = el("div", "marks");
    const pos = el("button", "m pos", "✓ similar");
    const neg = el("button", "m neg", "✗ not similar");
    pos.type = neg.type = "button";
    pos.addEventListener("click", () => { select(lang, row); toggle(lang, row, "pos"); });
    neg.addEventListener("click", () => { select(lang, row); toggle(lang, row, "neg"); });
    marks.appendChild(pos);
    marks.appendChild(neg);
    if (row.added) {
      const rm = el("button", "m rm", "remove");
      rm.type = "button";
      rm.title = "remove this added word (r)";
      rm.addEventListener("click", () => { select(lang, row); removeWord(lang, row); });
      marks.appendChild(rm);
    }
    li.appendChild(marks);
    li.addEventListener("click", (e) => { if (e.target === li) select(lang, row); });
    paintRow(row);
    return li;
  }

  function paintRow(row) {
    const li = row.el;
    li.classList.toggle("is-pos", row.mark === "pos");
    li.classList.toggle("is-neg", row.mark === "neg");
    li.dataset.mark = row.mark || "none";
    li.querySelector(".m.pos").setAttribute("aria-pressed", row.mark === "pos" ? "true" : "false");
    li.querySelector(".m.neg").setAttribute("aria-pressed", row.mark === "neg" ? "true" : "false");
  }

  function render() {
    for (const lang of LANGS) {
      const ul = document.getElementById("rows-" + lang);
      ul.replaceChildren();
      if (!rows[lang].length) ul.appendChild(el("li", "empty muted", "(no words)"));
      for (const row of rows[lang]) ul.appendChild(renderRow(lang, row));
    }
    paintSelection(false);
  }

  /* ---------- selection ---------- */
  function paintSelection(focus) {
    const its = items();
    if (sel >= its.length) sel = its.length - 1;
    if (sel < 0) sel = 0;
    document.querySelectorAll(".sel").forEach((n) => n.classList.remove("sel"));
    const it = its[sel];
    const node = it.keyword ? document.getElementById("keyword") : it.row.el;
    node.classList.add("sel");
    if (focus) {
      node.focus({ preventScroll: true });
      node.scrollIntoView({ block: "nearest" });
    }
  }

  function select(lang, row) {
    const its = items();
    const i = its.findIndex((it) => !it.keyword && it.lang === lang && it.row === row);
    if (i >= 0) { sel = i; paintSelection(false); }
  }

  function move(delta) {
    const n = items().length;
    sel = Math.max(0, Math.min(n - 1, sel + delta));
    paintSelection(true);
  }

  function switchColumn() {
    const it = items()[sel];
    const lang = it.keyword ? "src" : it.lang;
    const other = lang === "src" ? "tgt" : "src";
    if (!rows[other].length) return;
    const pos = it.keyword ? 0 : rows[lang].indexOf(it.row);
    const target = rows[other][Math.min(pos, rows[other].length - 1)];
    select(other, target);
    paintSelection(true);
  }

  function current() {
    const it = items()[sel];
    return it && !it.keyword ? it : null;
  }

  /* ---------- actions ---------- */
  function setMark(lang, row, mark) {
    if (row.mark === mark) return;
    const before = row.mark;
    row.mark = mark;
    paintRow(row);
    send("mark", { page: data.page, lang, word: row.word, mark }).catch(() => {
      row.mark = before;
      paintRow(row);
    });
  }

  function toggle(lang, row, mark) {
    setMark(lang, row, row.mark === mark ? null : mark);
  }

  async function removeWord(lang, row) {
    try {
      await send("remove", { page: data.page, lang, word: row.word });
    } catch (e) {
      return;
    }
    const i = rows[lang].indexOf(row);
    if (i >= 0) rows[lang].splice(i, 1);
    render();
    paintSelection(true);
  }

  async function addWord(lang, word, input, msg) {
    word = (word || "").trim();
    if (!word) return;
    const existing = rows[lang].find((r) => r.word === word);
    if (existing) {
      msg.textContent = "“" + word + "” is already in the list.";
      select(lang, existing);
      return;
    }
    msg.textContent = "Adding “" + word + "”…";
    try {
      await send("add", { page: data.page, lang, word });
    } catch (e) {
      msg.textContent = e.message;
      return;
    }
    const row = { word, mark: "pos", added: true };
    rows[lang].push(row);
    render();
    select(lang, row);
    input.value = "";
    msg.textContent = "Added “" + word + "” as similar.";
  }

  /* ---------- concordance panel ---------- */
  let ctxSeq = 0;
  async function showContexts(lang, word) {
    const my = ++ctxSeq;
    const list = document.getElementById("ctx-list");
    const note = document.getElementById("ctx-note");
    document.getElementById("ctx-word").textContent = word;
    document.getElementById("ctx-lang").textContent = data.langs[lang];
    note.textContent = "Loading…";
    list.replaceChildren();
    panel.hidden = false;
    document.body.classList.add("ctx-open");
    let js;
    try {
      js = await getJSON(data.urls.contexts + "?lang=" + lang + "&word=" + encodeURIComponent(word));
    } catch (e) {
      if (my === ctxSeq) note.textContent = "Could not load the contexts (" + e.message + ").";
      return;
    }
    if (my !== ctxSeq) return;
    if (!js.contexts.length) {
      note.textContent = "No contexts for this word in the documents.";
      return;
    }
    note.textContent = js.total > js.contexts.length
      ? "First " + js.contexts.length + " of " + js.total + " contexts." : js.total + " context(s).";
    for (const c of js.contexts) {
      const li = el("li", "ctxline");
      // readable text from the server, the separators around the word included
      li.appendChild(el("span", "left", c.left));
      li.appendChild(el("mark", "hl", c.word));
      li.appendChild(el("span", "right", c.right));
      list.appendChild(li);
    }
  }

  function closeContexts() {
    panel.hidden = true;
    document.body.classList.remove("ctx-open");
    ctxSeq++;
  }

  /* ---------- autocomplete ---------- */
  function setupAdd(lang) {
    const input = document.getElementById("add-" + lang);
    const list = document.getElementById("suggest-" + lang);
    const msg = document.getElementById("addmsg-" + lang);
    const btn = document.getElementById("addbtn-" + lang);
    let words = [];
    let active = -1;
    let timer = null;
    let seq = 0;

    function hide() {
      list.hidden = true;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      words = [];
      active = -1;
    }

    function draw() {
      list.replaceChildren();
      words.forEach((w, i) => {
        const li = el("li", i === active ? "opt active" : "opt", w);
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        li.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the box
        li.addEventListener("click", () => { hide(); addWord(lang, w, input, msg); });
        list.appendChild(li);
      });
      list.hidden = words.length === 0;
      input.setAttribute("aria-expanded", words.length ? "true" : "false");
    }

    async function fetchWords() {
      const q = input.value.trim();
      const my = ++seq;
      if (!q) { hide(); return; }
      let js;
      try {
        const added = rows[lang].filter((r) => r.added).map((r) => "&shown=" + encodeURIComponent(r.word));
        js = await getJSON(data.urls.complete + "?lang=" + lang + "&page=" + data.page + "&q=" +
                           encodeURIComponent(q) + added.join(""));
      } catch (e) {
        return;
      }
      if (my !== seq) return;
      const onPage = new Set(rows[lang].map((r) => r.word));
      if (lang === "src") onPage.add(data.keyword);
      words = (js.words || []).filter((w) => !onPage.has(w)); // never offer a word already shown
      active = words.length ? 0 : -1;
      draw();
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(fetchWords, 100);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" && words.length) {
        e.preventDefault(); active = (active + 1) % words.length; draw();
      } else if (e.key === "ArrowUp" && words.length) {
        e.preventDefault(); active = (active - 1 + words.length) % words.length; draw();
      } else if (e.key === "Enter") {
        e.preventDefault();
        const w = active >= 0 && words[active] ? words[active] : input.value;
        hide();
        addWord(lang, w, input, msg);
      } else if (e.key === "Escape") {
        e.preventDefault();
        hide();
        input.blur();
        paintSelection(true);
      }
    });
    input.addEventListener("blur", () => setTimeout(hide, 150));
    btn.addEventListener("click", () => { hide(); addWord(lang, input.value, input, msg); });
  }

  /* ---------- navigation ---------- */
  async function go(action, url) {
    if (navigating) return;
    navigating = true;
    document.querySelectorAll(".pager button").forEach((b) => { b.disabled = true; });
    try {
      const res = await send(action, { page: data.page });
      navigating = true;
      location.href = url || (res && res.url);
    } catch (e) {
      navigating = false;
      document.querySelectorAll(".pager button").forEach((b) => { b.disabled = false; });
      document.getElementById("back").disabled = data.page === 1;
    }
  }

  /* ---------- progress, finish confirmation ---------- */

  function paintProgress() {
    document.getElementById("undo").disabled = !prog.undo;
    document.getElementById("redo").disabled = !prog.redo;
    document.getElementById("undo-count").textContent = String(prog.undo);
    document.getElementById("redo-count").textContent = String(prog.redo);
    document.getElementById("skipped-note").hidden = !skipped;
  }

  function setProgress(p) {
    if (p) Object.assign(prog, p);
    paintProgress();
  }

  /* keywords that stay neither done nor skipped if the annotator finishes here (Finish
     counts this page as done) */
  function leftAfterFinish() {
    return Math.max(0, prog.remaining - (skipped || data.kwDone ? 0 : 1));
  }

  const dialog = document.getElementById("finish-dialog");
  function confirmFinish() {
    const left = leftAfterFinish();
    if (left <= 0 || typeof dialog.showModal !== "function") return Promise.resolve(true);
    document.getElementById("finish-text").textContent = left === 1
      ? "1 keyword is still neither done nor skipped. Finish anyway?"
      : left + " keywords are still neither done nor skipped. Finish anyway?";
    return new Promise((resolve) => {
      const yes = document.getElementById("finish-yes");
      const no = document.getElementById("finish-no");
      const done = (answer) => {
        yes.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        dialog.removeEventListener("cancel", onNo);
        dialog.close();
        resolve(answer);
      };
      const onYes = () => done(true);
      const onNo = (e) => { if (e) e.preventDefault(); done(false); };
      yes.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      dialog.addEventListener("cancel", onNo);
      dialog.showModal();
      no.focus();
    });
  }

  async function finishFlow() {
    if (navigating || dialog.open) return;
    if (await confirmFinish()) go("finish");
  }

  const next = () => (data.page < data.pages ? go("next", data.urls.page + (data.page + 1)) : finishFlow());
  const back = () => { if (data.page > 1) go("back", data.urls.page + (data.page - 1)); };
  const finish = () => finishFlow();

  async function skipKeyword() {
    if (navigating) return;
    let res;
    try {
      res = await send("skip", { page: data.page });
    } catch (e) {
      return;
    }
    skipped = true;
    setProgress(res.progress);
    if (res.next) {
      navigating = true;
      location.href = res.next;
    } else {
      finishFlow();
    }
  }

  /* ---------- undo / redo: server-side history, across words and pages ---------- */
  function applyChange(c) {
    if (c.page !== data.page) {
      if (c.url) { navigating = true; location.href = c.url; }
      return;
    }
    if (c.keyword_state !== undefined) {
      skipped = c.keyword_state === "skip";
      return;
    }
    const list = rows[c.lang];
    if (!list) return;
    let row = list.find((r) => r.word === c.word);
    if (!c.exists) {
      if (row && row.added) list.splice(list.indexOf(row), 1);
      else if (row) row.mark = null;
    } else if (!row) {
      row = { word: c.word, mark: c.mark, added: c.added };
      list.push(row);
    } else {
      row.mark = c.mark;
      row.added = c.added;
    }
    const keep = sel;
    render();
    sel = keep;
    if (row && list.includes(row)) select(c.lang, row);
    paintSelection(true);
  }

  async function history(action) {
    if (navigating) return;
    if (action === "undo" ? !prog.undo : !prog.redo) return;
    let res;
    try {
      res = await send(action, {});
    } catch (e) {
      return;
    }
    setProgress(res.progress);
    applyChange(res.changed);
    paintProgress();
  }

  /* ---------- comment: saved as the annotator types ---------- */
  const commentBox = document.getElementById("comment");
  const commentStatus = document.getElementById("comment-status");
  let commentSaved = commentBox.value.trim();
  let commentTimer = null;
  function saveComment() {
    clearTimeout(commentTimer);
    const text = commentBox.value.trim();
    if (text === commentSaved) return;
    commentSaved = text;
    commentStatus.textContent = "Saving…";
    send("comment", { page: data.page, text }).then(
      () => { commentStatus.textContent = text ? "Comment saved" : "Comment removed"; },
      (e) => { commentStatus.textContent = "Not saved: " + e.message; commentSaved = null; });
  }
  commentBox.addEventListener("input", () => {
    clearTimeout(commentTimer);
    commentTimer = setTimeout(saveComment, 600);
  });
  commentBox.addEventListener("blur", saveComment);
  commentBox.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); saveComment(); commentBox.blur(); paintSelection(true); }
  });
  window.addEventListener("pagehide", saveComment);
  document.getElementById("next").addEventListener("click", next);
  document.getElementById("back").addEventListener("click", back);
  document.getElementById("finish").addEventListener("click", finish);
  document.getElementById("skip").addEventListener("click", skipKeyword);
  document.getElementById("undo").addEventListener("click", () => history("undo"));
  document.getElementById("redo").addEventListener("click", () => history("redo"));
  document.getElementById("keyword").addEventListener("click", () => {
    sel = 0; paintSelection(false); showContexts("src", data.keyword);
  });
  document.getElementById("ctx-close").addEventListener("click", closeContexts);

  /* ---------- keyboard ---------- */
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    const inText = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !inText && (e.key === "z" || e.key === "Z" || e.key === "y")) {
      e.preventDefault(); // in a text box Ctrl+Z stays the box's own undo
      history(e.key === "y" || e.shiftKey ? "redo" : "undo");
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || dialog.open) return;
    if (inText) {
      return; // keys do nothing while a text box has focus (Esc is handled by the box)
    }
    const it = current();
    let handled = true;
    switch (e.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "h": case "l": case "ArrowLeft": case "ArrowRight": switchColumn(); break;
      case "a": case "1": if (it) toggle(it.lang, it.row, "pos"); break;
      case "x": case "2": if (it) toggle(it.lang, it.row, "neg"); break;
      case "u": case "Backspace": case "0": if (it) setMark(it.lang, it.row, null); break;
      case "r": case "Delete": if (it && it.row.added) removeWord(it.lang, it.row); break;
      case "c":
        if (it) showContexts(it.lang, it.row.word); else showContexts("src", data.keyword);
        break;
      case "/": case "+": document.getElementById("add-" + (it ? it.lang : "src")).focus(); break;
      case "n": next(); break;
      case "p": back(); break;
      case "f": finish(); break;
      case "s": skipKeyword(); break;
      case "Escape": closeContexts(); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  LANGS.forEach(setupAdd);
  paintProgress();
  render();
  if (!rows.src.length && !rows.tgt.length) sel = 0;
  paintSelection(true);
  send("view", { page: data.page }).catch(() => {});
})();
