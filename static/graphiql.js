// GraphiQL, started from files this server hands out (schema/graphiql.py). Queries are POSTed to
// /graphql and subscriptions go over its WebSocket, each with the headers typed into the headers
// editor: GraphiQL sends them as HTTP headers, and as connection_init's payload on the socket,
// which is where the server reads a socket's token.
"use strict";

(function () {
  const http = new URL("/graphql", window.location.href);
  const socket = new URL(http);
  socket.protocol = http.protocol === "https:" ? "wss:" : "ws:";
  const hint = [
    "# Put a staff token in the Headers tab below (make one with `orderpass token create`):",
    '#   {"Authorization": "Bearer opt_..."}',
    "# then re-fetch the schema (the circling arrows, bottom left) for docs and completion,",
    "# and run this with the play button or Ctrl-Enter.",
    "{ lastSequence }",
    "",
  ].join("\n");
  const ide = React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: http.href, subscriptionUrl: socket.href }),
    defaultQuery: hint,
    defaultEditorToolsVisibility: "headers",
    shouldPersistHeaders: false, // and, being false, GraphiQL hides its switch to turn it on
    storage: tokenFreeStorage(),
  });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(ide);

  // A staff token must not outlive the tab on a shared venue machine, but GraphiQL 3 saves every
  // run's headers with its history (and favourites) in localStorage, whatever
  // shouldPersistHeaders says. So it gets localStorage with those headers dropped on the way in.
  function tokenFreeStorage() {
    const ours = () => Object.keys(localStorage).filter((key) => key.startsWith("graphiql:"));
    const saved = new Set(["graphiql:queries", "graphiql:favorites"]);
    return {
      getItem: (key) => localStorage.getItem(key),
      setItem: (key, value) => localStorage.setItem(key, saved.has(key) ? withoutHeaders(value) : value),
      removeItem: (key) => localStorage.removeItem(key),
      get length() {
        return ours().length;
      },
      clear: () => ours().forEach((key) => localStorage.removeItem(key)),
    };
  }

  function withoutHeaders(value) {
    const lists = JSON.parse(value); // {"queries": [{query, variables, headers, ...}, ...]}
    for (const operations of Object.values(lists)) {
      for (const operation of operations) delete operation.headers;
    }
    return JSON.stringify(lists);
  }
})();
