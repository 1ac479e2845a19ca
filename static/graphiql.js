// GraphiQL, started from files this server hands out (server/graphiql.py). Queries are POSTed to
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
  });
  ReactDOM.createRoot(document.getElementById("graphiql")).render(ide);

})();
