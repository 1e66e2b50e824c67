// The dev chat page: a conversation with the plugins through the embedded simulator,
// cards rendered as DingTalk shows them, and a live log. Everything arrives over one
// EventSource (/events); messages and button presses go out as POSTs. Markdown comes
// rendered and sanitised by the server; everything else is set as text, never HTML.
"use strict";

const $ = (selector) => document.querySelector(selector);
const conversation = $("#conversation");
const log = $("#log");
const cards = new Map(); // card id -> { li, render(event) }
const nicks = new Map(); // staff id -> display name, for @ mentions

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value; // server-sanitised markdown only
    else if (key.startsWith("data-") || key.startsWith("aria-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
}

function scrollDown(list) {
  list.scrollTop = list.scrollHeight;
}

// One message: who and where above it, and an element with `data-role` ("user" or
// "bot") whose text is exactly the message's visible text.
function bubble(role, meta, ...content) {
  const li = el("li", { class: `msg ${role}` }, el("span", { class: "meta", "aria-hidden": "true" }, meta), el("div", { "data-role": role }, ...content));
  conversation.append(li);
  scrollDown(conversation);
  return li;
}

function where(group) {
  return group ? `group “${group}”` : "1:1";
}

// ---- the log panel ------------------------------------------------------------

function logEntry(kind, summary, detail) {
  const li = el("li", { class: kind }, el("details", {}, el("summary", { textContent: summary }), el("pre", { textContent: JSON.stringify(detail, null, 2) })));
  log.append(li);
  scrollDown(log);
}

// ---- rendering what the bot sends ---------------------------------------------

function mentions(at) {
  if (!at) return [];
  const out = (at.atUserIds || []).map((id) => el("span", { class: "mention", textContent: `@${nicks.get(id) || id} ` }));
  for (const mobile of at.atMobiles || []) out.push(el("span", { class: "mention", textContent: `@${mobile} ` }));
  if (at.isAtAll) out.push(el("span", { class: "mention", textContent: "@all " }));
  return out;
}

// A plugin chooses these URLs: only web and DingTalk links become links, so a
// `javascript:` URL can never run in this page.
function safeUrl(url) {
  return /^(https?|dingtalk):/i.test(String(url ?? "")) ? String(url) : "";
}

function linkButton(title, url) {
  return el("a", { class: "button", href: safeUrl(url), target: "_blank", rel: "noopener noreferrer", textContent: title });
}

function renderReply(ev) {
  const body = ev.body || {};
  switch (body.msgtype) {
    case "text":
      return [...mentions(body.at), el("span", { class: "plain", textContent: body.text?.content ?? "" })];
    case "markdown":
      return [...mentions(body.at), el("div", { class: "markdown", html: ev.html || "" })];
    case "actionCard": {
      const c = body.actionCard || {};
      const buttons = c.singleTitle
        ? [linkButton(c.singleTitle, c.singleURL)]
        : (c.btns || []).map((b) => linkButton(b.title, b.actionURL));
      return [el("div", { class: "card" }, el("h3", { textContent: c.title ?? "" }), el("div", { html: ev.html || "" }), el("div", { class: `buttons${c.btnOrientation === "1" ? " vertical" : ""}` }, buttons))];
    }
    case "link": {
      const l = body.link || {};
      return [el("div", { class: "card" }, el("h3", {}, el("a", { href: safeUrl(l.messageUrl), target: "_blank", rel: "noopener noreferrer", textContent: l.title ?? "" })), el("div", { textContent: l.text ?? "" }), l.picUrl ? el("span", { class: "image", textContent: `picture ${l.picUrl}` }) : null)];
    }
    case "feedCard":
      return [el("div", { class: "card feed" }, (body.feedCard?.links || []).map((l) => el("a", { href: safeUrl(l.messageURL), target: "_blank", rel: "noopener noreferrer", textContent: l.title ?? "" })))];
    default:
      return [el("pre", { textContent: JSON.stringify(body, null, 2) })];
  }
}

function pressButton(cardId, button) {
  fetch("/callback", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ cardId, actionId: button.id || "", params: button.params || {}, staffId: $("#staff").value, nick: $("#nick").value }),
  })
    .then((r) => r.json())
    .then((r) => {
      if (r.error) logEntry("error", `callback not delivered: ${r.error}`, r);
    });
}

function standardCard(id, card, html) {
  const parts = [];
  if (card.header?.title?.text) parts.push(el("h3", { textContent: card.header.title.text }));
  (card.contents || []).forEach((c, i) => {
    if (c.type === "text") parts.push(el("div", { class: "plain", textContent: c.text ?? "" }));
    else if (c.type === "markdown") parts.push(el("div", { html: html?.[i] ?? "" }));
    else if (c.type === "image") parts.push(el("span", { class: "image", textContent: `image ${c.image ?? ""}` }));
    else if (c.type === "action") {
      parts.push(el("div", { class: "buttons" }, (c.actions || []).map((a) => {
        const label = a.label?.text ?? a.id ?? "button";
        if (a.actionType === "openLink") return linkButton(label, a.url?.all ?? a.url ?? "#");
        return el("button", { type: "button", class: a.status === "primary" ? "primary" : "", textContent: label, onclick: () => pressButton(id, a) });
      })));
    }
  });
  return parts;
}

function instanceCard(entry) {
  const parts = [];
  const params = Object.entries(entry.params || {}).filter(([k]) => k !== "flowStatus");
  if (params.length) parts.push(el("div", { class: "params" }, params.map(([k, v]) => el("div", { textContent: `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}` }))));
  for (const [key, html] of Object.entries(entry.streams)) parts.push(el("div", { class: "markdown", "data-key": key, html }));
  parts.push(el("span", { class: "state", textContent: entry.state }));
  return parts;
}

function cardEvent(ev) {
  const id = ev.bizId;
  let entry = cards.get(id);
  const isInstance = ev.action.startsWith("instance.");
  if (!entry) {
    const box = el("div", { class: "card", "data-card-id": id });
    entry = { li: bubble("bot", `card ${id.slice(0, 12)}…`, box), box, params: {}, streams: {}, state: "" };
    cards.set(id, entry);
  }
  if (!isInstance) {
    entry.render = () => entry.box.replaceChildren(...standardCard(id, ev.card || {}, ev.html), ...answer(entry));
  } else {
    if (ev.action === "instance.stream") {
      const s = ev.card || {};
      entry.streams[s.key || "content"] = ev.html ?? "";
      entry.state = s.isError ? "failed" : s.isFinalize ? "finished" : "streaming…";
      entry.box.classList.toggle("failed", !!s.isError);
      entry.box.classList.toggle("finished", !!s.isFinalize && !s.isError);
    } else {
      const params = ev.card?.cardParamMap ?? ev.card?.cardData?.cardParamMap ?? ev.card ?? {};
      Object.assign(entry.params, typeof params === "object" ? params : {});
      if (!entry.state) entry.state = "shown";
    }
    entry.render = () => entry.box.replaceChildren(...instanceCard(entry), ...answer(entry));
  }
  entry.render();
  scrollDown(conversation);
}

// What the plugin answered to the last button press on a card (kept across updates,
// which may arrive after the answer).
function answer(entry) {
  if (!entry.answer) return [];
  return [el("div", { class: "params", "data-role": "callback-answer", textContent: entry.answer })];
}

function ackEvent(ev) {
  logEntry(ev.code === 200 ? "ack" : "error", `ACK ${ev.code} ${ev.messageId}${ev.message ? ` ${ev.message}` : ""}`, ev);
  if (!ev.cardId) return;
  const entry = cards.get(ev.cardId);
  let response;
  try {
    response = JSON.parse(ev.data || "{}").response;
  } catch {
    response = undefined;
  }
  const changed = { ...(response?.cardData?.cardParamMap || {}), ...(response?.userPrivateData?.cardParamMap || {}) };
  if (entry && Object.keys(changed).length) {
    entry.answer = Object.entries(changed).map(([k, v]) => `${k}: ${v}`).join(", ");
    entry.render();
  }
}

function onEvent(ev) {
  switch (ev.type) {
    case "user":
      if (ev.staffId) nicks.set(ev.staffId, ev.nick);
      bubble("user", `${ev.nick} · ${where(ev.group)}`, el("span", { class: "plain", textContent: ev.text }));
      logEntry("frame", `→ message ${ev.messageId} (${ev.kind})`, ev);
      break;
    case "reply":
      bubble("bot", `bot · ${where(ev.group)} · ${ev.body?.msgtype ?? "?"}`, ...renderReply(ev));
      logEntry("call", `reply ${ev.body?.msgtype ?? "?"} via session webhook`, ev.body);
      break;
    case "card":
      cardEvent(ev);
      logEntry("call", `card ${ev.action} ${ev.bizId}`, ev);
      break;
    case "ack":
      ackEvent(ev);
      break;
    case "frame":
      logEntry("frame", `→ ${ev.topic} ${ev.messageId}`, ev);
      break;
    case "log": {
      const f = ev.fields || {};
      const took = f.duration_us === undefined ? undefined : `${(f.duration_us / 1000).toFixed(2)} ms`;
      const what = [f.plugin, ev.text, f.capability, f.result, took, f.text].filter((x) => x !== undefined && x !== "").join(" ");
      logEntry(ev.level, `${ev.level} ${what}`, ev);
      break;
    }
    default:
      logEntry(ev.level === "error" || ev.type === "error" ? "error" : ev.level || "", ev.text || ev.type, ev);
  }
}

// ---- sending ------------------------------------------------------------------

function sender() {
  const group = $("#chat").value === "group";
  return { group, nick: $("#nick").value, staffId: $("#staff").value, admin: $("#admin").checked, atBot: $("#at-bot").checked };
}

function send(message) {
  return fetch("/send", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...sender(), ...message }) })
    .then((r) => r.json())
    .then((r) => {
      if (r.error) logEntry("error", `not delivered: ${r.error}`, r);
    });
}

function sendFile(file) {
  const kind = file.type.startsWith("image/") ? "picture" : "file";
  send({ kind, fileName: file.name, text: file.name });
}

$("#composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("#message");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  send({ kind: "text", text });
});

$("#file").addEventListener("change", (e) => {
  for (const file of e.target.files) sendFile(file);
  e.target.value = "";
});

conversation.addEventListener("dragover", (e) => {
  e.preventDefault();
  conversation.classList.add("dragging");
});
conversation.addEventListener("dragleave", () => conversation.classList.remove("dragging"));
conversation.addEventListener("drop", (e) => {
  e.preventDefault();
  conversation.classList.remove("dragging");
  for (const file of e.dataTransfer.files) sendFile(file);
});

// ---- the event stream -----------------------------------------------------------

const events = new EventSource("/events");
events.onopen = () => {
  $("#status").textContent = "live";
  $("#status").className = "live";
};
events.onerror = () => {
  $("#status").textContent = "reconnecting…";
  $("#status").className = "";
};
events.onmessage = (m) => onEvent(JSON.parse(m.data));
