// orderpass kitchen display: a board that never misses an order, never drops a tap, and never
// lies about either.
//
// The page arrives with its tickets and the sequence number it was rendered at. A small
// graphql-transport-ws client subscribes to orderChanges `since` the last sequence applied, on
// every (re)connect, so each change is applied exactly once across dropped sockets, sleeping
// tablets and server restarts. A change only says which order changed: the board fetches that
// ticket's HTML (the same partial the page was rendered with) and puts it in place. The indicator
// says "live" only while the server's pings arrive; while it is not, a banner says so across the
// screen and the board dims, and every tap waits in a queue (kds-taps.js) to be sent once it is.
//
// A station's screen (`?station=grill`) is the same board: it passes its station with every
// fetch, and bumps through bumpStation (a tapped item, or the station's whole part of a ticket)
// and bringBackStation, where the other screens move the order with moveOrder. The ready board
// (`/kds/ready`) hands an order over with a tap and a second tap to confirm. Every screen also
// subscribes to orderingChanges, for the banner of what the kitchen paused (kds-pause.js).
import { createLayout, createTextSize } from "./kds-layout.js";
import { ORDERING, createPause } from "./kds-pause.js";
import { play, unlock } from "./kds-sound.js";
import { createTaps } from "./kds-taps.js";

const body = document.body;
const config = {
  stage: body.dataset.stage || "all",
  station: body.dataset.station || "",
  statuses: (body.dataset.statuses || "").split(",").filter(Boolean),
  amberMs: Number(body.dataset.amber || 300) * 1000,
  redMs: Number(body.dataset.red || 600) * 1000,
  pingMs: Number(body.dataset.ping || 3) * 1000,
  canBump: body.dataset.canBump === "true",
  limit: Number(body.dataset.limit || 1000),
};
const NEW_HIGHLIGHT_MS = 8000;
const OFFLINE_BANNER_MS = 1000; // a reconnect quicker than this is not worth a banner
const ARMED_MS = 4000; // how long a ready tile waits for its confirming tap
const SUBSCRIPTION = `subscription($since: Int, $statuses: [OrderStatus!]) {
  orderChanges(since: $since, statuses: $statuses) { sequence kind order { id } } }`;
const OUTCOME = "__typename ... on Problem { message }";
const MOVE = `mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus, $tap: String) {
  moveOrder(id: $id, to: $to, expected: $expected, tapId: $tap) { ${OUTCOME} } }`;
const BUMP_STATION = `mutation($id: ID!, $station: String!, $lines: [Int!], $tap: String) {
  bumpStation(orderId: $id, station: $station, lines: $lines, tapId: $tap) { ${OUTCOME} } }`;
const BRING_BACK_STATION = `mutation($id: ID!, $station: String!, $lines: [Int!], $tap: String) {
  bringBackStation(orderId: $id, station: $station, lines: $lines, tapId: $tap) { ${OUTCOME} } }`;
// What every fetch of a ticket or panel says about this screen.
const SCREEN =
  `stage=${encodeURIComponent(config.stage)}` + (config.station ? `&station=${encodeURIComponent(config.station)}` : "");

const state = {
  sequence: Number(body.dataset.sequence || 0),
  offsetMs: Number(body.dataset.serverTime || Date.now()) - Date.now(),
  socket: null,
  lastHeard: 0,
  attempt: 0,
  selected: -1,
  offlineTimer: null,
  inFlight: new Map(), // order id -> the change that arrived while fetching it (null: none)
};
const board = document.querySelector("[data-tickets]");
const indicator = document.querySelector("[data-connection]");
const banner = document.querySelector("[data-offline-banner]");
const layout = body.classList.contains("view-board")
  ? createLayout({ board, pager: document.querySelector("[data-pager]") })
  : null;
const textSize = layout ? createTextSize({ key: `orderpass.textSize.${SCREEN}`, changed: () => layout.schedule() }) : null;
const taps = createTaps({
  changed: markQueued,
  settled: (tap) => refresh(tap.orderId, "STATUS_CHANGED"), // show it now; the subscription confirms it
  refused: (tap, message) => notice(`Not done: ${tap.label}`, message),
});
const pauses = createPause({
  screen: SCREEN,
  now: () => Date.now() + state.offsetMs, // the server's clock, not the tablet's
  heard: clock,
  format: duration,
  notice,
});

// -- the connection ---------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/graphql", "graphql-transport-ws");
  state.socket = socket;
  state.lastHeard = Date.now();
  socket.onopen = () => send(socket, { type: "connection_init", payload: {} });
  socket.onmessage = (event) => receive(socket, JSON.parse(event.data));
  socket.onclose = (event) => dropped(socket, event.code);
  socket.onerror = () => socket.close();
}

function receive(socket, message) {
  if (socket !== state.socket) return;
  state.lastHeard = Date.now();
  if (message.type === "connection_ack") {
    state.attempt = 0;
    live(true);
    const statuses = config.statuses.length ? config.statuses : null;
    const variables = { since: state.sequence, statuses };
    send(socket, { id: "changes", type: "subscribe", payload: { query: SUBSCRIPTION, variables } });
    send(socket, { id: "ordering", type: "subscribe", payload: { query: ORDERING } }); // says what is paused first
    taps.flush(); // what was tapped while the server was away
    panels(); // the scheduled strip and the counts may have moved on meanwhile
  } else if (message.type === "ping") {
    send(socket, { type: "pong" });
    live(true);
  } else if (message.type === "next" && message.id === "ordering") {
    pauses.refresh();
  } else if (message.type === "next" && message.payload.data) {
    apply(message.payload.data.orderChanges);
  } else if (message.type === "error" || message.type === "complete") {
    socket.close();
  }
}

function dropped(socket, code) {
  if (socket !== state.socket) return;
  state.socket = null;
  live(false);
  if (code === 4401) {
    location.reload(); // the token was revoked: the page shows the pairing form
    return;
  }
  // Exponential, but capped at a second: a kitchen is back within a second of the server.
  const delay = Math.min(1000, 100 * 2 ** state.attempt) * (0.75 + Math.random() / 2);
  state.attempt += 1;
  setTimeout(connect, delay);
}

function watchdog() {
  const silentFor = Date.now() - state.lastHeard;
  if (state.socket && silentFor > 2 * config.pingMs + 1000) {
    const socket = state.socket;
    dropped(socket, 1006); // silence is a dead connection, whatever the socket believes
    socket.close();
  }
}

function send(socket, message) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function live(isLive) {
  if (indicator) {
    indicator.dataset.connection = isLive ? "live" : "reconnecting";
    indicator.textContent = isLive ? "live" : "reconnecting";
  }
  if (isLive) {
    clearTimeout(state.offlineTimer);
    state.offlineTimer = null;
    offline(false);
  } else if (!state.offlineTimer) {
    state.offlineTimer = setTimeout(() => offline(true), OFFLINE_BANNER_MS);
  }
}

// Across the whole screen, and the board dimmed: a cook cannot miss that taps are waiting.
function offline(isOffline) {
  if (banner) banner.hidden = !isOffline;
  if (isOffline) body.dataset.offline = "";
  else delete body.dataset.offline;
}

// -- applying changes -------------------------------------------------------------------------

function apply(change) {
  if (!change || change.sequence <= state.sequence) return; // applied already
  state.sequence = change.sequence;
  refresh(change.order.id, change.kind);
}

async function refresh(orderId, kind) {
  if (state.inFlight.has(orderId)) {
    state.inFlight.set(orderId, { kind }); // fetch again once this one lands, for this change
    return;
  }
  state.inFlight.set(orderId, null);
  try {
    const url = `/kds/tickets/${encodeURIComponent(orderId)}?${SCREEN}`;
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    clock(response);
    if (response.status === 401) return location.reload();
    if (response.status === 204) return remove(orderId);
    if (response.ok) place(await response.text(), response.headers.get("X-On-Stage") === "1", kind);
  } catch {
    // the server went away mid-fetch: the subscription replays this change on reconnect
  } finally {
    const again = state.inFlight.get(orderId);
    state.inFlight.delete(orderId);
    if (again) refresh(orderId, again.kind); // the change that came meanwhile, with its own sound
    panels();
  }
}

function place(html, onStage, kind) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  const node = template.content.firstElementChild;
  const existing = find(node.dataset.orderId);
  if (node.dataset.status === "Canceled") {
    if (existing && existing.classList.contains("ticket")) {
      replace(existing, node); // struck through under its banner until a cook taps it
      play("cancel");
    } else if (existing) {
      existing.remove();
    }
  } else if (!onStage) {
    if (existing) existing.remove();
  } else if (existing) {
    replace(existing, node);
    flash(node, "is-changed", 1500);
    if (kind === "ITEMS_CHANGED") play("change");
  } else {
    insertOldestFirst(node);
    trim();
    if (node.isConnected) {
      flash(node, "is-new", NEW_HIGHLIGHT_MS);
      play("new");
    }
  }
  markQueued();
  arranged();
}

// A ticket's new version takes the old one's place on the page as it was laid out (its page,
// number, selection and split), until the layout looks again in the next frame.
function replace(existing, node) {
  for (const kept of ["is-selected", "may-break", "is-split"]) {
    node.classList.toggle(kept, existing.classList.contains(kept));
  }
  if (existing.dataset.page) node.dataset.page = existing.dataset.page;
  const [was, now] = [existing, node].map((ticket) => ticket.querySelector("[data-key]"));
  if (was && now) now.textContent = was.textContent;
  existing.replaceWith(node);
}

function insertOldestFirst(node) {
  const created = Number(node.dataset.createdAt);
  const later = tickets().find((ticket) => Number(ticket.dataset.createdAt) > created);
  board.insertBefore(node, later || null);
}

// A busy board holds its oldest `limit` open tickets, as the page did; the newest past it are
// left to the banner's count (/kds/count), which the side panels refresh after every change.
function trim() {
  openTickets()
    .slice(config.limit)
    .forEach((ticket) => ticket.remove());
}

function openTickets() {
  return tickets().filter((ticket) => ticket.dataset.status !== "Canceled");
}

function remove(orderId) {
  const existing = find(orderId);
  if (existing) existing.remove();
  arranged();
}

// After the tickets changed: lay them out again, keep the selection on screen, and time them.
function arranged() {
  tick();
  if (layout) layout.schedule();
  select(state.selected, { quiet: true });
}

function flash(node, className, ms) {
  node.classList.add(className);
  setTimeout(() => node.classList.remove(className), ms);
}

function find(orderId) {
  return board.querySelector(`[data-order-id="${CSS.escape(orderId)}"]`);
}

function tickets() {
  return Array.from(board.querySelectorAll("[data-order-id]"));
}

function markQueued() {
  for (const ticket of tickets()) ticket.classList.toggle("is-queued", taps.pending(ticket.dataset.orderId));
}

// -- side panels, the scheduled strip, and the count of what the board leaves out -------------

let panelTimer = null;
let panelRound = 0;
function panels() {
  clearTimeout(panelTimer);
  panelTimer = setTimeout(async () => {
    const round = ++panelRound;
    const sources = [
      ["[data-scheduled]", () => `/kds/scheduled?${SCREEN}`],
      ["[data-more]", () => `/kds/count?${SCREEN}&shown=${shown()}`],
      ["[data-allday]", () => `/kds/allday?${SCREEN}`],
      ["[data-recall-list]", () => `/kds/recall?${SCREEN}`],
    ];
    for (const [selector, url] of sources) {
      const target = document.querySelector(selector);
      if (!target) continue;
      let html = null;
      try {
        const response = await fetch(url(), { credentials: "same-origin", cache: "no-store" });
        html = response.ok ? await response.text() : null;
      } catch {
        return; // the server is away: the next connection_ack refreshes every panel
      }
      if (round !== panelRound) return; // a later round is on its way: an older answer must not win
      if (html !== null) target.innerHTML = html;
    }
  }, 250);
}

// What this screen shows of its open orders: tickets on the line, and those scheduled.
function shown() {
  return openTickets().length + document.querySelectorAll("[data-scheduled-id]").length;
}

// -- working the board ------------------------------------------------------------------------

function tap(orderId, query, variables, field, label) {
  taps.add({ orderId, query, variables, field, label });
}

function bump(ticket) {
  const button = ticket && ticket.querySelector('[data-action="bump"], [data-action="bump-station"]');
  if (button) act(button, ticket);
}

function recallLast() {
  const newest = document.querySelector('[data-action="recall-one"]');
  if (newest) act(newest, null);
  else notice("Nothing to recall");
}

function act(action, ticket) {
  const name = action.dataset.action;
  const station = { station: config.station };
  const title = ticket ? ticket.dataset.title : action.textContent.trim();
  const line = () => [Number(action.dataset.line)];
  const orderId = ticket && ticket.dataset.orderId;
  const verb = action.textContent.trim();
  if (name === "bump") {
    const variables = { id: orderId, to: action.dataset.to, expected: action.dataset.expected };
    tap(orderId, MOVE, variables, "moveOrder", `${title}: ${verb}`);
  } else if (name === "bump-station") {
    tap(orderId, BUMP_STATION, { id: orderId, ...station, lines: null }, "bumpStation", `${title}: ${verb}`);
  } else if (name === "bump-line") {
    tap(orderId, BUMP_STATION, { id: orderId, ...station, lines: line() }, "bumpStation", `${title}: item done`);
  } else if (name === "bring-back-line") {
    const variables = { id: orderId, ...station, lines: line() };
    tap(orderId, BRING_BACK_STATION, variables, "bringBackStation", `${title}: item back`);
  } else if (name === "recall-one") {
    recallOne(action);
  } else if (name === "hand-over") {
    handOver(action);
  } else if (name === "acknowledge") {
    ticket.remove();
    arranged();
  } else if (name === "dismiss") {
    action.remove();
  } else if (name === "recall") {
    recallLast();
  } else if (name === "page-back" || name === "page-on") {
    if (layout) layout.turn(name === "page-on" ? 1 : -1);
  } else if (name === "text-smaller" || name === "text-larger") {
    if (textSize) textSize.step(name === "text-larger" ? 1 : -1);
  } else if (name.startsWith("pause") || name === "resume") {
    pauses.act(action);
  } else if (name === "test-sound" || name === "unlock") {
    const overlay = document.querySelector("[data-unlock]");
    if (overlay) overlay.hidden = true;
    unlock();
  }
}

function recallOne(action) {
  const orderId = action.dataset.recallId;
  const label = `${action.textContent.trim().split("\n")[0]}: recall`;
  if (action.dataset.station) {
    const variables = { id: orderId, station: action.dataset.station, lines: null };
    tap(orderId, BRING_BACK_STATION, variables, "bringBackStation", label);
  } else {
    const variables = { id: orderId, to: action.dataset.to, expected: action.dataset.expected };
    tap(orderId, MOVE, variables, "moveOrder", label);
  }
}

// A tile on the ready board: the first tap arms it ("tap again to hand over"), the second hands
// the order over. Handing over finalizes the order, which nothing undoes.
function handOver(tile) {
  if (!tile.classList.contains("is-armed")) {
    tile.classList.add("is-armed");
    setTimeout(() => tile.classList.remove("is-armed"), ARMED_MS);
    return;
  }
  tile.classList.remove("is-armed");
  const orderId = tile.dataset.orderId;
  const variables = { id: orderId, to: tile.dataset.to, expected: tile.dataset.expected };
  tap(orderId, MOVE, variables, "moveOrder", `${tile.dataset.title}: hand over`);
}

function select(index, { quiet = false } = {}) {
  const all = tickets();
  all.forEach((ticket) => ticket.classList.remove("is-selected"));
  if (!all.length || index < 0) {
    state.selected = all.length ? Math.min(Math.max(index, -1), all.length - 1) : -1;
    return;
  }
  state.selected = Math.min(index, all.length - 1);
  const chosen = all[state.selected];
  chosen.classList.add("is-selected");
  if (layout && !quiet) layout.show(chosen); // a selected ticket is never bumped off screen
}

// A notice a cook must see: one about a refused tap stays until it is tapped away.
function notice(text, detail) {
  const note = document.createElement(detail ? "button" : "div");
  note.className = "notice";
  note.setAttribute("role", "alert");
  note.textContent = text;
  if (detail) {
    note.type = "button";
    note.dataset.action = "dismiss";
    note.dataset.refusedTap = "";
    const why = document.createElement("small");
    why.textContent = `${detail} · tap to dismiss`;
    note.append(why);
  } else {
    setTimeout(() => note.remove(), 4000);
  }
  (document.querySelector("[data-notices]") || body).append(note);
}

document.addEventListener("keydown", (event) => {
  if (event.target.closest && event.target.closest("input, textarea, select")) return;
  const key = event.key;
  const focused = event.target.closest && event.target.closest("[data-action]:not(button)");
  if (focused && (key === "Enter" || key === " ") && config.canBump) act(focused, focused.closest("[data-order-id]"));
  else if (/^[0-9]$/.test(key) && layout) selectTicket(layout.keyed(key));
  else if (key === "ArrowRight" || key === "ArrowDown") select(state.selected + 1);
  else if (key === "ArrowLeft" || key === "ArrowUp") select(Math.max(state.selected - 1, 0));
  else if ((key === "PageDown" || key === "PageUp") && layout) layout.turn(key === "PageDown" ? 1 : -1);
  else if ((key === "Enter" || key === " ") && config.canBump) bump(tickets()[state.selected]);
  else if ((key === "r" || key === "R") && config.canBump) recallLast();
  else return;
  event.preventDefault();
});

function selectTicket(ticket) {
  if (ticket) select(tickets().indexOf(ticket));
}

document.addEventListener("click", (event) => {
  const action = event.target.closest("[data-action]");
  const ticket = event.target.closest("[data-order-id]");
  if (ticket && ticket.parentElement === board) select(tickets().indexOf(ticket), { quiet: true });
  if (action) act(action, ticket);
});

// -- time -------------------------------------------------------------------------------------

function clock(response) {
  const serverTime = Number(response.headers.get("X-Server-Time"));
  if (serverTime) state.offsetMs = serverTime - Date.now();
}

// A ticket's timer counts up from when it was placed; a timed order's counts down to when it is
// due (amber in its last minutes, red once late).
function tick() {
  pauses.tick();
  const now = Date.now() + state.offsetMs; // the server's clock, not the tablet's
  for (const ticket of tickets()) {
    const timer = ticket.querySelector("[data-timer]");
    if (!timer) continue;
    const due = Number(ticket.dataset.dueAt || 0);
    ticket.classList.toggle("is-timed", Boolean(due));
    if (due) {
      const left = due - now;
      timer.textContent = left > 0 ? `due in ${duration(left)}` : `late ${duration(-left)}`;
      ticket.classList.toggle("is-amber", left > 0 && left <= config.amberMs);
      ticket.classList.toggle("is-red", left <= 0);
      continue;
    }
    const elapsed = Math.max(0, now - Number(ticket.dataset.createdAt));
    timer.textContent = duration(elapsed);
    ticket.classList.toggle("is-amber", elapsed >= config.amberMs && elapsed < config.redMs);
    ticket.classList.toggle("is-red", elapsed >= config.redMs);
  }
}

function duration(ms) {
  const seconds = Math.floor(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

// -- start ------------------------------------------------------------------------------------

// The header's strip of screens scrolls within itself: bring this screen's own link into sight.
const here = document.querySelector('.bar-nav [aria-current="page"]:not(:first-child)');
if (here) {
  const strip = here.closest(".bar-nav");
  strip.scrollLeft = here.offsetLeft - strip.offsetLeft - (strip.clientWidth - here.offsetWidth) / 2;
}
if (layout) {
  new ResizeObserver(() => layout.schedule()).observe(board);
  document.fonts?.ready.then(() => layout.schedule());
}
tick();
setInterval(tick, 1000);
setInterval(watchdog, 500);
panels();
connect();
