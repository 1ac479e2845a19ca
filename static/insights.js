// orderpass insights: a running day's page keeps itself up to date. It listens to the kitchen's
// changes on the same subscription the boards use (orderChanges, over /graphql with the screen's
// cookie) and, when something changed, fetches the day's figures again (/kds/insights/live) and
// puts them in place: at most once every REFRESH_MS, however busy the kitchen, so a wall screen
// costs the server one recompute per few seconds. A quiet minute still refreshes (what waits, and
// what turns late, moves with the clock alone). A past day's page loads no script at all.
const body = document.body;
const config = { day: body.dataset.day, pingMs: Number(body.dataset.ping || 3) * 1000 };
const REFRESH_MS = 5000;
const QUIET_MS = 60000;
const SUBSCRIPTION = `subscription { orderChanges { sequence } }`;
const target = document.querySelector("[data-insights]");
const indicator = document.querySelector("[data-connection]");
const state = { socket: null, attempt: 0, lastHeard: 0, lastFetch: 0, timer: null, fetching: false };

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
    send(socket, { id: "changes", type: "subscribe", payload: { query: SUBSCRIPTION } });
    soon(); // whatever happened while the page loaded or the socket was away
  } else if (message.type === "ping") {
    send(socket, { type: "pong" });
    live(true);
  } else if (message.type === "next") {
    soon();
  } else if (message.type === "error" || message.type === "complete") {
    socket.close();
  }
}

function dropped(socket, code) {
  if (socket !== state.socket) return;
  state.socket = null;
  live(false);
  if (code === 4401) return location.reload(); // the token was revoked: the pairing form
  const delay = Math.min(5000, 200 * 2 ** state.attempt) * (0.75 + Math.random() / 2);
  state.attempt += 1;
  setTimeout(connect, delay);
}

function send(socket, message) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function live(isLive) {
  if (!indicator) return;
  indicator.dataset.connection = isLive ? "live" : "reconnecting";
  indicator.textContent = isLive ? "live" : "reconnecting";
}

// One fetch at a time, and none sooner than REFRESH_MS after the last one began.
function soon() {
  if (state.timer) return;
  const wait = Math.max(0, state.lastFetch + REFRESH_MS - Date.now());
  state.timer = setTimeout(refresh, wait);
}

async function refresh() {
  state.timer = null;
  if (state.fetching) return soon();
  state.fetching = true;
  state.lastFetch = Date.now();
  try {
    const url = `/kds/insights/live?day=${encodeURIComponent(config.day)}`;
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) return location.reload();
    if (response.ok) place(await response.text());
  } catch {
    // the server is away: the next connection_ack fetches again
  } finally {
    state.fetching = false;
  }
}

// The new figures replace the old; a section a reader opened stays open.
function place(html) {
  const open = new Set(Array.from(target.querySelectorAll("details[open]"), (d) => d.closest("section")?.getAttribute("aria-labelledby")));
  target.innerHTML = html;
  for (const details of target.querySelectorAll("details")) {
    if (open.has(details.closest("section")?.getAttribute("aria-labelledby"))) details.open = true;
  }
  body.dataset.refreshed = String(Date.now());
}

function watchdog() {
  if (state.socket && Date.now() - state.lastHeard > 2 * config.pingMs + 1000) {
    const socket = state.socket;
    dropped(socket, 1006);
    socket.close();
  }
  if (Date.now() - state.lastFetch > QUIET_MS) soon();
}

state.lastFetch = Date.now(); // the page itself is the first fetch
connect();
setInterval(watchdog, 1000);
