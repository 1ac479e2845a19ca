// A busy board on one screen. Tickets flow down and across in columns, oldest first (CSS
// multi-column); a tall ticket fills what is left of its column and goes on in the next, each
// part of it labelled ("continues", "continued"); a board fuller than the screen pages sideways, a
// whole screen of columns at a time, and the pager counts the tickets on earlier and later pages.
// So every ticket is on this page or counted, and nothing scrolls. Selecting a ticket turns to its
// page; keys 1-9 and 0 pick the tickets of this page, numbered on their heads.
//
// The labels float over a split ticket in a layer of their own, in room the ticket keeps for them
// at the top of each of its parts (`is-split`): writing them into the ticket itself would move
// where the columns break, and so what is split.

// A ticket taller than this share of a column may be split; a shorter one moves whole to the next
// column rather than be cut (a column may end a little short; a cook reads whole tickets).
const TALL = 0.3;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

export function createLayout({ board, pager }) {
  const frame = board.parentElement;
  const labels = document.createElement("div");
  labels.className = "continued-layer";
  labels.setAttribute("aria-hidden", "true");
  frame.append(labels);
  let page = 0;
  let pages = 1;
  let queued = false;
  let anchor = null; // the selected ticket's order, while it is on the page in sight

  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      if (queued) arrange();
    });
  }

  // Lay the tickets out from scratch (the same tickets always fall the same way), and stay with
  // the selected ticket if it was in sight: a change elsewhere must not carry it off the page.
  function arrange() {
    queued = false;
    const selected = board.querySelector(".is-selected");
    const following = selected && selected.dataset.orderId === anchor;
    const tickets = all();
    tickets.forEach((ticket) => ticket.classList.remove("may-break", "is-split"));
    const grid = measure();
    tickets.filter((ticket) => heightOf(ticket) > TALL * grid.columnHeight).forEach((t) => t.classList.add("may-break"));
    markSplit(tickets);
    pages = 1;
    for (const ticket of tickets) {
      const parts = partsOf(ticket);
      if (!parts.length) continue;
      ticket.dataset.page = String(grid.pageOf(headOf(ticket).left));
      pages = Math.max(pages, grid.pageOf(parts[parts.length - 1].left) + 1);
    }
    label(tickets);
    turnTo(following ? Number(selected.dataset.page) : Math.min(page, pages - 1));
  }

  // Split tickets keep room for their labels at the top of each part; that room may split
  // another ticket, so look again until none is newly split (a ticket never unsplits here).
  function markSplit(tickets) {
    for (let round = 0; round < 4; round++) {
      const split = tickets.filter((ticket) => !ticket.classList.contains("is-split") && partsOf(ticket).length > 1);
      if (!split.length) return;
      split.forEach((ticket) => ticket.classList.add("is-split"));
    }
  }

  function label(tickets) {
    labels.replaceChildren();
    const origin = board.getBoundingClientRect();
    for (const ticket of tickets.filter((t) => t.classList.contains("is-split"))) {
      const parts = partsOf(ticket);
      const title = ticket.dataset.title || "";
      parts.forEach((part, n) => {
        const tag = document.createElement("div");
        tag.className = n ? "continued" : "continued continues";
        tag.textContent = n ? `↪ ${title} · continued` : `continues in the next column →`;
        tag.dataset.continuedOf = ticket.dataset.orderId;
        tag.style.left = `${part.left - origin.left}px`; // the CSSOM, which the CSP allows
        tag.style.top = `${part.top - origin.top}px`;
        tag.style.width = `${part.width}px`;
        labels.append(tag);
      });
    }
  }

  // Where columns and pages fall, in the board's own coordinates (whatever page is showing).
  function measure() {
    const style = getComputedStyle(board);
    const gap = parseFloat(style.columnGap) || 0;
    const width = board.clientWidth;
    const origin = board.getBoundingClientRect().left; // wherever it is turned to
    return {
      columnHeight: board.clientHeight,
      pageOf: (x) => Math.floor((x - origin + 1) / (width + gap)),
    };
  }

  function heightOf(ticket) {
    return partsOf(ticket).reduce((sum, part) => sum + part.height, 0);
  }

  // The parts a ticket is laid out in, one per column it reaches (an empty sliver of its top
  // border at the foot of a column is no part of it).
  function partsOf(ticket) {
    return Array.from(ticket.getClientRects()).filter((rect) => rect.height > 12);
  }

  // Where a ticket is, for a cook: its head.
  function headOf(ticket) {
    const head = ticket.querySelector(".ticket-head") || ticket;
    return head.getBoundingClientRect();
  }

  function turnTo(wanted) {
    page = Math.max(0, Math.min(wanted, pages - 1));
    // Turned by a transform, not scrolled: a scroll stops short on a last page that is not full.
    frame.style.setProperty("--page", String(page));
    let earlier = 0;
    let later = 0;
    let key = 0;
    for (const ticket of all()) {
      const on = Number(ticket.dataset.page || 0);
      earlier += on < page ? 1 : 0;
      later += on > page ? 1 : 0;
      const number = ticket.querySelector("[data-key]");
      if (number) number.textContent = on === page && key < KEYS.length ? KEYS[key++] : "";
    }
    const selected = board.querySelector(".is-selected");
    anchor = selected && Number(selected.dataset.page) === page ? selected.dataset.orderId : null;
    if (!pager) return;
    pager.querySelector("[data-earlier]").textContent = String(earlier);
    pager.querySelector("[data-later]").textContent = String(later);
    pager.querySelector('[data-action="page-back"]').disabled = page === 0;
    pager.querySelector('[data-action="page-on"]').disabled = page >= pages - 1;
    pager.querySelector("[data-page-label]").textContent = `page ${page + 1} of ${pages}`;
    pager.dataset.page = String(page);
    pager.dataset.laterCount = String(later);
    pager.dataset.earlierCount = String(earlier);
  }

  function all() {
    return Array.from(board.querySelectorAll("[data-order-id]"));
  }

  return {
    schedule,
    turn: (delta) => {
      arrange();
      turnTo(page + delta);
    },
    // Turn to the page a ticket starts on (a selected ticket is never off screen).
    show: (ticket) => {
      if (queued || !ticket.dataset.page) arrange();
      const on = Number(ticket.dataset.page || 0);
      if (on !== page) turnTo(on);
    },
    keyed: (key) => all().find((ticket) => ticket.querySelector("[data-key]")?.textContent === key) || null,
  };
}

// Each screen keeps its own text size (in this browser), from small print on a phone to large
// type on a wall screen across the kitchen.
export function createTextSize({ key, changed }) {
  const steps = 6;
  let size = Number(read(key)) || 3;
  apply();

  function apply() {
    document.documentElement.dataset.textSize = String(size);
    changed();
  }

  return {
    step(delta) {
      size = Math.min(steps, Math.max(1, size + delta));
      try {
        localStorage.setItem(key, String(size));
      } catch {
        // storage off (a private window): the size lasts as long as the page
      }
      apply();
    },
  };
}

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
