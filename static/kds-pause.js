// Pausing Dojo's ordering from a kitchen screen. The banner (the `_pause.html` partial) says which
// products' new orders are paused, until when and by whom; this counts each timed pause down by
// the server's clock, and fetches the banner again whenever the orderingChanges subscription says
// the pauses changed (it says so first on every (re)connect, so a screen that was away is right
// at once). The header's control pauses the chosen products for a length the venue offers, or
// until resumed, and resumes them: a kitchen token or better (the server decides; a viewer's
// screen shows the control off).
const OUTCOME = "__typename ... on Problem { message }";
export const ORDERING = `subscription { orderingChanges { pauses { product until } } }`;
const PAUSE = `mutation($products: [DojoProduct!]!, $minutes: Int) {
  pauseOrdering(products: $products, minutes: $minutes) { ${OUTCOME} } }`;
const RESUME = `mutation($products: [DojoProduct!]) {
  resumeOrdering(products: $products) { ${OUTCOME} } }`;

export function createPause({ screen, now, heard, format, notice }) {
  const banner = document.querySelector("[data-pause-banner]");
  const panel = document.querySelector("[data-pause-panel]");
  const opener = document.querySelector('[data-action="pause-open"]');
  let round = 0;

  async function refresh() {
    if (!banner) return;
    const mine = ++round;
    try {
      const response = await fetch(`/kds/pause?${screen}`, { credentials: "same-origin", cache: "no-store" });
      heard(response);
      if (response.status === 401) return location.reload();
      if (!response.ok || mine !== round) return; // a later fetch is on its way: an older answer must not win
      banner.innerHTML = await response.text();
      tick();
    } catch {
      // the server went away: the subscription says so again on reconnect
    }
  }

  // Each timed pause's time left; one whose time is up is over (CreateOrder already takes orders
  // again), and goes before the server's note of it arrives.
  function tick() {
    if (!banner) return;
    for (const line of banner.querySelectorAll("[data-until]")) {
      const left = Number(line.dataset.until) - now();
      line.hidden = left <= 0;
      const shown = line.querySelector("[data-pause-left]");
      if (shown && left > 0) shown.textContent = format(left);
    }
  }

  function act(action) {
    const name = action.dataset.action;
    if (name === "pause-open") open(panel && panel.hidden);
    else if (name === "pause-close") open(false);
    else if (name === "pause") pause(action.dataset.minutes);
    else if (name === "resume") resume(action.dataset.product);
  }

  function open(isOpen) {
    if (!panel) return;
    panel.hidden = !isOpen;
    if (opener) opener.setAttribute("aria-expanded", String(Boolean(isOpen)));
  }

  function pause(minutes) {
    const products = Array.from(panel.querySelectorAll('input[name="product"]:checked'), (box) => box.value);
    if (!products.length) return notice("Choose what to pause");
    const variables = { products, minutes: minutes ? Number(minutes) : null };
    send(PAUSE, variables, "pauseOrdering", "Pause");
  }

  function resume(product) {
    send(RESUME, { products: product ? [product] : null }, "resumeOrdering", "Resume");
  }

  async function send(query, variables, field, label) {
    let body = null;
    try {
      const response = await fetch("/graphql", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query, variables }),
      });
      if (response.status === 401) return location.reload();
      body = await response.json();
    } catch {
      return notice(`Not done: ${label}`, "the server cannot be reached; try again");
    }
    const outcome = body && body.data && body.data[field];
    if (outcome && outcome.__typename === "Ordering") {
      open(false);
      return refresh(); // shown now; the subscription confirms it on every screen
    }
    const error = (outcome && outcome.message) || (body && body.errors && body.errors[0].message);
    notice(`Not done: ${label}`, error || "the server refused it");
  }

  return { refresh, tick, act };
}
