// Apollo Client's persisted-query link (automatic persisted queries) against the gateway:
// node persisted.mjs <graphql url> <rounds>. Sends a submitSum mutation (POST) and a
// functions query (GET, useGETForHashedQueries) `rounds` times each, and prints one JSON
// object: every HTTP request the link made ({method, query: whether the document was sent,
// hash, status, errors}) and every operation's result, for the Python test to check.
import { createHash } from "node:crypto";

import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";

const [url, rounds] = [process.argv[2], Number(process.argv[3] ?? 3)];
const requests = [];

async function recordingFetch(input, init) {
  const method = init?.method ?? "GET";
  const sent = method === "GET"
    ? Object.fromEntries(new URL(input).searchParams)
    : JSON.parse(init.body);
  const extensions = typeof sent.extensions === "string" ? JSON.parse(sent.extensions) : sent.extensions;
  const response = await fetch(input, init);
  const body = await response.clone().json();
  requests.push({
    method,
    query: typeof sent.query === "string",
    hash: extensions?.persistedQuery?.sha256Hash ?? null,
    status: response.status,
    errors: (body.errors ?? []).map((e) => e.extensions?.code ?? e.message),
  });
  return response;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const link = createPersistedQueryLink({ sha256, useGETForHashedQueries: true })
  .concat(new HttpLink({ uri: url, fetch: recordingFetch }));
const client = new ApolloClient({ link, cache: new InMemoryCache() });

const SUBMIT = gql`mutation ApolloSubmit($n: BigInt!) { submitSum(number: $n) { id status } }`;
const FUNCTIONS = gql`query ApolloFunctions { functions { name } }`;
const results = [];
for (let round = 0; round < rounds; round += 1) {
  const submitted = await client.mutate({ mutation: SUBMIT, variables: { n: 10 + round } });
  const functions = await client.query({ query: FUNCTIONS, fetchPolicy: "network-only" });
  results.push({ submitSum: submitted.data.submitSum, functions: functions.data.functions });
}
console.log(JSON.stringify({ requests, results }));
