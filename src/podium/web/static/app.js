// Podium web UI: one client of the JSON API (docs/web.md). No inline script (CSP: script-src 'self').
// Model output reaches the page only through renderMarkdown (marked -> DOMPurify) or textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  info: null, models: [], conversations: [], id: null, conv: null, source: null,
  running: false, liveBase: null, live: null, attachments: [], durations: {}, frame: 0, historyKey: "",
};

// ---------------------------------------------------------------- API

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
  const response = await fetch(path, init);
  let doc = null;
  try { doc = await response.json(); } catch (e) { doc = null; }
  if (response.status === 401) {
    throw new Error("This page's token is no longer valid (the server restarted?): open the URL podium serve printed.");
  }
  if (!response.ok) {
    const error = new Error((doc && doc.error) || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return doc;
}

function notice(text) {
  const el = $("notice");
  el.textContent = text;
  el.hidden = !text;
  if (text) setTimeout(() => { if (el.textContent === text) el.hidden = true; }, 8000);
}

async function guarded(fn) {
  try { return await fn(); } catch (e) { notice(e.message); return null; }
}

// ---------------------------------------------------------------- rendering helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

if (window.DOMPurify) {
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") { node.setAttribute("target", "_blank"); node.setAttribute("rel", "noopener noreferrer"); }
  });
}

function renderMarkdown(text, streaming) {
  const box = el("div", { class: "md" });
  const html = window.marked ? marked.parse(text, { gfm: true, breaks: false }) : null;
  if (html !== null && window.DOMPurify) {
    box.innerHTML = DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input"] });
  } else {
    box.textContent = text; // no sanitiser loaded: never HTML
  }
  for (const code of box.querySelectorAll("pre code")) {
    if (window.hljs && !streaming) { try { hljs.highlightElement(code); } catch (e) { /* plain */ } }
    const pre = code.parentElement;
    pre.append(el("button", { class: "copy", type: "button", text: "Copy", "aria-label": "Copy code",
      onclick: (ev) => copyText(code.textContent, ev.currentTarget) }));
  }
  if (streaming) box.classList.add("cursor");
  return box;
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    if (button) { const old = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = old; }, 1200); }
  } catch (e) { notice("Copying needs clipboard access; select the text instead."); }
}

function fmtTokens(n) { return n >= 10000 ? `${(n / 1000).toFixed(1)}k` : String(n || 0); }
function fmtCost(c) { return c === null || c === undefined ? "" : c < 0.01 ? `$${c.toFixed(4)}` : `$${c.toFixed(2)}`; }
function usageText(u) {
  if (!u) return "";
  const tokens = `${fmtTokens(u.input_tokens)} in · ${fmtTokens(u.output_tokens)} out`;
  const cost = fmtCost(u.cost);
  return cost ? `${tokens} · ${cost}` : tokens;
}

function mediaSrc(part) { return part.data ? `data:${part.media_type};base64,${part.data}` : null; }

// ---------------------------------------------------------------- messages

function resultsIndex(messages) {
  const results = {};
  for (const m of messages) if (m.role === "tool") for (const p of m.parts) if (p.type === "tool_result") results[p.call_id] = p;
  return results;
}

function toolBlock(call, result, duration, running, progress) {
  const status = result ? (result.is_error ? (result.interrupted ? "interrupted" : "error") : "done")
    : running ? `running…${progress ? " " + progress : ""}` : "waiting";
  const kind = result ? (result.is_error ? "error" : "ok") : "running";
  const time = duration !== undefined && duration !== null ? ` · ${duration < 1 ? Math.round(duration * 1000) + " ms" : duration.toFixed(1) + " s"}` : "";
  const details = el("details", { class: `tool ${kind}`, "data-call-id": call.id },
    el("summary", {}, el("span", { class: "tool-name", text: call.name }), el("span", { class: "status", text: status + time })));
  details.append(el("p", { class: "label", text: "arguments" }), el("pre", { text: JSON.stringify(call.args, null, 2) }));
  if (result) {
    const text = (result.content || []).filter((p) => p.type === "text").map((p) => p.text).join("");
    details.append(el("p", { class: "label", text: "result" }), el("pre", { text: text || "(no text)" }));
    const images = (result.content || []).filter((p) => p.type === "image" && p.data);
    if (images.length) details.append(el("div", { class: "tool-images" }, ...images.map((p) => el("img", { src: mediaSrc(p), alt: "tool output image" }))));
  }
  return details;
}

function userBlock(m) {
  const box = el("div", { class: "msg user", "data-id": m.id || null });
  const text = m.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
  if (text) box.append(document.createTextNode(text));
  for (const p of m.parts) {
    if (p.type === "image" && p.data) box.append(el("img", { src: mediaSrc(p), alt: "attached image" }));
    else if (p.type === "file") box.append(el("div", { class: "chip", text: `PDF · ${p.filename || p.media_type}` }));
  }
  return box;
}

function assistantBlock(m, results, options) {
  const box = el("div", { class: "msg assistant", "data-id": m.id || null });
  const streaming = options && options.streaming;
  let lastText = null;
  m.parts.forEach((p, i) => {
    if (p.type === "thinking" && (p.text || !streaming)) {
      box.append(el("details", { class: "thinking" }, el("summary", { text: streaming && i === m.parts.length - 1 ? "Thinking…" : "Thinking" }),
        el("div", { text: p.text || "(hidden by the provider)" })));
    } else if (p.type === "text") {
      lastText = p.text;
      box.append(renderMarkdown(p.text, streaming && i === m.parts.length - 1));
    } else if (p.type === "image" && p.data) {
      box.append(el("img", { class: "output-image", src: mediaSrc(p), alt: "image from the model" }));
    } else if (p.type === "tool_call") {
      const running = options && options.runningCalls && options.runningCalls.has(p.id);
      box.append(toolBlock(p, results[p.id], state.durations[p.id], running, options && options.progress && options.progress[p.id]));
    }
  });
  if (!streaming) {
    const meta = el("div", { class: "meta" });
    const u = m.usage ? { ...m.usage, cost: m.cost } : null;
    if (u) meta.append(el("span", { text: usageText(u), title: "tokens and cost of this answer" }));
    if (lastText) meta.append(el("button", { type: "button", text: "Copy", onclick: (ev) => copyText(lastText, ev.currentTarget) }));
    if (m.id) meta.append(el("button", { type: "button", text: "Fork from here", onclick: () => fork(m.id) }));
    box.append(meta);
  }
  return box;
}

function renderMessages(container, messages, extraResults, options) {
  container.replaceChildren();
  const results = { ...resultsIndex(messages), ...(extraResults || {}) };
  for (const m of messages) {
    if (m.role === "user") container.append(userBlock(m));
    else if (m.role === "assistant") container.append(assistantBlock(m, results, options && m.streaming ? { ...options, streaming: true } : options));
    else if (m.role === "tool") {
      // results are shown with their calls; a result whose call is not shown stands alone
      for (const p of m.parts) if (p.type === "tool_result" && !container.querySelector(`[data-call-id="${CSS.escape(p.call_id)}"]`)) {
        container.append(toolBlock({ id: p.call_id, name: p.name, args: {} }, p, state.durations[p.call_id], false));
      }
    }
  }
}

function renderHistory() {
  const conv = state.conv;
  const messages = conv ? conv.messages : [];
  const shown = state.liveBase === null ? messages : messages.slice(0, state.liveBase);
  // re-render only when what is shown changed (a turn's start must not re-highlight the whole history)
  const key = `${state.id}|${shown.map((m) => m.id).join(",")}|${Object.keys(state.durations).length}`;
  if (key !== state.historyKey) { state.historyKey = key; renderMessages($("history"), shown); }
  $("empty").hidden = messages.length > 0 || state.running;
  renderApprovals();
}

function renderLive() {
  state.frame = 0;
  const live = state.live;
  if (!live) { $("live").replaceChildren(); return; }
  renderMessages($("live"), live.messages, live.results, { runningCalls: live.running, progress: live.progress });
  for (const note of live.notes) $("live").append(el("p", { class: `note ${note.error ? "error" : ""}`, text: note.text }));
  scrollDown();
}

function scheduleLive() { if (!state.frame) state.frame = requestAnimationFrame(renderLive); }

function scrollDown() {
  const box = $("messages");
  if (box.scrollHeight - box.scrollTop - box.clientHeight < 240) box.scrollTop = box.scrollHeight;
}

function renderApprovals() {
  const box = $("approvals");
  box.replaceChildren();
  const pending = (state.conv && state.conv.pending) || [];
  for (const request of pending) {
    const call = request.call;
    const card = el("div", { class: "approval", role: "group", "aria-label": `Approve ${call.name}`, "data-call-id": call.id },
      el("h3", { text: `${request.agent ? request.agent + " wants" : "The agent wants"} to run ${call.name}` }),
      el("p", { class: "reason", text: request.reason || "The policy asks before this call." }),
      el("pre", { text: JSON.stringify(call.args, null, 2) }));
    const buttons = el("div", { class: "buttons" },
      el("button", { type: "button", class: "allow", text: "Allow", onclick: () => decide(call.id, "allow") }),
      el("button", { type: "button", class: "deny", text: "Deny", onclick: () => decide(call.id, "deny") }),
      el("button", { type: "button", class: "always", text: `Always allow ${call.name} here`, title: "Allow this call and, while the server runs, every call this rule asks about",
        onclick: () => decide(call.id, "always") }));
    card.append(buttons);
    box.append(card);
  }
  const first = box.querySelector("button.allow");
  if (first && document.activeElement === document.body) first.focus();
}

function renderHeader() {
  const conv = state.conv;
  $("title").textContent = (conv && conv.title) || "New conversation";
  document.title = conv && conv.title ? `${conv.title} · Podium` : "Podium";
  const u = conv && conv.usage;
  $("usage").textContent = u && (u.input_tokens || u.output_tokens) ? `Σ ${usageText(u)}${u.cost_complete === false && u.cost !== null ? "+" : ""}` : "";
  const select = $("model");
  const current = (conv && conv.model) || (state.info && state.info.default_model);
  const options = [...state.models];
  if (current && !options.some((m) => m.id === current)) options.push({ id: current, label: current });
  select.replaceChildren(...options.map((m) => el("option", { value: m.id, text: m.label, selected: m.id === current })));
  const busy = state.running;
  $("undo").disabled = busy || !conv || !conv.messages.length;
  $("redo").disabled = busy || !conv || !conv.can_redo;
  $("fork").disabled = !conv || !conv.messages.length;
  $("delete").disabled = busy || !conv;
  $("stop").hidden = !busy;
  $("send").textContent = busy ? "Send now" : "Send";
  $("send").title = busy ? "Add this to the running turn: the model sees it next" : "Send (Enter)";
}

function renderList() {
  const list = $("conversations");
  list.replaceChildren(...state.conversations.map((c) => el("li", {},
    el("button", { type: "button", "aria-current": c.id === state.id ? "page" : null, onclick: () => { openConversation(c.id); closeSidebar(); } },
      el("span", { class: "conv-title", text: c.title || "Untitled" }),
      el("span", { class: "conv-preview", text: (c.preview || `${c.messages} messages`).replace(/[*`]+/g, "") })))));
  if (!state.conversations.length) list.append(el("li", { class: "workspace", text: $("search").value ? "No conversation matches." : "No conversations yet." }));
}

// ---------------------------------------------------------------- conversations

async function loadList() {
  const q = $("search").value.trim();
  const doc = await guarded(() => api("GET", `/api/conversations${q ? `?q=${encodeURIComponent(q)}` : ""}`));
  if (doc) { state.conversations = doc.conversations; renderList(); }
}

async function loadConversation() {
  if (!state.id) return;
  const conv = await guarded(() => api("GET", `/api/conversations/${state.id}`));
  if (!conv || conv.id !== state.id) return;
  state.conv = conv;
  Object.assign(state.durations, conv.durations || {});
  if (!conv.running && state.running) { state.running = false; state.live = null; state.liveBase = null; renderLive(); }
  state.running = conv.running || state.running;
  renderHeader();
  renderHistory();
}

function connect() {
  if (state.source) state.source.close();
  const id = state.id;
  const source = new EventSource(`/api/conversations/${id}/events`);
  state.source = source;
  source.onmessage = (message) => { if (state.id === id) onEvent(JSON.parse(message.data)); };
  source.onopen = () => { loadConversation(); };
  source.onerror = () => { // the browser retries by itself; say why if the token is refused now
    if (state.source === source) guarded(() => api("GET", "/api/info"));
  };
}

async function openConversation(id, push = true) {
  state.id = id; state.conv = null; state.live = null; state.liveBase = null; state.running = false;
  $("history").replaceChildren(); $("live").replaceChildren(); $("approvals").replaceChildren(); state.historyKey = "";
  if (push && location.pathname !== `/c/${id}`) history.pushState({ id }, "", `/c/${id}`);
  renderList();
  connect();
  await loadConversation();
  $("prompt").focus();
}

async function newConversation() {
  const conv = await guarded(() => api("POST", "/api/conversations", {}));
  if (conv) { await openConversation(conv.id); loadList(); }
  return conv;
}

async function fork(upTo) {
  if (!state.id) return;
  const conv = await guarded(() => api("POST", `/api/conversations/${state.id}/fork`, upTo ? { up_to: upTo } : {}));
  if (conv) { await openConversation(conv.id); loadList(); }
}

async function undoRedo(which) {
  if (!state.id) return;
  const doc = await guarded(() => api("POST", `/api/conversations/${state.id}/${which}`));
  if (doc) { await loadConversation(); loadList(); }
}

async function removeConversation() {
  if (!state.id || !confirm("Delete this conversation? This cannot be undone.")) return;
  const doc = await guarded(() => api("DELETE", `/api/conversations/${state.id}`));
  if (!doc) return;
  if (state.source) state.source.close();
  state.id = null; state.conv = null;
  history.pushState({}, "", "/");
  await loadList();
  if (state.conversations.length) await openConversation(state.conversations[0].id);
  else { renderHeader(); renderHistory(); }
}

function startRename() {
  if (!state.conv) return;
  const input = $("title-input");
  input.value = state.conv.title || "";
  $("title").hidden = true; input.hidden = false; input.focus(); input.select();
}

async function finishRename(save) {
  const input = $("title-input");
  if (input.hidden) return;
  input.hidden = true; $("title").hidden = false;
  if (save && input.value.trim() && state.conv && input.value !== state.conv.title) {
    const doc = await guarded(() => api("PATCH", `/api/conversations/${state.id}`, { title: input.value.trim() }));
    if (doc) { state.conv.title = doc.title; renderHeader(); loadList(); }
  }
  $("title").focus();
}

async function changeModel() {
  const model = $("model").value;
  if (!state.id) return;
  const doc = await guarded(() => api("PATCH", `/api/conversations/${state.id}`, { model }));
  if (doc && state.conv) state.conv.model = doc.model;
  renderHeader();
}

// ---------------------------------------------------------------- turns

async function send() {
  const text = $("prompt").value;
  if (!text.trim() && !state.attachments.length) return;
  if (!state.id && !(await newConversation())) return;
  const body = { text, attachments: state.attachments.map(({ media_type, data, name }) => ({ media_type, data, name })) };
  $("send").disabled = true;
  const doc = await guarded(() => api("POST", `/api/conversations/${state.id}/messages`, body));
  $("send").disabled = false;
  if (!doc) return;
  $("prompt").value = ""; autosize();
  state.attachments = []; renderAttachments();
  if (doc.status === "started") state.running = true;
  renderHeader();
  $("empty").hidden = true;
}

async function stop() {
  if (!state.id || !state.running) return;
  await guarded(() => api("POST", `/api/conversations/${state.id}/stop`));
}

async function decide(callId, decision) {
  for (const b of document.querySelectorAll(`.approval[data-call-id="${CSS.escape(callId)}"] button`)) b.disabled = true;
  const doc = await guarded(() => api("POST", `/api/conversations/${state.id}/approvals`, { decisions: { [callId]: decision } }));
  if (!doc) { renderApprovals(); return; }
  const card = document.querySelector(`.approval[data-call-id="${CSS.escape(callId)}"]`);
  if (card) card.querySelector(".buttons").replaceWith(el("p", { class: "decided", text: decision === "deny" ? "Denied." : "Allowed." }));
  if (doc.status === "resumed") { state.running = true; state.conv.pending = []; renderHeader(); $("prompt").focus(); }
}

function onEvent(ev) {
  if (ev.kind === "server_stopping") { notice("The server stopped."); state.source && state.source.close(); return; }
  if (ev.agent && ev.kind !== "approval_requested") return; // sub-agents' inner events: shown through their call
  const live = state.live;
  switch (ev.kind) {
    case "turn_started":
      state.running = true; state.liveBase = ev.base;
      state.live = { messages: [], results: {}, running: new Set(), notes: [], progress: {} };
      $("approvals").replaceChildren(); $("empty").hidden = true;
      renderHistory(); renderHeader(); break;
    case "model_request_started":
      if (!live) break;
      live.messages.push(...ev.appended);
      live.messages.push({ role: "assistant", parts: [], streaming: true });
      break;
    case "text_delta":
    case "thinking_delta": {
      if (!live) break;
      const m = live.messages[live.messages.length - 1];
      if (!m || !m.streaming) break;
      const type = ev.kind === "text_delta" ? "text" : "thinking";
      const last = m.parts[m.parts.length - 1];
      if (last && last.type === type) last.text += ev.text; else m.parts.push({ type, text: ev.text });
      break;
    }
    case "message_delivered": break; // shown with the next request's appended messages
    case "model_response_finished":
      if (!live) break;
      if (live.messages.length && live.messages[live.messages.length - 1].streaming) live.messages.pop();
      live.messages.push({ ...ev.message, cost: ev.usage.cost });
      break;
    case "tool_call_started": if (live) live.running.add(ev.call.id); break;
    case "tool_call_progress":
      if (live) {
        const share = ev.total ? `${Math.round((100 * ev.progress) / ev.total)}%` : "";
        live.progress[ev.call.id] = [share, ev.message || ""].filter(Boolean).join(" · ");
      }
      break;
    case "tool_call_finished":
      if (live) { live.running.delete(ev.call.id); live.results[ev.call.id] = ev.result; }
      state.durations[ev.call.id] = ev.duration; break;
    case "approval_decided":
      if (live && ev.source === "policy" && ev.decision === "deny") live.notes.push({ text: `${ev.call.name} was refused by the policy.` });
      break;
    case "run_paused":
      if (state.conv) state.conv.pending = ev.pending;
      renderApprovals(); break;
    case "turn_ended": {
      if (live && live.messages.length && live.messages[live.messages.length - 1].streaming) live.messages.pop();
      if (ev.status === "cancelled") notice("Stopped. The conversation is kept.");
      else if (ev.status === "error") notice(ev.error);
      if (ev.undelivered && ev.undelivered.length) notice(`Not sent (the turn stopped first): ${ev.undelivered.join(" / ")}`);
      state.running = false;
      loadConversation().then(() => { state.live = null; state.liveBase = null; renderHistory(); renderLive(); renderHeader(); loadList(); });
      return;
    }
    default: break;
  }
  scheduleLive();
}

// ---------------------------------------------------------------- attachments

function addFiles(files) {
  const limit = state.info ? state.info.limits.upload_bytes : 10 * 1024 * 1024;
  const types = state.info ? state.info.attachment_types : [];
  for (const file of files) {
    if (types.length && !types.includes(file.type)) { notice(`${file.name}: only images (PNG, JPEG, GIF, WebP) and PDFs can be attached.`); continue; }
    if (file.size > limit) { notice(`${file.name} is larger than ${Math.round(limit / 1048576)} MiB.`); continue; }
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      state.attachments.push({ media_type: file.type, data: url.slice(url.indexOf(",") + 1), name: file.name || "pasted image", url });
      renderAttachments();
    };
    reader.readAsDataURL(file);
  }
}

function renderAttachments() {
  $("attachments").replaceChildren(...state.attachments.map((a, i) => el("span", { class: "chip" },
    a.media_type.startsWith("image/") ? el("img", { src: a.url, alt: "" }) : el("span", { class: "pdf", text: "PDF" }),
    el("span", { text: a.name }),
    el("button", { type: "button", "aria-label": `Remove ${a.name}`, text: "✕", onclick: () => { state.attachments.splice(i, 1); renderAttachments(); } }))));
}

// ---------------------------------------------------------------- files

async function openFiles(path = "") {
  const dialog = $("files-dialog");
  if (!dialog.open) dialog.showModal();
  const doc = await guarded(() => api("GET", `/api/files?path=${encodeURIComponent(path)}`));
  if (!doc) return;
  const parts = doc.path ? doc.path.split("/") : [];
  $("crumbs").replaceChildren(el("button", { type: "button", text: "workspace", onclick: () => openFiles("") }),
    ...parts.map((p, i) => el("button", { type: "button", text: `/ ${p}`, onclick: () => openFiles(parts.slice(0, i + 1).join("/")) })));
  const join = (name) => (doc.path ? `${doc.path}/${name}` : name);
  $("file-list").replaceChildren(...doc.entries.map((e) => el("li", {}, e.kind === "dir"
    ? el("button", { type: "button", class: "dir", text: `${e.name}/`, onclick: () => openFiles(join(e.name)) })
    : e.kind === "file" ? el("button", { type: "button", class: "file", text: e.name, onclick: () => viewFile(join(e.name)) })
      : el("span", { class: "link", text: `${e.name} (${e.kind === "link" ? "symbolic link, not followed" : e.kind})` }))));
  $("file-view").replaceChildren(el("p", { class: "hint", text: doc.entries.length ? "Choose a file to read it." : "This folder is empty." }));
  const first = $("file-list").querySelector("button");
  if (first) first.focus();
}

async function viewFile(path) {
  const doc = await guarded(() => api("GET", `/api/files?kind=file&path=${encodeURIComponent(path)}`));
  if (!doc) return;
  const view = $("file-view");
  if (doc.kind === "image") view.replaceChildren(el("img", { src: `data:${doc.media_type};base64,${doc.data}`, alt: path }));
  else if (doc.kind === "binary") view.replaceChildren(el("p", { class: "hint", text: `${path}: a binary file (${doc.size} bytes).` }));
  else {
    const code = el("code", { text: doc.text });
    const ext = path.includes(".") ? path.split(".").pop().toLowerCase() : "";
    if (window.hljs && ext && hljs.getLanguage(ext)) { code.className = `language-${ext}`; try { hljs.highlightElement(code); } catch (e) { /* plain */ } }
    view.replaceChildren(el("pre", {}, code));
    if (doc.truncated) view.append(el("p", { class: "hint", text: "Only the first MiB is shown." }));
  }
}

// ---------------------------------------------------------------- layout and keys

function autosize() { const t = $("prompt"); t.style.height = "auto"; t.style.height = `${Math.min(t.scrollHeight, window.innerHeight * 0.4)}px`; }
function openSidebar() { $("sidebar").classList.add("open"); $("scrim").hidden = false; $("menu").setAttribute("aria-expanded", "true"); $("search").focus(); }
function closeSidebar() { $("sidebar").classList.remove("open"); $("scrim").hidden = true; $("menu").setAttribute("aria-expanded", "false"); }

function bind() {
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  $("prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });
  $("prompt").addEventListener("input", autosize);
  $("prompt").addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData ? ev.clipboardData.files : [])];
    if (files.length) { ev.preventDefault(); addFiles(files); }
  });
  $("composer").addEventListener("dragover", (ev) => ev.preventDefault());
  $("composer").addEventListener("drop", (ev) => { ev.preventDefault(); addFiles([...ev.dataTransfer.files]); });
  $("attach").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (ev) => { addFiles([...ev.target.files]); ev.target.value = ""; });
  $("stop").addEventListener("click", stop);
  $("new-chat").addEventListener("click", () => { newConversation(); closeSidebar(); });
  let timer = 0;
  $("search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(loadList, 200); });
  $("title").addEventListener("click", startRename);
  $("title-input").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); finishRename(true); }
    if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); finishRename(false); }
  });
  $("title-input").addEventListener("blur", () => finishRename(true));
  $("model").addEventListener("change", changeModel);
  $("undo").addEventListener("click", () => undoRedo("undo"));
  $("redo").addEventListener("click", () => undoRedo("redo"));
  $("fork").addEventListener("click", () => fork(null));
  $("delete").addEventListener("click", removeConversation);
  $("files").addEventListener("click", () => openFiles(""));
  $("files-close").addEventListener("click", () => $("files-dialog").close());
  $("menu").addEventListener("click", openSidebar);
  $("scrim").addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("files-dialog").open) {
      if ($("sidebar").classList.contains("open")) { closeSidebar(); return; }
      if (state.running) { ev.preventDefault(); stop(); }
    }
    if (ev.altKey && (ev.key === "n" || ev.key === "N")) { ev.preventDefault(); newConversation(); }
  });
  window.addEventListener("popstate", () => { const id = idFromPath(); if (id) openConversation(id, false); });
}

function idFromPath() { const m = location.pathname.match(/^\/c\/([0-9a-f]+)$/); return m ? m[1] : null; }

async function start() {
  bind();
  const [info, models] = await Promise.all([guarded(() => api("GET", "/api/info")), guarded(() => api("GET", "/api/models"))]);
  state.info = info; state.models = models ? models.models : [];
  if (info) {
    const name = info.workspace.split("/").filter(Boolean).pop() || info.workspace;
    $("workspace").textContent = `Workspace: ${name}${info.tools ? " (tools on)" : ""}`;
    $("workspace").title = info.workspace;
    if (info.notes && info.notes.length) notice(info.notes.join(" "));
  }
  await loadList();
  const id = idFromPath() || (state.conversations[0] && state.conversations[0].id);
  if (id) await openConversation(id, false);
  else renderHeader();
  $("prompt").focus();
}

document.addEventListener("DOMContentLoaded", start);
