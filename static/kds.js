// orderpass kitchen display: a board that never misses an order, and never lies about it.
//
// The page arrives with its tickets and the sequence number it was rendered at. A small
// graphql-transport-ws client subscribes to orderChanges `since` the last sequence applied, on
// every (re)connect, so each change is applied exactly once across dropped sockets, sleeping
// tablets and server restarts. A change only says which order changed: the board fetches that
// ticket's HTML (the same _ticket.html partial the page was rendered with) and puts it in place.
// The indicator says "live" only while the server's pings arrive.
//
// A station's screen (`?station=grill`) is the same board: it passes its station with every
// fetch, and bumps through bumpStation (a tapped item, or the station's whole part of a ticket)
// and bringBackStation, where the other screens move the order with moveOrder.
(() => {
  "use strict";

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
  const CANCEL_BANNER_MS = 10000;
  const NEW_HIGHLIGHT_MS = 8000;
  const SUBSCRIPTION = `subscription($since: Int, $statuses: [OrderStatus!]) {
    orderChanges(since: $since, statuses: $statuses) { sequence kind order { id } } }`;
  const MOVE = `mutation($id: ID!, $to: OrderStatus!, $expected: OrderStatus) {
    moveOrder(id: $id, to: $to, expected: $expected) { __typename ... on Problem { message } } }`;
  const BUMP_STATION = `mutation($id: ID!, $station: String!, $lines: [Int!]) {
    bumpStation(orderId: $id, station: $station, lines: $lines) { __typename ... on Problem { message } } }`;
  const BRING_BACK_STATION = `mutation($id: ID!, $station: String!, $lines: [Int!]) {
    bringBackStation(orderId: $id, station: $station, lines: $lines) { __typename ... on Problem { message } } }`;
  // What every fetch of a ticket or panel says about this screen.
  const SCREEN = `stage=${encodeURIComponent(config.stage)}` +
    (config.station ? `&station=${encodeURIComponent(config.station)}` : "");

  const state = {
    sequence: Number(body.dataset.sequence || 0),
    offsetMs: Number(body.dataset.serverTime || Date.now()) - Date.now(),
    socket: null,
    lastHeard: 0,
    attempt: 0,
    selected: -1,
    audio: null,
    inFlight: new Map(), // order id -> whether another change arrived while fetching it
  };
  const board = document.querySelector("[data-tickets]");
  const indicator = document.querySelector("[data-connection]");

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
      send(socket, { id: "changes", type: "subscribe",
                     payload: { query: SUBSCRIPTION, variables: { since: state.sequence, statuses } } });
    } else if (message.type === "ping") {
      send(socket, { type: "pong" });
      live(true);
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
    if (!indicator) return;
    indicator.dataset.connection = isLive ? "live" : "reconnecting";
    indicator.textContent = isLive ? "live" : "reconnecting";
  }

  // -- applying changes -------------------------------------------------------------------------

  function apply(change) {
    if (!change || change.sequence <= state.sequence) return; // applied already
    state.sequence = change.sequence;
    refresh(change.order.id, change.kind);
  }

  async function refresh(orderId, kind) {
    if (state.inFlight.has(orderId)) {
      state.inFlight.set(orderId, true); // fetch again once this one lands
      return;
    }
    state.inFlight.set(orderId, false);
    try {
      const url = `/kds/tickets/${encodeURIComponent(orderId)}?${SCREEN}`;
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      clock(response);
      if (response.status === 401) return location.reload();
      if (response.status === 204) return remove(orderId);
      if (response.ok) place(await response.text(), response.headers.get("X-On-Stage") === "1", kind);
    } finally {
      const again = state.inFlight.get(orderId);
      state.inFlight.delete(orderId);
      if (again) refresh(orderId, "UPDATED");
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
        existing.replaceWith(node);
        setTimeout(() => node.remove(), CANCEL_BANNER_MS);
      } else if (existing) {
        existing.remove();
      }
    } else if (!onStage) {
      if (existing) existing.remove();
    } else if (existing) {
      existing.replaceWith(node);
      flash(node, "is-changed", 1500);
    } else {
      insertOldestFirst(node);
      trim();
      if (node.isConnected) {
        flash(node, "is-new", NEW_HIGHLIGHT_MS);
        chime();
      }
    }
    tick();
    select(state.selected);
  }

  function insertOldestFirst(node) {
    const created = Number(node.dataset.createdAt);
    const later = tickets().find((ticket) => Number(ticket.dataset.createdAt) > created);
    board.insertBefore(node, later || null);
  }

  // A busy board holds its oldest `limit` open tickets, as the page did; the newest past it are
  // left to the banner's count (/kds/count), which the side panels refresh after every change.
  function trim() {
    openTickets().slice(config.limit).forEach((ticket) => ticket.remove());
  }

  function openTickets() {
    return tickets().filter((ticket) => ticket.dataset.status !== "Canceled");
  }

  function remove(orderId) {
    const existing = find(orderId);
    if (existing) existing.remove();
    select(state.selected);
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

  // -- side panels, and the count of what the board leaves out ---------------------------------

  let panelTimer = null;
  let panelRound = 0;
  function panels() {
    clearTimeout(panelTimer);
    panelTimer = setTimeout(async () => {
      const round = ++panelRound;
      const sources = [
        ["[data-more]", () => `/kds/count?${SCREEN}&shown=${openTickets().length}`],
        ["[data-allday]", () => `/kds/allday?${SCREEN}`],
        ["[data-recall-list]", () => `/kds/recall?${SCREEN}`],
      ];
      for (const [selector, url] of sources) {
        const target = document.querySelector(selector);
        if (!target) continue;
        const response = await fetch(url(), { credentials: "same-origin", cache: "no-store" });
        const html = response.ok ? await response.text() : null;
        if (round !== panelRound) return; // a later round is on its way: an older answer must not win
        if (html !== null) target.innerHTML = html;
      }
    }, 250);
  }

  // -- working the board ------------------------------------------------------------------------

  async function mutate(orderId, query, variables, field) {
    const response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, variables }),
    });
    const result = response.ok ? (await response.json()).data : null;
    const outcome = result && result[field];
    if (!outcome || outcome.__typename !== "Order") notice(outcome ? outcome.message : "Could not reach the server");
    refresh(orderId, "STATUS_CHANGED"); // show it now; the subscription confirms it everywhere
  }

  function move(orderId, to, expected) {
    return mutate(orderId, MOVE, { id: orderId, to, expected }, "moveOrder");
  }

  // This station's items of a ticket are done (`lines`: just those; null: all of its part)...
  function bumpStation(orderId, lines) {
    return mutate(orderId, BUMP_STATION, { id: orderId, station: config.station, lines }, "bumpStation");
  }

  // ...or not done after all (a dish sent back, a bump by mistake).
  function bringBack(orderId, lines) {
    const variables = { id: orderId, station: config.station, lines };
    return mutate(orderId, BRING_BACK_STATION, variables, "bringBackStation");
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
    const line = () => [Number(action.dataset.line)];
    if (name === "bump") move(ticket.dataset.orderId, action.dataset.to, action.dataset.expected);
    else if (name === "bump-station") bumpStation(ticket.dataset.orderId, null);
    else if (name === "bump-line") bumpStation(ticket.dataset.orderId, line());
    else if (name === "bring-back-line") bringBack(ticket.dataset.orderId, line());
    else if (name === "recall-one" && action.dataset.station) bringBack(action.dataset.recallId, null);
    else if (name === "recall-one") move(action.dataset.recallId, action.dataset.to, action.dataset.expected);
    else if (name === "acknowledge") ticket.remove();
    else if (name === "recall") recallLast();
    else if (name === "test-sound" || name === "unlock") unlock();
  }

  function select(index) {
    const all = tickets();
    all.forEach((ticket) => ticket.classList.remove("is-selected"));
    if (!all.length || index < 0) {
      state.selected = all.length ? Math.min(Math.max(index, -1), all.length - 1) : -1;
      return;
    }
    state.selected = Math.min(index, all.length - 1);
    all[state.selected].classList.add("is-selected");
  }

  function notice(text) {
    const note = document.createElement("div");
    note.className = "notice";
    note.setAttribute("role", "alert");
    note.textContent = text;
    document.body.appendChild(note);
    setTimeout(() => note.remove(), 4000);
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest && event.target.closest("input, textarea, select")) return;
    const key = event.key;
    const focused = event.target.closest && event.target.closest(".line[data-action]");
    if (focused && (key === "Enter" || key === " ") && config.canBump) act(focused, focused.closest("[data-order-id]"));
    else if (/^[1-9]$/.test(key)) select(Number(key) - 1);
    else if (key === "0") select(9);
    else if (key === "ArrowRight" || key === "ArrowDown") select(state.selected + 1);
    else if (key === "ArrowLeft" || key === "ArrowUp") select(Math.max(state.selected - 1, 0));
    else if ((key === "Enter" || key === " ") && config.canBump) bump(tickets()[state.selected]);
    else if ((key === "r" || key === "R") && config.canBump) recallLast();
    else return;
    event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]");
    const ticket = event.target.closest("[data-order-id]");
    if (ticket && ticket.parentElement === board) select(tickets().indexOf(ticket));
    if (action) act(action, ticket);
  });

  // -- time -------------------------------------------------------------------------------------

  function clock(response) {
    const serverTime = Number(response.headers.get("X-Server-Time"));
    if (serverTime) state.offsetMs = serverTime - Date.now();
  }

  function tick() {
    const now = Date.now() + state.offsetMs; // the server's clock, not the tablet's
    for (const ticket of tickets()) {
      const elapsed = Math.max(0, now - Number(ticket.dataset.createdAt));
      const timer = ticket.querySelector("[data-timer]");
      if (!timer) continue;
      const seconds = Math.floor(elapsed / 1000);
      const hours = Math.floor(seconds / 3600);
      const minutes = Math.floor((seconds % 3600) / 60);
      const rest = String(seconds % 60).padStart(2, "0");
      timer.textContent = hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
      ticket.classList.toggle("is-amber", elapsed >= config.amberMs && elapsed < config.redMs);
      ticket.classList.toggle("is-red", elapsed >= config.redMs);
    }
  }

  // -- sound (browsers play audio only after a tap) ----------------------------------------------

  function unlock() {
    const overlay = document.querySelector("[data-unlock]");
    if (overlay) overlay.hidden = true;
    if (!state.audio) state.audio = new (window.AudioContext || window.webkitAudioContext)();
    state.audio.resume();
    body.dataset.sound = "on";
    chime();
  }

  function chime() {
    const audio = state.audio;
    if (!audio || audio.state !== "running") return;
    [880, 1320].forEach((frequency, index) => {
      const start = audio.currentTime + index * 0.18;
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.25, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.35);
      tone.connect(gain).connect(audio.destination);
      tone.start(start);
      tone.stop(start + 0.4);
    });
  }

  // -- start ------------------------------------------------------------------------------------

  tick();
  setInterval(tick, 1000);
  setInterval(watchdog, 500);
  panels();
  connect();
})();
