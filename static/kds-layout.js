// A busy board on one screen. Tickets flow down and across in columns, oldest first (CSS
// multi-column); a ticket too tall for a column goes on in the next one under a "continued" line
// that names it; a board fuller than the screen pages sideways, a whole screen of columns at a
// time, and the pager counts the tickets on earlier and later pages. So every ticket is on this
// page or counted, and nothing scrolls. Selecting a ticket turns to its page; keys 1-9 and 0 pick
// the tickets of this page, numbered on their heads.

// The parts of a ticket a column may break between (a line is never cut in two).
const PARTS = [".ticket-head", ".allergen-marker", ".ticket-meta", ".lines > .line", ".order-note", ".ticket-foot"]
  .map((part) => `:scope > ${part}`)
  .join(", ");
const TALL = 0.6;
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];

export function createLayout({ board, pager }) {
  let page = 0;
  let pages = 1;
  let queued = false;

  function schedule() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      if (queued) arrange();
    });
  }

  function arrange() {
    queued = false;
    for (const marker of board.querySelectorAll(".continued")) marker.remove();
    const tickets = all();
    const grid = measure();
    tickets.forEach((ticket) => allowBreak(ticket, grid));
    tickets.forEach((ticket) => markContinued(ticket, grid));
    pages = 1;
    for (const ticket of tickets) {
      const rects = ticket.getClientRects();
      if (!rects.length) continue;
      ticket.dataset.page = String(grid.pageOf(headOf(ticket).left));
      pages = Math.max(pages, grid.pageOf(rects[rects.length - 1].left) + 1);
    }
    turnTo(Math.min(page, pages - 1));
  }

  // Where columns and pages fall, in the board's own coordinates (whatever page is showing).
  function measure() {
    const style = getComputedStyle(board);
    const gap = parseFloat(style.columnGap) || 0;
    const width = board.clientWidth;
    const wanted = parseFloat(style.columnWidth) || width;
    const count = Math.max(1, Math.floor((width + gap) / (wanted + gap)));
    const pitch = (width + gap) / count;
    const origin = board.getBoundingClientRect().left; // wherever it is turned to
    return {
      columnHeight: board.clientHeight,
      columnOf: (x) => Math.floor((x - origin + 1) / pitch),
      pageOf: (x) => Math.floor((x - origin + 1) / (width + gap)),
      pageWidth: width + gap,
    };
  }

  // A ticket that fits what is left of a column stays whole and starts the next column if not;
  // a tall one (more than TALL of a column) fills the column and goes on in the next, as a
  // newspaper's columns do, rather than leave a column half empty.
  function allowBreak(ticket, grid) {
    let height = 0;
    for (const rect of ticket.getClientRects()) height += rect.height;
    ticket.classList.toggle("may-break", height > TALL * grid.columnHeight);
  }

  function markContinued(ticket, grid) {
    if (ticket.getClientRects().length < 2) return;
    const parts = Array.from(ticket.querySelectorAll(PARTS));
    let column = grid.columnOf(headOf(ticket).left);
    for (const part of parts.slice(1)) {
      const at = grid.columnOf(part.getBoundingClientRect().left);
      if (at <= column) continue;
      const marker = document.createElement(part.tagName === "LI" ? "li" : "div");
      marker.className = "continued";
      marker.textContent = `${ticket.dataset.title || ""} · continued`;
      part.before(marker);
      column = at;
    }
  }

  function turnTo(wanted) {
    page = Math.max(0, Math.min(wanted, pages - 1));
    // Turned by a transform, not scrolled: a scroll stops short on a last page that is not full.
    board.style.setProperty("--page", String(page));
    let earlier = 0;
    let later = 0;
    let key = 0;
    for (const ticket of all()) {
      const on = Number(ticket.dataset.page || 0);
      earlier += on < page ? 1 : 0;
      later += on > page ? 1 : 0;
      const label = ticket.querySelector("[data-key]");
      if (label) label.textContent = on === page && key < KEYS.length ? KEYS[key++] : "";
    }
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

  // Where a ticket is, for a cook: its head (it may begin with an empty sliver, its top border,
  // at the foot of the column before).
  function headOf(ticket) {
    const head = ticket.querySelector(".ticket-head") || ticket;
    return head.getBoundingClientRect();
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
