// No tap is ever dropped. Each tap (a bump, a recall, a hand-over) gets its own id and waits, in
// order, in this queue until the server has answered it. While the server cannot be reached the
// taps wait; they are sent again, with the same ids, as soon as it can be (on reconnect, and every
// couple of seconds meanwhile), and the server applies each id once (the tapId of moveOrder,
// bumpStation and bringBackStation), so a tap whose answer was lost is not applied twice. A tap
// the server refuses (the order was canceled or moved on meanwhile) is reported as refused.

const RETRY_MS = 2000;

export function createTaps({ changed, settled, refused }) {
  const queue = [];
  let sending = false;
  let retry = null;

  function add(tap) {
    const id = newId();
    queue.push({ ...tap, id, variables: { ...tap.variables, tap: id } });
    changed();
    flush();
  }

  async function flush() {
    if (sending) return;
    sending = true;
    clearTimeout(retry);
    try {
      while (queue.length) {
        const answer = await send(queue[0]);
        if (answer === UNREACHABLE) {
          retry = setTimeout(flush, RETRY_MS);
          return;
        }
        const tap = queue.shift();
        changed();
        if (answer.refused) refused(tap, answer.refused);
        settled(tap);
      }
    } finally {
      sending = false;
    }
  }

  function pending(orderId) {
    return queue.some((tap) => tap.orderId === orderId);
  }

  return { add, flush, pending, size: () => queue.length };
}

const UNREACHABLE = "unreachable";

async function send(tap) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: tap.query, variables: tap.variables }),
    });
  } catch {
    return UNREACHABLE; // no answer at all: the server is down, or this screen is offline
  }
  if (response.status === 401) {
    location.reload(); // the screen's token was revoked: the page shows the pairing form
    return UNREACHABLE;
  }
  if (response.status >= 500 || response.status === 429) return UNREACHABLE; // busy or restarting
  let body = null;
  try {
    body = await response.json();
  } catch {
    return UNREACHABLE;
  }
  const outcome = body && body.data && body.data[tap.field];
  if (outcome && outcome.__typename === "Order") return {};
  if (outcome && outcome.message) return { refused: outcome.message };
  const error = body && body.errors && body.errors[0];
  return { refused: error ? error.message : `the server answered ${response.status}` };
}

// crypto.randomUUID exists only in secure contexts; a tablet on the venue's LAN may load the
// board over plain http, where getRandomValues still works.
function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
