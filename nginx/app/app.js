// The page: an API key, a sum to submit, the job followed live (jobUpdated: a progress
// bar, then the result or the error), a cancel button, and the caller's jobs as they change
// (jobsUpdated, after the list so far from jobs()).
import {
  CANCEL, FINAL, JOBS_UPDATED, JOB_UPDATED, MY_JOBS, SUBMIT_SUM,
  connect, describe, run, unavailable,
} from "./api.js";

const KEY = "jobGateway.apiKey";
const RESUBSCRIBE_MS = 1000;
const $ = (id) => document.getElementById(id);

const jobs = new Map(); // id -> the newest record seen
let client = null;
let key = "";
let stopList = () => {};
let stopFollow = () => {};
let followed = null; // the id of the job in the "current" panel

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function fail(error) {
  showError(describe(error, key));
}

// Handlers for a subscription of the current connection: once the key changed, whatever
// the old connection still reports is dropped.
function sink(next, error) {
  const mine = client;
  const current = (handle) => (value) => (client === mine ? handle(value) : undefined);
  return { next: current(next), error: current(error), complete: () => {} };
}

function resultText(job) {
  if (job.status === "FAILED" && job.error) return `${job.error.type}: ${job.error.message}`;
  if (job.status !== "SUCCEEDED") return "";
  const value = job.result;
  return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
}

function fraction(job) {
  if (job.status === "SUCCEEDED") return 1;
  return job.progress ? job.progress.fraction : 0;
}

function percent(job) {
  return `${Math.floor(fraction(job) * 100)}%`;
}

// A record replaces the one seen before, except that an ended job never goes back to
// running (two subscriptions may deliver the same change in either order).
function remember(job) {
  const known = jobs.get(job.id);
  if (known && FINAL.has(known.status) && !FINAL.has(job.status)) return;
  jobs.set(job.id, job);
  renderRows();
  if (job.id === followed) renderCurrent(job);
}

function renderCurrent(job) {
  $("current").hidden = false;
  $("current-id").textContent = job.id;
  $("current-status").textContent = job.status;
  $("current-progress").value = fraction(job);
  $("current-percent").textContent = percent(job);
  $("current-result").textContent = resultText(job);
  $("cancel").disabled = FINAL.has(job.status);
}

function cell(row, text) {
  row.insertCell().textContent = text;
}

function renderRows() {
  const sorted = [...jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const body = $("job-rows");
  body.replaceChildren();
  for (const job of sorted) {
    const row = body.insertRow();
    row.dataset.jobId = job.id;
    row.dataset.status = job.status;
    const id = document.createElement("code");
    id.textContent = job.id.slice(0, 8);
    id.title = job.id;
    row.insertCell().append(id);
    cell(row, job.function);
    cell(row, job.status);
    cell(row, percent(job));
    cell(row, resultText(job));
  }
}

// Subscribe first, then read the list so far: no change slips between the two. The list
// so far never overwrites what the subscription already brought.
function listJobs() {
  const mine = client;
  stopList = client.subscribe({ query: JOBS_UPDATED }, sink(
    ({ data, errors }) => (errors ? fail(errors) : remember(data.jobsUpdated)),
    (problem) => {
      fail(problem);
      if (unavailable(problem)) setTimeout(() => client === mine && listJobs(), RESUBSCRIBE_MS);
    },
  ));
  run(client, MY_JOBS)
    .then((data) => data.jobs.edges.forEach(({ node }) => jobs.has(node.id) || remember(node)))
    .catch((problem) => client === mine && fail(problem));
}

function follow(id) {
  stopFollow();
  followed = id;
  stopFollow = client.subscribe({ query: JOB_UPDATED, variables: { id } }, sink(
    ({ data, errors }) => (errors ? fail(errors) : remember(data.jobUpdated)),
    fail,
  ));
}

function start(newKey) {
  key = newKey;
  stopList();
  stopFollow();
  client?.dispose();
  jobs.clear();
  followed = null;
  $("current").hidden = true;
  renderRows();
  showError("");
  client = connect(key, (connected) => {
    $("connection").textContent = connected ? "Connected to the gateway." : "Not connected.";
  });
  listJobs();
}

async function submit(event) {
  event.preventDefault();
  const n = $("number").value.trim();
  if (!/^[0-9]+$/.test(n)) {
    showError("n must be a whole number of digits, e.g. 50000000.");
    return;
  }
  showError("");
  try {
    // As a string of digits: BigInt takes any size exactly.
    const { submitSum } = await run(client, SUBMIT_SUM, { n });
    follow(submitSum.id);
    remember(submitSum); // jobUpdated's first event, the job's state then, follows
  } catch (error) {
    fail(error);
  }
}

async function cancel() {
  if (!followed) return;
  try {
    const { cancelJob } = await run(client, CANCEL, { id: followed });
    if (cancelJob) remember(cancelJob);
  } catch (error) {
    fail(error);
  }
}

function useKey(event) {
  event.preventDefault();
  const typed = $("api-key").value.trim();
  sessionStorage.setItem(KEY, typed);
  start(typed);
}

$("key-form").addEventListener("submit", useKey);
$("submit-form").addEventListener("submit", submit);
$("cancel").addEventListener("click", cancel);
$("api-key").value = sessionStorage.getItem(KEY) ?? "";
start($("api-key").value);
