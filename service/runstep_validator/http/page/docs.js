// Renders the service's OpenAPI description for people: each route, its parameters, bodies and answers, with the
// document's examples of each request and answer (the service's own answers to those requests).
"use strict";

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function table(headings, rows) {
  const node = element("table");
  const head = node.createTHead().insertRow();
  for (const heading of headings) head.append(element("th", heading));
  const body = node.createTBody();
  for (const row of rows) {
    const line = body.insertRow();
    for (const cell of row) line.insertCell().append(cell instanceof Node ? cell : document.createTextNode(String(cell)));
  }
  return node;
}

function exampleText(value) {
  // As the service computed its answers to the request examples: JSON indented by two spaces, text as it is.
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// A list of examples, each one a disclosure headed by its label and summary; the first open when `openFirst`.
function examples(className, entries, openFirst) {
  const list = element("div", undefined, `examples ${className}`);
  entries.forEach(([label, example], index) => {
    const details = element("details");
    details.open = openFirst && index === 0;
    const summary = element("summary");
    summary.append(element("code", label), document.createTextNode(example.summary ? ` ${example.summary}` : ""));
    details.append(summary, element("pre", exampleText(example.value)));
    list.append(details);
  });
  return list;
}

function describeSchema(schema) {
  if (!schema) return "";
  if (schema.enum) return `one of ${schema.enum.map((value) => JSON.stringify(value)).join(", ")}`;
  return schema.type || (schema.$ref ? schema.$ref.split("/").pop() : "");
}

async function render() {
  const main = document.getElementById("docs");
  const description = await (await fetch("/openapi.json")).json();
  main.replaceChildren();
  const intro = element("section");
  // The package's version and the API's are two things: the summary tells them apart.
  intro.append(element("h2", description.info.title));
  intro.append(element("p", description.info.summary || `version ${description.info.version}`, "versions"));
  intro.append(element("p", description.info.description || ""));
  main.append(intro);
  for (const [path, operations] of Object.entries(description.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const section = element("section");
      const title = element("h3");
      title.append(element("span", method, "method"), document.createTextNode(path));
      section.append(title);
      section.append(element("p", [operation.summary, operation.description].filter(Boolean).join(". ")));
      for (const [where, heading] of [["path", "Path parameters"], ["query", "Query parameters"]]) {
        const parameters = (operation.parameters || []).filter((parameter) => parameter.in === where);
        if (!parameters.length) continue;
        section.append(element("h4", heading));
        section.append(table(["name", "values", "default", "meaning"], parameters.map((parameter) => [
          element("code", parameter.name), describeSchema(parameter.schema),
          parameter.schema && parameter.schema.default !== undefined ? String(parameter.schema.default) : "",
          parameter.description || "",
        ])));
      }
      if (operation.requestBody) {
        section.append(element("h4", "Body"));
        section.append(element("p", Object.keys(operation.requestBody.content).join(", ")));
        const requests = Object.entries(operation.requestBody.content).flatMap(([mediaType, content]) =>
          Object.entries(content.examples || {}).map(([name, example]) => [`${name} (${mediaType})`, example]));
        if (requests.length) section.append(examples("request-examples", requests, true));
      }
      section.append(element("h4", "Answers"));
      section.append(table(["status", "meaning", "media type"], Object.entries(operation.responses).map(([code, answer]) => [
        code, answer.description || "", Object.keys(answer.content || {}).join(", "),
      ])));
      const answers = Object.entries(operation.responses).flatMap(([code, answer]) =>
        Object.values(answer.content || {}).flatMap((content) =>
          Object.entries(content.examples || {}).map(([name, example]) => [`${code} ${name}`, example])));
      if (answers.length) {
        section.append(element("h4", "Examples of answers"));
        section.append(examples("answer-examples", answers, false));
      }
      main.append(section);
    }
  }
}

render().catch((error) => {
  document.getElementById("docs").textContent = `The API description could not be loaded: ${error.message}`;
});
