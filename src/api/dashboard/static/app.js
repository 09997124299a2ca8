// Laurel's dashboard: every number comes from the Admin API, called with the admin key kept in
// this tab's session storage. Data is written with textContent only (never as HTML).
"use strict";

const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function table(headers, rows, testid) {
  const head = el("tr", {}, ...headers.map((h) => el("th", {}, h)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node ? el("td", {}, c) : el("td", {}, c)))));
  return el("table", { "data-testid": testid }, el("thead", {}, head), el("tbody", {}, ...body));
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

async function api(path) {
  const headers = { "X-API-KEY": store.getItem("laurel.key") || "" };
  const tenant = store.getItem("laurel.tenant");
  if (tenant) headers["Tenant-ID"] = tenant;
  const answer = await fetch(path, { headers });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = new Error(`${answer.status}: ${body.error || answer.statusText}`);
    error.status = answer.status;
    throw error;
  }
  return body;
}

function chart(title, days, series) {
  const box = el("div", { class: "chart", "data-testid": "chart" }, el("h3", {}, title));
  const width = Math.min(1060, document.body.clientWidth - 40);
  const xs = days.map((d) => Date.parse(d.date + "T00:00:00Z") / 1000);
  const options = {
    width,
    height: 220,
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
    axes: [{}, {}],
  };
  new window.uPlot(options, [xs, ...series.map((s) => days.map(s.value))], box);
  return box;
}

async function overview(page) {
  const data = await api("/admin/v1/analytics/overview");
  page.append(el("h2", {}, `Overview, ${data.since} to ${data.until}`));
  page.append(
    chart("Daily active and new users", data.days, [
      { label: "active users", stroke: "#2f6fde", value: (d) => d.activeUsers },
      { label: "new users", stroke: "#1f9d55", value: (d) => d.newUsers },
    ]),
  );
  const rows = data.days
    .slice()
    .reverse()
    .map((d) => [
      d.date,
      d.activeUsers,
      d.newUsers,
      d.engagement,
      Object.entries(d.metrics)
        .map(([key, m]) => `${key}: ${m.events} events, ${m.total}`)
        .join("; "),
    ]);
  page.append(table(["day", "active users", "new users", "engagement", "metrics"], rows, "days"));
  page.append(el("h3", {}, "Weekly and monthly active users"));
  const periods = [
    ...data.weeks.map((w) => ["week of " + w.start, w.activeUsers]),
    ...data.months.map((m) => ["month of " + m.start, m.activeUsers]),
  ];
  page.append(table(["period", "active users"], periods, "periods"));
}

async function retention(page) {
  const data = await api("/admin/v1/analytics/retention");
  page.append(el("h2", {}, "Retention"));
  page.append(
    table(
      ["day 1", "day 7", "day 30"],
      [[data.day1, data.day7, data.day30].map((v) => `${Math.round(v * 1000) / 10}%`)],
      "day-retention",
    ),
  );
  const longest = Math.max(0, ...data.cohorts.map((c) => c.retained.length));
  const headers = ["first week", "users", ...Array.from({ length: longest }, (_, i) => `week ${i}`)];
  const rows = data.cohorts.map((c) => [
    c.week,
    c.users,
    ...c.retained.map((v) => `${Math.round(v * 100)}%`),
  ]);
  page.append(table(headers, rows, "cohorts"));
}

async function events(page) {
  const params = new URLSearchParams(window.location.hash.split("?")[1] || "");
  const user = params.get("userId") || "";
  const form = el("form", { class: "filters", "data-testid": "event-filters" });
  const input = el("input", { name: "userId", placeholder: "user id", value: user });
  form.append(input, el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = "#events?" + new URLSearchParams({ userId: input.value });
  });
  page.append(el("h2", {}, "Event log"), form);
  const query = new URLSearchParams({ limit: "200" });
  if (user) query.set("userId", user);
  const log = await api("/admin/v1/events?" + query);
  const rows = log.map((e) => {
    const details = el("details", {}, el("summary", {}, e.eventId), el("pre", {}, JSON.stringify(e.outcome, null, 2)));
    return [details, e.userId, e.type ?? "", e.status, e.receivedAt ?? ""];
  });
  page.append(table(["event (outcome)", "user", "type", "status", "received"], rows, "events"));
  const letters = await api("/admin/v1/dead-letters?limit=50");
  page.append(el("h3", {}, "Dead letters"));
  page.append(
    table(
      ["recorded", "topic", "offset", "reason"],
      letters.map((d) => [d.recorded, d.topic, `${d.partition}/${d.offset}`, d.reason]),
      "dead-letters",
    ),
  );
}

const PAGES = { overview, retention, events };

async function route() {
  const signedIn = Boolean(store.getItem("laurel.key"));
  $("sign-in").hidden = signedIn;
  $("nav").hidden = !signedIn;
  const page = $("page");
  page.replaceChildren();
  if (!signedIn) return;
  const name = (window.location.hash.slice(1).split("?")[0] || "overview");
  try {
    showError("");
    await (PAGES[name] || overview)(page);
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      store.removeItem("laurel.key");
      $("sign-in").hidden = false;
      $("nav").hidden = true;
      page.replaceChildren();
      showError(`The key was refused (${error.message}). Sign in with an admin key.`);
    } else {
      showError(`Could not load this page: ${error.message}`);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("tenant").value = store.getItem("laurel.tenant") || "";
  $("tenant").addEventListener("change", () => {
    store.setItem("laurel.tenant", $("tenant").value.trim());
    route();
  });
  $("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    store.setItem("laurel.key", $("key").value.trim());
    $("key").value = "";
    route();
  });
  $("sign-out").addEventListener("click", () => {
    store.removeItem("laurel.key");
    route();
  });
  window.addEventListener("hashchange", route);
  route();
});
