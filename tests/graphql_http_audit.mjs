// The GraphQL-over-HTTP audit of the graphql-http package (node_modules, pinned by
// package-lock.json), run against a live /graphql: `node tests/graphql_http_audit.mjs URL`.
// Every request carries the staff token from ORDERPASS_AUDIT_TOKEN (the environment, not argv,
// so no process listing shows it); prints one JSON array of {id, name, status, reason}.
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
const authorization = `Bearer ${process.env.ORDERPASS_AUDIT_TOKEN}`;

function fetchWithToken(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn: fetchWithToken });
const found = results.map(({ id, name, status, reason }) => ({ id, name, status, reason: reason ?? null }));
process.stdout.write(JSON.stringify(found));
