/* CLIME annotation app: what every page shares. Never uses innerHTML: data are untrusted. */
"use strict";
window.CLIME = (function () {
  let token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function refreshToken(url) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (r.ok) { const js = await r.json(); if (js && js.token) token = js.token; }
  }

  /* POST a JSON body; resolves to {status, body}; rejects only on network failure. */
  async function postJSON(url, body) {
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body || {}),
    });
    let js = null;
    try { js = await r.json(); } catch (e) { js = null; }
    return { status: r.status, body: js };
  }

  async function getJSON(url) {
    const r = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    let js = null;
    try { js = await r.json(); } catch (e) { js = null; }
    if (!r.ok) throw new ApiError((js && js.error) || ("error " + r.status), r.status);
    return js;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

  return { ApiError, refreshToken, postJSON, getJSON, el, sleep };
})();
