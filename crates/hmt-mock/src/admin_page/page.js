// hmt mock's admin page: reads the admin API about once a second and draws
// what it read with DOM nodes. Text from requests, specs and stubs only
// ever goes in as text (`append` of strings, `textContent`, `title`),
// never as markup, so nothing a client sends can become HTML or script.
"use strict";

/** Time between the end of one reading and the start of the next. */
const POLL_MS = 1000;
/** Requests shown, the latest: the journal keeps up to 10,000. */
const LAST_REQUESTS = 200;
/** Imposters read in detail (stubs, misses) on each poll. */
const MAX_IMPOSTERS = 50;
/** Misses shown per imposter, the latest. */
const LAST_MISSES = 10;

/** What each section was last drawn from: a section is redrawn only when it changed. */
const drawn = new Map();

/** An element of class `className` holding `children` (strings become text nodes). */
function node(tag, className, ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/** The text of a GET of the admin API; an error naming the path unless 2xx. */
async function read(path) {
  const response = await fetch(path, {
    headers: { accept: "application/json" },
    cache: "no-store",
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${path} answered ${response.status}: ${text.slice(0, 200)}`);
  }
  return text;
}

/** Calls `draw` with the JSON of `text` unless `section` was last drawn from the same text. */
function redraw(section, text, draw) {
  if (drawn.get(section) === text) return;
  drawn.set(section, text);
  draw(JSON.parse(text));
}

function setStatus(text, isError) {
  const status = document.getElementById("status");
  if (status.textContent !== text) status.textContent = text;
  status.classList.toggle("error", isError);
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** `HH:MM:SS.mmm` of an RFC 3339 timestamp in UTC, as the journal writes them. */
function clock(timestamp) {
  return typeof timestamp === "string" ? timestamp.slice(11, 23) : "";
}

/** A header of an http-types message (names are lower case; a value may be a list). */
function header(message, name) {
  const value = message && message.headers ? message.headers[name] : undefined;
  return Array.isArray(value) ? value.join(", ") : value || "";
}

// ---- requests -----------------------------------------------------------------

/** hmt's problem document of a refusal: in meta when the answer took the
 * operation's documented shape, else the response body itself. */
function problemOf(exchange) {
  const meta = exchange.meta || {};
  if (meta.problem) return meta.problem;
  const response = exchange.response;
  if (!header(response, "content-type").includes("problem+json")) return null;
  if (typeof response.body !== "string" || meta.responseBodyEncoding) return null;
  try {
    return JSON.parse(response.body);
  } catch {
    return null;
  }
}

/** Why nothing answered: hmt's explanation (it names the closest operations
 * or recorded request) and the nearest programmed stub with each refusal. */
function whyMissed(exchange) {
  const reasons = node("ul", "reasons");
  const problem = problemOf(exchange);
  if (problem && problem.detail) reasons.append(node("li", null, String(problem.detail)));
  const nearest = (exchange.meta || {}).nearestStub;
  if (nearest) reasons.append(node("li", null, nearestStub(nearest)));
  return reasons.childElementCount > 0 ? reasons : null;
}

/** `nearest stub N: why; why` of a nearest-stub report. */
function nearestStub(nearest) {
  const why = (nearest.refused || []).map((refusal) => String(refusal.why));
  return `nearest stub ${nearest.index}: ${why.join("; ") || "it matches now"}`;
}

function requestRow(exchange) {
  const request = exchange.request || {};
  const response = exchange.response || {};
  const meta = exchange.meta || {};
  const status = response.statusCode;
  let answeredBy;
  if (meta.answeredBy) {
    const name = meta.answeredBy === "stub" && meta.stub !== undefined
      ? `stub ${meta.stub}`
      : String(meta.answeredBy);
    answeredBy = node("span", "answered", name);
  } else if (status === 404) {
    answeredBy = node("span", "missed", "no match");
  } else if (status >= 400) {
    answeredBy = node("span", "missed", "refused");
  } else {
    answeredBy = node("span", null, "the mock itself");
  }
  const target = node("td", "target", `${String(request.method || "").toUpperCase()} ${request.path || "/"}`);
  if (request.host) target.title = `host ${request.host}`;
  return node(
    "tr",
    meta.answeredBy ? null : "miss",
    node("td", "time", clock(request.timestamp)),
    target,
    node("td", "status", status === undefined ? "" : String(status)),
    node("td", null, answeredBy),
    node("td", null, meta.answeredBy ? null : whyMissed(exchange)),
  );
}

function drawRequests(exchanges) {
  const rows = exchanges.slice().reverse().map(requestRow);
  document.getElementById("requests-rows").replaceChildren(...rows);
  document.getElementById("requests-empty").hidden = exchanges.length > 0;
}

// ---- specs --------------------------------------------------------------------

function row(cellClass, ...cells) {
  return node("tr", null, ...cells.map((text, at) => node("td", cellClass[at], text)));
}

function drawSpecs(specs) {
  const sections = specs.map((spec) => {
    const servers = (spec.servers || [])
      .map((server) => `${server.host || ""}${server.basePath || ""}`)
      .filter((server) => server.length > 0);
    const operations = (spec.operations || []).map((operation) =>
      row(
        ["method", "target", null, null],
        String(operation.method),
        String(operation.path),
        operation.operationId ? String(operation.operationId) : "",
        operation.recorded ? plural(operation.recorded, "recorded exchange") : "",
      ),
    );
    return node(
      "div",
      "spec",
      node("h3", null, String(spec.title || "untitled")),
      node("p", "file", String(spec.file || ""), servers.length ? ` — ${servers.join(", ")}` : ""),
      node(
        "table",
        null,
        node("thead", null, node("tr", null, ...["method", "path", "operationId", "replay"].map((name) => node("th", null, name)))),
        node("tbody", null, ...operations),
      ),
    );
  });
  document.getElementById("specs-list").replaceChildren(...sections);
  document.getElementById("specs-empty").hidden = specs.length > 0;
}

// ---- imposters ----------------------------------------------------------------

/** The imposters, and for the first MAX_IMPOSTERS their stubs and misses, as one text. */
async function readImposters() {
  const list = JSON.parse(await read("/imposters")).imposters || [];
  const details = await Promise.all(
    list.slice(0, MAX_IMPOSTERS).map(async (listed) => {
      const port = encodeURIComponent(String(listed.port));
      try {
        const [imposter, misses] = await Promise.all([
          read(`/imposters/${port}`),
          read(`/imposters/${port}/misses`),
        ]);
        return { imposter: JSON.parse(imposter), misses: JSON.parse(misses).misses || [] };
      } catch {
        // Deleted since the list was read: shown as listed.
        return { imposter: listed, misses: [] };
      }
    }),
  );
  return JSON.stringify({ total: list.length, details });
}

function compact(value) {
  return value === undefined ? "" : JSON.stringify(value);
}

function drawImposters({ total, details }) {
  const sections = details.map(({ imposter, misses }) => {
    const title = `${imposter.protocol || "http"} imposter on port ${imposter.port}`;
    const stubs = (imposter.stubs || []).map((stub, index) =>
      node(
        "div",
        "stub",
        node("strong", null, `stub ${index}`),
        node("pre", null, `predicates ${compact(stub.predicates || [])}`),
        node("pre", null, `responses ${compact(stub.responses || [])}`),
      ),
    );
    const missed = misses.slice(-LAST_MISSES).reverse().map((miss) => {
      const request = miss.request || {};
      return node(
        "li",
        null,
        `${clock(miss.timestamp)} ${String(request.method || "")} ${String(request.path || "")}: `,
        miss.nearestStub ? nearestStub(miss.nearestStub) : "no stubs",
      );
    });
    return node(
      "div",
      "imposter",
      node("h3", null, title, imposter.name ? ` — ${String(imposter.name)}` : ""),
      node("p", "file", `${plural(imposter.numberOfRequests || 0, "request")}, ${plural(stubs.length, "stub")}`),
      ...stubs,
      missed.length ? node("p", null, "Requests no stub matched, latest first:") : null,
      missed.length ? node("ul", "reasons", ...missed) : null,
    );
  });
  if (total > details.length) {
    sections.push(node("p", "hint", `and ${total - details.length} more, not read: see /imposters`));
  }
  document.getElementById("imposters-list").replaceChildren(...sections);
  document.getElementById("imposters-empty").hidden = total > 0;
}

// ---- polling ------------------------------------------------------------------

async function poll() {
  try {
    const [specs, requests, imposters] = await Promise.all([
      read("/admin/specs"),
      read(`/admin/requests?last=${LAST_REQUESTS}`),
      readImposters(),
    ]);
    redraw("specs", specs, drawSpecs);
    redraw("requests", requests, drawRequests);
    redraw("imposters", imposters, drawImposters);
    const specList = JSON.parse(specs);
    const operations = specList.reduce((sum, spec) => sum + (spec.operations || []).length, 0);
    const impostersTotal = JSON.parse(imposters).total;
    setStatus(
      `Live: ${plural(specList.length, "spec")}, ${plural(operations, "operation")}, ` +
        `${plural(impostersTotal, "imposter")}; read every second.`,
      false,
    );
  } catch (error) {
    setStatus(`Cannot read the admin API: ${error.message}. Trying again.`, true);
  }
  setTimeout(poll, POLL_MS);
}

poll();
