// The pages' only script (served at /static/app.js, allowed by the pages' policy). The page
// works without it; it adds the browser's time zone, keyboard movement in the grid, who is
// free in a group, live refresh from the event stream, and the owner's edit mode.
"use strict";
(function () {
  const body = document.body;
  const kind = body.dataset.kind;
  if (kind !== "calendar" && kind !== "group") return;
  const id = body.dataset.id;
  const base = "/" + kind + "s/" + encodeURIComponent(id);
  const live = document.getElementById("live");
  const say = (text) => { if (live) live.textContent = text; };

  // The browser's zone, unless the address names one.
  const params = new URLSearchParams(location.search);
  let browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { }
  if (!params.get("tz") && body.dataset.tzGiven === "0" && browserZone &&
      browserZone !== body.dataset.tz) {
    params.set("tz", browserZone);
    location.replace("?" + params.toString());
    return;
  }

  const TIMES = [];
  for (let h = 0; h < 48; h++) {
    TIMES.push(String(Math.floor(h / 2)).padStart(2, "0") + (h % 2 ? ":30" : ":00"));
  }
  const GLYPH = { available: "\u2713", maybe: "?", unavailable: "\u2013" };

  const grid = () => document.getElementById("grid");
  const cellAt = (slot) => grid().querySelector('td[data-slot="' + slot + '"]');

  // Keyboard: one cell in the tab order, arrows move within the grid.
  let focusSlot = 0;
  function prepareGrid() {
    const cells = grid().querySelectorAll("td[data-slot]");
    const now = grid().querySelector("td.now");
    if (now && focusSlot === 0) focusSlot = Number(now.dataset.slot);
    cells.forEach((td) => {
      td.tabIndex = Number(td.dataset.slot) === focusSlot ? 0 : -1;
      const day = Math.floor(Number(td.dataset.slot) / 48);
      const th = grid().querySelectorAll("thead th")[day + 1];
      const booked = td.dataset.booked !== undefined;
      const label = (th ? th.textContent : "") + " " + TIMES[Number(td.dataset.slot) % 48] +
        ": " + (td.dataset.available !== undefined ?
          td.dataset.available + " available, everyone " + td.dataset.status +
            (booked ? ", a member is booked" : "") :
          td.dataset.status + (booked ? ", booked" : ""));
      td.setAttribute("aria-label", label);
      td.title = label;
    });
  }
  function moveTo(slot) {
    const from = cellAt(focusSlot);
    const to = cellAt(slot);
    if (!to) return;
    if (from) from.tabIndex = -1;
    to.tabIndex = 0;
    to.focus();
    focusSlot = slot;
  }
  document.addEventListener("keydown", (e) => {
    const td = e.target.closest && e.target.closest("td[data-slot]");
    if (!td) return;
    const slot = Number(td.dataset.slot);
    const moves = { ArrowUp: -1, ArrowDown: 1, ArrowLeft: -48, ArrowRight: 48 };
    if (e.key in moves) {
      const next = slot + moves[e.key];
      if (next >= 0 && next < 336 && (Math.abs(moves[e.key]) === 48 ||
          Math.floor(next / 48) === Math.floor(slot / 48))) moveTo(next);
      e.preventDefault();
    } else if ((e.key === " " || e.key === "Enter") && editing) {
      paint(td);
      e.preventDefault();
    }
  });

  // Groups: who is free in the slot under the pointer or the focus.
  const membersBlock = document.getElementById("members");
  const members = membersBlock ? JSON.parse(membersBlock.textContent) : null;
  function showWho(td) {
    const who = document.getElementById("who");
    if (!who || !members) return;
    const slot = Number(td.dataset.slot);
    const digit = Math.floor(slot / 4), bit = 3 - (slot % 4);
    const free = members.ids.filter((_, i) =>
      (parseInt(members.free[i][digit], 16) >> bit) & 1);
    who.textContent = TIMES[slot % 48] + ", " +
      (grid().querySelectorAll("thead th")[Math.floor(slot / 48) + 1] || {}).textContent +
      ": " + (free.length ? "free: " + free.join(", ") : "nobody is free");
  }
  if (members) {
    document.addEventListener("focusin", (e) => {
      const td = e.target.closest && e.target.closest("td[data-slot]");
      if (td) showWho(td);
    });
    document.addEventListener("mouseover", (e) => {
      const td = e.target.closest && e.target.closest("td[data-slot]");
      if (td) showWho(td);
    });
  }

  // Live refresh: the event stream says when the week changed; the page fetches itself again
  // and swaps in the new grid.
  let pending = {};
  let refreshing = false;
  async function refresh(reason) {
    if (refreshing) return;
    refreshing = true;
    try {
      const answer = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-cache" });
      if (!answer.ok) { say("Could not refresh the week (" + answer.status + ")."); return; }
      const fresh = new DOMParser().parseFromString(await answer.text(), "text/html");
      const newGrid = fresh.getElementById("grid");
      if (!newGrid) return;
      grid().replaceWith(document.importNode(newGrid, true));
      for (const key of ["version", "etag"]) body.dataset[key] = fresh.body.dataset[key];
      const newMembers = fresh.getElementById("members");
      if (newMembers && members) Object.assign(members, JSON.parse(newMembers.textContent));
      pending = {};
      prepareGrid();
      say(reason + " (version " + body.dataset.version + ").");
    } catch (e) {
      say("Could not refresh the week.");
    } finally {
      refreshing = false;
    }
  }
  if (window.EventSource) {
    const events = new EventSource(base + "/events");
    events.addEventListener("open", () => { body.dataset.live = "open"; });
    events.addEventListener("error", () => { body.dataset.live = "reconnecting"; });
    events.addEventListener("gone", () => {
      events.close();
      body.dataset.live = "gone";
      say("This " + kind + " no longer exists.");
    });
    events.addEventListener("version", (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      if (data.etag === body.dataset.etag) return;
      if (Object.keys(pending).length) {
        say("Someone else changed this week; saving your edits will show it.");
        return;
      }
      refresh("Updated live");
    });
  }

  // Edit mode (calendars): the owner's key stays in this tab's sessionStorage only.
  let editing = false;
  let painting = false;
  const keyName = "availability-key:" + id;
  const flagName = "availability-edit";
  const editSection = document.getElementById("edit");
  const openButton = document.getElementById("edit-open");
  function brush() {
    const checked = document.querySelector('input[name="brush"]:checked');
    return checked ? checked.value : "available";
  }
  function paint(td) {
    if (!editing) return;
    const status = brush();
    td.dataset.status = status;
    td.textContent = GLYPH[status];
    td.classList.add("edited");
    pending[td.dataset.slot] = status;
    say(Object.keys(pending).length + " slot(s) changed, not saved yet.");
  }
  function startEditing() {
    editing = true;
    body.classList.add("editing");
    editSection.hidden = false;
    document.getElementById("key-form").hidden = true;
    document.getElementById("brush").hidden = false;
    say("Editing: paint slots with the mouse, a finger, or Space on a focused slot; then Save.");
  }
  function stopEditing() {
    editing = false;
    body.classList.remove("editing");
    document.getElementById("brush").hidden = true;
    document.getElementById("key-form").hidden = false;
    editSection.hidden = true;
    sessionStorage.removeItem(flagName);
    if (Object.keys(pending).length) refresh("Edits dropped");
  }
  async function save() {
    const slots = Object.keys(pending);
    if (!slots.length) { say("Nothing to save."); return; }
    const updates = slots.map((s) => ({
      day: Math.floor(Number(s) / 48), time: TIMES[Number(s) % 48], status: pending[s],
    }));
    let answer;
    try {
      answer = await fetch(base + "/availability", {
        method: "PATCH",
        headers: {
          "Content-Type": "application/json",
          "Authorization": "Bearer " + sessionStorage.getItem(keyName),
          "If-Match": body.dataset.etag,
        },
        body: JSON.stringify({ updates }),
      });
    } catch (e) {
      say("Saving failed: " + e);
      return;
    }
    if (answer.status === 412) {
      pending = {};
      await refresh("Someone else changed this week meanwhile; it was reloaded, paint again");
      return;
    }
    if (answer.status === 401 || answer.status === 403) {
      sessionStorage.removeItem(keyName);
      say("The key was refused; paste it again.");
      stopEditing();
      return;
    }
    if (!answer.ok) {
      let detail = "";
      try { detail = (await answer.json()).detail || ""; } catch (e) { }
      say("Saving failed (" + answer.status + "): " + detail);
      return;
    }
    const result = await answer.json();
    body.dataset.version = String(result.version);
    body.dataset.etag = answer.headers.get("ETag") || body.dataset.etag;
    pending = {};
    grid().querySelectorAll("td.edited").forEach((td) => td.classList.remove("edited"));
    say("Saved (version " + result.version + ").");
  }
  if (kind === "calendar" && editSection && openButton) {
    openButton.hidden = false;
    openButton.addEventListener("click", () => {
      editSection.hidden = false;
      if (sessionStorage.getItem(keyName)) {
        document.getElementById("key").value = sessionStorage.getItem(keyName);
      }
      document.getElementById("key").focus();
    });
    document.getElementById("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = document.getElementById("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(keyName, key);
      document.getElementById("key").value = "";
      if (body.dataset.tz !== body.dataset.ownerTz) {
        // The week is edited as its owner wrote it: in the owner's zone.
        sessionStorage.setItem(flagName, id);
        const to = new URLSearchParams(location.search);
        to.set("tz", body.dataset.ownerTz);
        location.assign("?" + to.toString());
        return;
      }
      startEditing();
    });
    document.getElementById("save").addEventListener("click", save);
    document.getElementById("cancel").addEventListener("click", stopEditing);
    if (sessionStorage.getItem(flagName) === id && sessionStorage.getItem(keyName) &&
        body.dataset.tz === body.dataset.ownerTz) startEditing();
    document.addEventListener("pointerdown", (e) => {
      const td = editing && e.target.closest && e.target.closest("td[data-slot]");
      if (!td) return;
      painting = true;
      if (td.hasPointerCapture && td.hasPointerCapture(e.pointerId)) {
        td.releasePointerCapture(e.pointerId);
      }
      paint(td);
      e.preventDefault();
    });
    document.addEventListener("pointermove", (e) => {
      if (!painting) return;
      const under = document.elementFromPoint(e.clientX, e.clientY);
      const td = under && under.closest && under.closest("td[data-slot]");
      if (td && pending[td.dataset.slot] !== brush()) paint(td);
    });
    const stop = () => { painting = false; };
    document.addEventListener("pointerup", stop);
    document.addEventListener("pointercancel", stop);
  }

  prepareGrid();
})();

// The booking page: each start is a button that books it, with the key pasted into this tab
// (sessionStorage only) unless the calendar takes bookings from anyone.
(function () {
  const body = document.body;
  if (body.dataset.kind !== "book") return;
  const id = body.dataset.id;
  const live = document.getElementById("live");
  const say = (text) => { if (live) live.textContent = text; };
  const keyName = "availability-key:" + id;

  // The browser's zone, unless the address names one.
  const params = new URLSearchParams(location.search);
  let browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { }
  if (!params.get("tz") && body.dataset.tzGiven === "0" && browserZone &&
      browserZone !== body.dataset.tz) {
    params.set("tz", browserZone);
    location.replace("?" + params.toString());
    return;
  }

  const form = document.getElementById("book-key-form");
  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const input = document.getElementById("book-key");
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(keyName, key);
      input.value = "";
      say("Bookings from this tab will use the key.");
    });
  }

  document.addEventListener("click", async (e) => {
    const button = e.target.closest && e.target.closest("button[data-start]");
    if (!button || button.disabled) return;
    const headers = { "Content-Type": "application/json" };
    const key = sessionStorage.getItem(keyName);
    if (key) {
      headers.Authorization = "Bearer " + key;
    } else if (body.dataset.public !== "1") {
      say("Paste a key first: this calendar takes bookings with a key.");
      document.getElementById("book-key").focus();
      return;
    }
    const request = { type: body.dataset.type, start: button.dataset.start };
    const label = document.getElementById("book-label").value.trim();
    if (label) request.label = label;
    button.disabled = true;
    let answer;
    try {
      answer = await fetch("/calendars/" + encodeURIComponent(id) + "/bookings", {
        method: "POST", headers, body: JSON.stringify(request),
      });
    } catch (err) {
      button.disabled = false;
      say("Booking failed: " + err);
      return;
    }
    let result = {};
    try { result = await answer.json(); } catch (err) { }
    if (answer.status === 201) {
      button.classList.add("booked");
      button.textContent += " \u2713";
      say("Booked " + button.dataset.start + " (booking " + result.id + ").");
      return;
    }
    if (answer.status === 401 || answer.status === 403) {
      sessionStorage.removeItem(keyName);
      button.disabled = false;
      say("The key was refused; paste it again.");
      return;
    }
    // A start another booking took since the page was made stays disabled.
    if (answer.status !== 409) button.disabled = false;
    say("Not booked (" + answer.status + "): " + (result.detail || ""));
  });
  body.dataset.ready = "1";
})();
