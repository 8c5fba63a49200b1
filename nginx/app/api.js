// The gateway's public GraphQL API over one WebSocket (graphql-transport-ws, with
// graphql-ws's client): queries, mutations and subscriptions alike, the API key in
// connection_init, as any frontend of the gateway would call it.
import { createClient } from "graphql-ws";

const JOB = `id function status result createdAt error { type message }
  progress { done total fraction }`;

export const SUBMIT_SUM = `mutation($n: BigInt!) { submitSum(number: $n) { ${JOB} } }`;
export const CANCEL = `mutation($id: ID!) { cancelJob(id: $id) { ${JOB} } }`;
export const MY_JOBS = `query { jobs(first: 20) { edges { node { ${JOB} } } } }`;
export const JOB_UPDATED = `subscription($id: ID!) { jobUpdated(id: $id) { ${JOB} } }`;
export const JOBS_UPDATED = `subscription { jobsUpdated { ${JOB} } }`;

export const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"]);
const REFUSED = 4403; // the gateway closes with it when the API key is missing or wrong
const BAD_MESSAGE = 4400;

// A result is a JSON number with every digit (sums pass 2^53 from n = 134217728 on):
// JSON.parse would round it, so an integer beyond 2^53 becomes a BigInt read from its
// source digits (JSON.parse source text access).
export function exactIntegers(key, value, context) {
  if (typeof value === "number" && !Number.isSafeInteger(value)
      && context && /^-?[0-9]+$/.test(context.source)) {
    return BigInt(context.source);
  }
  return value;
}

function isClose(event) {
  return typeof event === "object" && event !== null && "code" in event && "reason" in event;
}

export function connect(key, onState) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return createClient({
    url: `${scheme}//${location.host}/graphql`,
    connectionParams: key ? { Authorization: `Bearer ${key}` } : {},
    jsonMessageReviver: exactIntegers,
    // A refused key stays refused: say so at once instead of retrying.
    shouldRetry: (event) => isClose(event) && event.code !== REFUSED && event.code !== BAD_MESSAGE,
    on: {
      connected: () => onState(true),
      closed: () => onState(false),
    },
  });
}

// The data of a query or mutation; its errors thrown (as graphql-ws reports them).
export async function run(client, query, variables = {}) {
  for await (const result of client.iterate({ query, variables })) {
    if (result.errors) throw result.errors;
    return result.data;
  }
  throw new Error("the gateway closed the operation without an answer");
}

// Whether a subscription ended because the gateway may have missed changes.
export function unavailable(error) {
  return Array.isArray(error) && error.some((e) => e.extensions?.code === "UNAVAILABLE");
}

// What went wrong, for a person: GraphQL errors, a closed socket or a network failure.
export function describe(error, key) {
  if (Array.isArray(error)) return error.map((e) => e.message).join("; ");
  if (isClose(error)) {
    if (error.code === REFUSED) {
      return key
        ? "The gateway refused the API key (4403 Forbidden): check it and use it again."
        : "The gateway needs an API key (4403 Forbidden): type yours above.";
    }
    return `The connection to the gateway closed (${error.code} ${error.reason}).`.trim();
  }
  if (error instanceof Error) return error.message;
  return "Cannot reach the gateway's WebSocket at /graphql.";
}
