// Renders the service's OpenAPI description for people: each route, its parameters, bodies and answers.
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
  intro.append(element("h2", `${description.info.title} ${description.info.version}`));
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
      }
      section.append(element("h4", "Answers"));
      section.append(table(["status", "meaning", "media type"], Object.entries(operation.responses).map(([code, answer]) => [
        code, answer.description || "", Object.keys(answer.content || {}).join(", "),
      ])));
      main.append(section);
    }
  }
}

render().catch((error) => {
  document.getElementById("docs").textContent = `The API description could not be loaded: ${error.message}`;
});
