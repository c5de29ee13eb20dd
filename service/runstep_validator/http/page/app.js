// The validation page: it sends what the user pastes to the public API and shows each error where it is.
// Nothing is stored on the server and nothing leaves for another origin; the shared state travels in the URL
// fragment, which browsers never send.
"use strict";

const $ = (id) => document.getElementById(id);
const text = $("text");
const gutter = $("gutter");
const units = $("units");
const summary = $("summary");
const status = $("status");
let lastReport = null;
const schemas = new Map();  // by $id: each schema's name, title and URL on this service

// ---- the editor: line numbers, marks, and putting the caret on a value

function lineStarts(value) {
  const starts = [0];
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function renderGutter(marks = new Map()) {
  const count = lineStarts(text.value).length;
  const parts = [];
  for (let line = 1; line <= count; line++) {
    const mark = marks.get(line);
    parts.push(mark ? `<span class="${mark}">${line}</span>` : String(line));
  }
  gutter.innerHTML = parts.join("\n");
  gutter.scrollTop = text.scrollTop;
}

// Columns count characters, as every surface does (SARIF's unicodeCodePoints); the text box counts UTF-16 units,
// two for a character beyond the BMP, such as an emoji.
function offsetOf(line, column) {
  const value = text.value;
  const starts = lineStarts(value);
  let offset = starts[Math.min(Math.max(line, 1), starts.length) - 1];
  for (let left = Math.max(column, 1) - 1; left > 0 && offset < value.length; left--) {
    const pair = value.codePointAt(offset) > 0xffff;
    offset += pair ? 2 : 1;
  }
  return Math.min(offset, value.length);
}

// Where the JSON value starting at `offset` ends: a string, a bracketed value, or a bare literal.
function valueEnd(value, offset) {
  const first = value[offset];
  if (first === '"') {
    for (let i = offset + 1; i < value.length; i++) {
      if (value[i] === "\\") i++;
      else if (value[i] === '"') return i + 1;
    }
    return value.length;
  }
  if (first === "{" || first === "[") {
    let depth = 0;
    for (let i = offset; i < value.length; i++) {
      const c = value[i];
      if (c === '"') {
        for (i++; i < value.length && value[i] !== '"'; i++) if (value[i] === "\\") i++;
      } else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return value.length;
  }
  let i = offset;
  while (i < value.length && !/[,\]}\s]/.test(value[i])) i++;
  return Math.max(i, offset + 1);
}

function goTo(line, column) {
  const start = offsetOf(line, column);
  const end = valueEnd(text.value, start);
  text.focus();
  text.setSelectionRange(start, end);
  scrollToPlace(line, column);
}

// A line and column in view, two lines above it and some characters to its left: lines do not wrap, and a JSON
// Lines record or an event's data is one long line whose error may be hundreds of characters along.
function scrollToPlace(line, column) {
  const style = getComputedStyle(text);
  const lineHeight = parseFloat(style.lineHeight) || 20;
  const measure = document.createElement("canvas").getContext("2d");
  measure.font = style.font;
  const character = measure.measureText("0").width || 8;
  const x = (column - 1) * character;
  text.scrollTop = Math.max(0, (line - 3) * lineHeight);
  text.scrollLeft = x > text.clientWidth - 12 * character ? Math.max(0, x - 16 * character) : 0;
  gutter.scrollTop = text.scrollTop;
}

text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
text.addEventListener("input", () => { renderGutter(); markStale(); });
text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    validate();
  }
});

// ---- input: files, drops, examples

async function loadFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    clearResults();
    say(`${file.name} is gzipped: unzip it first, or check it with "runstep-validator validate", which reads .gz files.`);
    return;
  }
  text.value = new TextDecoder("utf-8").decode(bytes);
  // As the command line reads a file by its name (its suffix, as written): a .jsonl file is JSON Lines whatever
  // its content looks like.
  if (/\.sse$/.test(file.name)) $("mode").value = "stream";
  else if (/\.(jsonl|ndjson)$/.test(file.name)) $("mode").value = "lines";
  else if (/\.json$/.test(file.name)) $("mode").value = "json";
  else $("mode").value = "auto";
  renderGutter();
  say(`Loaded ${file.name} (${bytes.length.toLocaleString()} bytes).`);
}

$("file").addEventListener("change", (event) => {
  const chosen = event.target.files[0];
  event.target.value = "";  // the same file, fixed, can be chosen again (a change event needs a new value)
  if (chosen) loadFile(chosen);
});
const editor = $("editor");
editor.addEventListener("dragover", (event) => { event.preventDefault(); editor.classList.add("dragging"); });
editor.addEventListener("dragleave", () => editor.classList.remove("dragging"));
editor.addEventListener("drop", (event) => {
  event.preventDefault();
  editor.classList.remove("dragging");
  if (event.dataTransfer.files[0]) loadFile(event.dataTransfer.files[0]);
});

// The menu's examples, valid ones and ones with the mistakes people make (tools/page_examples.py writes them from
// the files in examples/). Each says how to check it: the input kind and the dialect; the schema goes back to auto.
const examples = [];
$("example").addEventListener("change", (event) => {
  const chosen = examples[Number(event.target.value)];
  if (!chosen) return;
  text.value = chosen.text;
  $("mode").value = chosen.mode;
  $("schema").value = "auto";
  if ([...$("dialect").options].some((option) => option.value === chosen.dialect)) $("dialect").value = chosen.dialect;
  renderGutter();
  markStale();
  text.scrollTop = 0;
  gutter.scrollTop = 0;
  event.target.value = "";
  say(`Loaded ${chosen.title}.`);
});

async function loadExamples() {
  const shipped = await (await fetch("/page/examples.json")).json();
  const groups = { true: document.createElement("optgroup"), false: document.createElement("optgroup") };
  groups.true.label = "Valid";
  groups.false.label = "With mistakes";
  for (const item of shipped) {
    examples.push(item);
    groups[item.valid].append(new Option(item.title, String(examples.length - 1)));
  }
  $("example").append(groups.true, groups.false);
}

// ---- what the API offers: entries (and their examples) and dialects

async function loadChoices() {
  const index = await (await fetch("/v1/schemas")).json();
  const schema = $("schema");
  schema.add(new Option("Automatic, strict variants", "auto+strict"));
  for (const entry of index) schemas.set(entry.$id, entry);
  for (const entry of index.filter((item) => item.entry)) {
    const option = new Option(entry.name, entry.name);
    option.title = entry.title;
    schema.add(option);
  }
  await loadExamples();
  const description = await (await fetch("/openapi.json")).json();
  const parameters = description.paths["/v1/validate"].post.parameters || [];
  const dialect = parameters.find((parameter) => parameter.name === "dialect");
  if (dialect) {
    $("dialect").innerHTML = "";
    for (const name of dialect.schema.enum) $("dialect").add(new Option(name, name));
    $("dialect").value = dialect.schema.default;
  }
}

// ---- sending: which route, which content type

// One JSON document, as the command line reads a .json file: an array or a list response is a batch of its items,
// another value one payload; a document that is no JSON is read as the command line reads it, its readable items
// first, then one record holding the rest and where it breaks.
function documentRoute(trimmed) {
  try {
    return routeOf(JSON.parse(trimmed));
  } catch (error) {
    return { route: "batch", type: "application/json" };
  }
}

// A list response as the command line's reader knows one: its object says "list", or says nothing beside a data array.
function isListResponse(parsed) {
  if (!parsed || typeof parsed !== "object") return false;
  return Array.isArray(parsed.data) && (parsed.object === "list" || parsed.object === undefined || parsed.object === null);
}

function routeOf(parsed) {
  if (Array.isArray(parsed) || isListResponse(parsed)) return { route: "batch", type: "application/json" };
  return { route: "single", type: "application/json" };
}

function detect(value) {
  const trimmed = value.trim();
  if (/^(event|data|id|retry)\s*:|^:/.test(trimmed)) return { route: "stream", type: "text/event-stream" };
  try {
    return routeOf(JSON.parse(trimmed));
  } catch (error) {
    const lines = trimmed.split(/\r?\n/).filter((line) => line.trim());
    if (lines.length > 1) {
      try {
        JSON.parse(lines[0]);
        return { route: "batch", type: "application/x-ndjson" };
      } catch (ignored) { /* not JSON Lines either: the single route says where the JSON breaks */ }
    }
    return { route: "single", type: "application/json" };
  }
}

function request() {
  const mode = $("mode").value;
  const fixed = {
    single: () => ({ route: "single", type: "application/json" }),
    stream: () => ({ route: "stream", type: "text/event-stream" }),
    lines: () => ({ route: "batch", type: "application/x-ndjson" }),
    json: () => documentRoute(text.value.trim()),
  }[mode];
  let chosen = fixed ? fixed() : detect(text.value);  // the content is read once, and only where it decides
  if (mode === "batch" && chosen.route !== "batch") {
    chosen = { route: "batch", type: text.value.trim().startsWith("[") ? "application/json" : "application/x-ndjson" };
  }
  const params = new URLSearchParams();
  const schema = $("schema").value;
  if (schema === "auto+strict") params.set("strict", "true");
  else if (schema !== "auto") params.set("schema", schema);  // a stream's route refuses it, and says why
  params.set("dialect", $("dialect").value);
  const path = { single: "/v1/validate", batch: "/v1/validate/batch", stream: "/v1/validate/stream" }[chosen.route];
  return { ...chosen, url: `${path}?${params}` };
}

async function validate() {
  if (!text.value.trim()) {
    clearResults();
    say("Paste or drop something to validate first.");
    return;
  }
  const sent = request();
  say("Validating…");
  let response;
  try {
    response = await fetch(sent.url, { method: "POST", headers: { "Content-Type": sent.type }, body: text.value });
  } catch (error) {
    say(`The service did not answer: ${error.message}`);
    return;
  }
  const body = await response.json().catch(() => null);
  lastReport = body;
  $("copy").disabled = body === null;
  if (!response.ok || (response.headers.get("Content-Type") || "").startsWith("application/problem+json")) {
    showProblem(body || { title: `HTTP ${response.status}`, detail: "the service answered without a body" });
    say(response.status >= 500 ? "The service failed on this request: nothing was checked." : refused(sent));
  } else {
    if (sent.route === "single") showSingle(body);
    else if (sent.route === "batch") showBatch(body);
    else showStream(body);
    say(checked(sent, body));
  }
  firstErrorInView();
}

const inputKind = { single: "one payload", batch: "a batch of records", stream: "an event stream" };

// A request the service refused (a problem): nothing was checked, and the problem shown says why.
function refused(sent) {
  return `Refused: the service did not check ${inputKind[sent.route]}; the message says why.`;
}

// What was checked, in a person's words: the kind of input and the schema or dialect it was held to.
function checked(sent, body) {
  const how = $("schema").options[$("schema").selectedIndex]?.text || $("schema").value;
  const dialect = $("dialect").value;
  const kind = inputKind[sent.route];
  return `Checked ${kind} against ${how}, ${dialect} dialect${body && body.schema ? ` (${body.schema.split("/").pop()})` : ""}.`;
}

function firstErrorInView() {
  const first = units.querySelector(".unit.error[data-line]") || units.querySelector(".unit[data-line]");
  if (first) scrollToPlace(Number(first.dataset.line), Number(first.dataset.column));
}

// Results that no longer describe the text: marked, not left as if they did.
function markStale() {
  if (["valid", "invalid", "problem"].some((verdict) => summary.classList.contains(verdict))) summary.classList.add("stale");
}

// ---- showing results

function say(message) { status.textContent = message; }

function clearResults() {
  summary.className = "summary";
  summary.innerHTML = "<p>Nothing validated yet.</p>";
  units.replaceChildren();
  lastReport = null;
  $("copy").disabled = true;
  renderGutter();
}

function unitButton(kind, unit, context) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = `unit ${kind}`;
  const where = [];
  if (context) where.push(context);
  if (unit.instanceLocation !== undefined && unit.instanceLocation !== null) where.push(unit.instanceLocation || "(the whole payload)");
  if (unit.line) where.push(`line ${unit.line}, column ${unit.column || 1}`);
  button.innerHTML = `<span class="where"></span><span class="message"><span class="kind"></span></span>`;
  button.querySelector(".where").textContent = where.join(" · ");
  button.querySelector(".kind").textContent = kind === "error" ? "Error" : "Warning";
  button.querySelector(".message").append(unit.error);
  if (unit.line) {
    button.dataset.line = unit.line;
    button.dataset.column = unit.column || 1;
    button.addEventListener("click", () => goTo(unit.line, unit.column || 1));
  }
  item.append(button);
  return item;
}

function show(verdict, headline, detail, list) {
  summary.className = `summary ${verdict}`;
  summary.innerHTML = `<p class="headline"></p><p class="detail"></p>`;
  summary.querySelector(".headline").textContent = headline;
  summary.querySelector(".detail").textContent = detail;
  units.replaceChildren(...list);
  const marks = new Map();
  for (const item of list) {
    const button = item.firstChild;
    const line = Number(button.dataset.line);
    if (line && marks.get(line) !== "error") marks.set(line, button.classList.contains("error") ? "error" : "warning");
  }
  renderGutter(marks);
}

function showSingle(report) {
  const list = [...report.errors.map((unit) => unitButton("error", unit)), ...(report.warnings || []).map((unit) => unitButton("warning", unit))];
  show(report.valid ? "valid" : "invalid", report.valid ? "Valid" : report.headline, `${found(report.errors.length, (report.warnings || []).length)} · `, list);
  // The schema by its title, linked to this service's copy; its $id (a long URL) only in the link's tooltip.
  const known = schemas.get(report.schema);
  const link = document.createElement("a");
  link.textContent = known ? known.title : report.schema.split("/").pop();
  link.href = known ? known.url : report.schema;
  link.title = report.schema;
  summary.querySelector(".detail").append(link);
}

function showBatch(answer) {
  const list = [];
  let warnings = 0;
  for (const result of answer.results) {
    const context = `record ${result.index + 1} (line ${result.line})`;
    for (const unit of result.errors || []) list.push(unitButton("error", unit, context));
    for (const unit of result.warnings || []) { warnings++; list.push(unitButton("warning", unit, context)); }
  }
  const { total, valid, invalid } = answer.summary;
  const errors = list.length - warnings;
  const records = counted(total, "record");
  const headline = invalid ? `${invalid} of ${records} invalid` : total === 1 ? "The record is valid" : `All ${records} valid`;
  show(invalid ? "invalid" : "valid", headline, `${records}: ${valid} valid, ${invalid} invalid (${found(errors, warnings)})`, list);
}

// "3 errors, 1 warning": the words of the command line's summary, so that both read alike.
function counted(number, noun) { return `${number} ${noun}${number === 1 ? "" : "s"}`; }
function found(errors, warnings) { return `${counted(errors, "error")}, ${counted(warnings, "warning")}`; }

function showStream(answer) {
  const context = (unit) => (unit.event ? `event ${unit.event}${unit.eventName ? ` (${unit.eventName})` : ""}` : "stream");
  // The answer's errors are the stream's own (an accumulation names the step's final event) and every event's, each
  // naming its event: listed in the transcript's order, so that the first listed, and scrolled to, is the first in
  // the text.
  const errors = (answer.errors || []).map((unit) => ({ unit, where: context(unit) }));
  const place = ({ unit }) => [unit.line || Infinity, unit.column || 0];
  errors.sort((a, b) => place(a)[0] - place(b)[0] || place(a)[1] - place(b)[1]);
  const list = errors.map(({ unit, where }) => unitButton("error", unit, where));
  let warnings = 0;
  // Likewise its warnings.
  for (const unit of answer.warnings || []) { warnings++; list.push(unitButton("warning", unit, context(unit))); }
  // Every event is a record (thread.run.created and done too), invalid when any error concerns it: the numbers the
  // command line gives for the same transcript ("10 records: 9 valid, 1 invalid").
  const events = answer.summary.events;
  const invalidEvents = answer.summary.invalid_events;
  const counts = counted(events, "event");
  const headline = answer.valid ? `Valid stream of ${counts}` : `Invalid stream: ${invalidEvents} of ${counts} invalid`;
  show(answer.valid ? "valid" : "invalid", headline, `${counts}: ${events - invalidEvents} valid, ${invalidEvents} invalid (${found(errors.length, warnings)})`, list);
}

function showProblem(problem) {
  const list = [];
  if (problem.line) list.push(unitButton("error", { error: problem.detail, line: problem.line, column: problem.column }));
  show("problem", problem.title || "The request was refused", problem.detail || "", list);
}

// ---- sharing: the state in the URL fragment, never sent to the server

function encodeState() {
  const state = JSON.stringify({ text: text.value, schema: $("schema").value, dialect: $("dialect").value, mode: $("mode").value });
  const bytes = new TextEncoder().encode(state);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function restoreState() {
  const fragment = location.hash.slice(1);
  if (!fragment.startsWith("state=")) return;
  try {
    const binary = atob(fragment.slice(6).replace(/-/g, "+").replace(/_/g, "/"));
    const state = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
    text.value = state.text || "";
    for (const name of ["schema", "dialect", "mode"]) {
      if (state[name] && [...$(name).options].some((option) => option.value === state[name])) $(name).value = state[name];
    }
    say("Restored from the link: press Validate to check it.");
  } catch (error) {
    say("This link's state could not be read.");
  }
  renderGutter();
}

$("share").addEventListener("click", async () => {
  const link = `${location.origin}${location.pathname}#state=${encodeState()}`;
  history.replaceState(null, "", link);
  const field = $("share-link");
  field.hidden = false;
  field.value = link;
  field.select();
  try {
    await navigator.clipboard.writeText(link);
    say("Link copied: it carries the text in its fragment, which is never sent to the server.");
  } catch (error) {
    say("Copy the link from the field: it carries the text in its fragment, never sent to the server.");
  }
});

$("copy").addEventListener("click", async () => {
  const json = JSON.stringify(lastReport, null, 2);
  try {
    await navigator.clipboard.writeText(json);
    say("Report copied as JSON.");
  } catch (error) {
    const field = $("share-link");
    field.hidden = false;
    field.value = json;
    field.select();
    say("The clipboard is not available: the report is selected in the field.");
  }
});

$("validate").addEventListener("click", validate);

loadChoices()
  .then(restoreState, (error) => { say(`Could not load the schema list: ${error.message}`); restoreState(); })
  .finally(() => { document.body.dataset.ready = "true"; });
renderGutter();
