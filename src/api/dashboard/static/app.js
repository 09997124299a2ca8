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

function csvOf(headers, rows) {
  const cell = (v) => {
    const text = v instanceof Node ? v.textContent : String(v ?? "");
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [headers, ...rows].map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}

function table(headers, rows, testid) {
  const head = el("tr", {}, ...headers.map((h) => el("th", {}, h)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))));
  const grid = el("table", { "data-testid": testid }, el("thead", {}, head), el("tbody", {}, ...body));
  const download = el("a", { class: "csv", "data-testid": testid + "-csv", download: testid + ".csv" }, "CSV");
  download.href = URL.createObjectURL(new Blob([csvOf(headers, rows)], { type: "text/csv" }));
  return el("div", { class: "grid" }, grid, download);
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

function outcomeOf(logged) {
  // the command's id, opening onto its stored outcome (what GET /v1/events/{id} answers)
  return el("details", {}, el("summary", {}, logged.eventId), el("pre", {}, JSON.stringify(logged.outcome, null, 2)));
}

function queryForm(testid, fields, button) {
  // a page's query: inputs for ``fields`` ([name, hint]) filled from the hash, which submitting
  // rewrites (so the page reloads with it); returns the form and the query's values
  const [name, query] = window.location.hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const form = el("form", { class: "filters", "data-testid": testid });
  const inputs = fields.map(([field, hint]) => el("input", { name: field, placeholder: hint, value: params.get(field) || "" }));
  form.append(...inputs, el("button", { type: "submit" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = inputs.filter((i) => i.value.trim()).map((i) => [i.name, i.value.trim()]);
    window.location.hash = `#${name}?` + new URLSearchParams(chosen);
  });
  return [form, params];
}

async function events(page) {
  const fields = [
    ["userId", "user id"],
    ["metric", "metric key"],
    ["type", "type (metric.event…)"],
    ["since", "since (2026-01-31T00:00Z)"],
    ["until", "until"],
  ];
  const [form, params] = queryForm("event-filters", fields, "Filter");
  page.append(el("h2", {}, "Event log"), form);
  const query = new URLSearchParams({ limit: "200" });
  for (const [name] of fields) if (params.get(name)) query.set(name, params.get(name));
  const log = await api("/admin/v1/events?" + query);
  const rows = log.map((e) => [outcomeOf(e), e.userId, e.type ?? "", e.status, e.receivedAt ?? ""]);
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

async function streaksPage(page) {
  const data = await api("/admin/v1/analytics/streaks");
  page.append(el("h2", {}, `Streaks, ${data.since} to ${data.until}`));
  page.append(table(["length", "users"], data.lengths.map((l) => [l.length, l.users]), "streak-lengths"));
  page.append(
    chart("Extended and lost per day", data.days, [
      { label: "extended", stroke: "#2f6fde", value: (d) => d.extended },
      { label: "lost", stroke: "#c0392b", value: (d) => d.lost },
    ]),
  );
  const rows = data.days
    .slice()
    .reverse()
    .map((d) => [d.date, d.extended, d.lost, d.freezeEarned, d.freezeConsumed]);
  page.append(table(["day", "extended", "lost", "freezes earned", "freezes consumed"], rows, "streak-days"));
}

async function achievementsPage(page) {
  const found = await api("/v1/achievements");
  page.append(el("h2", {}, "Achievements"));
  const rows = found.map((a) => [a.name, a.key ?? "", a.trigger, a.completions, `${a.rarity}%`]);
  page.append(table(["achievement", "key", "trigger", "completions", "rarity"], rows, "achievements"));
  const rewards = await api("/admin/v1/analytics/rewards");
  const total = (d) => Object.values(d.achievements).reduce((a, b) => a + b, 0);
  page.append(chart("Completions per day", rewards.days, [{ label: "completions", stroke: "#8e44ad", value: total }]));
  const perDay = rewards.days
    .filter((d) => total(d) > 0)
    .reverse()
    .flatMap((d) => Object.entries(d.achievements).map(([key, n]) => [d.date, key, n]));
  page.append(table(["day", "achievement", "completions"], perDay, "completions-per-day"));
}

async function pointsPage(page) {
  const systems = await api("/admin/v1/points");
  page.append(el("h2", {}, "Points"));
  for (const system of systems) {
    page.append(el("h3", {}, `${system.name} (${system.key})`));
    const summary = await api(`/v1/points/${encodeURIComponent(system.key)}/summary`);
    page.append(table(["from", "to", "users"], summary.map((b) => [b.from, b.to, b.users]), "points-" + system.key));
    const levels = await api(`/v1/points/${encodeURIComponent(system.key)}/level-summary`).catch(() => []);
    page.append(table(["level", "users"], levels.map((l) => [l.level.name, l.users]), "levels-" + system.key));
  }
  const rewards = await api("/admin/v1/analytics/rewards");
  const rows = rewards.days
    .slice()
    .reverse()
    .flatMap((d) =>
      Object.entries(d.points).flatMap(([system, triggers]) =>
        Object.values(triggers).map((t) => [d.date, system, t.type ?? "", t.awards, t.points]),
      ),
    );
  page.append(el("h3", {}, "Awards per day by trigger"));
  page.append(table(["day", "system", "trigger", "awards", "points"], rows, "awards-per-day"));
}

async function leaderboardsPage(page) {
  const boards = await api("/v1/leaderboards");
  page.append(el("h2", {}, "Leaderboards"));
  for (const board of boards) {
    const found = await api(`/v1/leaderboards/${encodeURIComponent(board.key)}?limit=10`);
    page.append(el("h3", {}, `${board.name} (${board.key})`));
    const rows = found.rankings.map((r) => [r.rank, r.userName ?? r.userId, r.value]);
    page.append(table(["rank", "user", "value"], rows, "board-" + board.key));
  }
}

async function usersPage(page) {
  const [form, params] = queryForm("user-search", [["id", "user id"]], "Find");
  const id = params.get("id") || "";
  page.append(el("h2", {}, "Users"), form);
  if (!id) return;
  const user = encodeURIComponent(id);
  const profile = await api(`/v1/users/${user}`);
  page.append(table(["user", "name", "email", "time zone", "created"],
    [[profile.id, profile.name ?? "", profile.email ?? "", profile.tz ?? "", profile.created]], "user-profile"));
  const metrics = await api(`/v1/users/${user}/metrics`);
  page.append(el("h3", {}, "Totals"));
  page.append(table(["metric", "total"], metrics.map((m) => [m.key, m.current]), "user-totals"));
  const streak = await api(`/v1/users/${user}/streak?historyPeriods=35`);
  page.append(el("h3", {}, `Streak: ${streak.length} (${streak.frequency})`));
  const calendar = el("div", { class: "calendar", "data-testid": "user-calendar" });
  for (const h of streak.streakHistory) {
    const state = h.length > 0 ? "kept" : h.usedFreeze || h.usedPause ? "covered" : "missed";
    calendar.append(el("span", { class: state, title: `${h.periodStart}: ${h.length}` }, h.periodStart.slice(8)));
  }
  page.append(calendar);
  page.append(table(["period", "length"], streak.streakHistory.slice().reverse().map((h) => [h.periodStart, h.length]), "user-streak"));
  const systems = await api("/admin/v1/points");
  const points = [];
  for (const system of systems) {
    const held = await api(`/v1/users/${user}/points/${encodeURIComponent(system.key)}`);
    points.push([system.key, held.total, held.level ? held.level.name : ""]);
  }
  page.append(el("h3", {}, "Points"));
  page.append(table(["system", "total", "level"], points, "user-points"));
  const achievements = await api(`/v1/users/${user}/achievements`);
  page.append(el("h3", {}, "Achievements"));
  page.append(table(["achievement", "completed"], achievements.map((a) => [a.name, a.achievedAt ?? ""]), "user-achievements"));
  const log = await api(`/admin/v1/events?userId=${user}&limit=200`);
  page.append(el("h3", {}, "Commands"));
  const commands = log.map((e) => [outcomeOf(e), e.type ?? "", e.status, e.receivedAt ?? ""]);
  page.append(table(["event (outcome)", "type", "status", "received"], commands, "user-commands"));
}

async function webhooksPage(page) {
  const endpoints = await api("/admin/v1/webhooks");
  page.append(el("h2", {}, "Webhook deliveries"));
  for (const endpoint of endpoints) {
    page.append(el("h3", {}, `${endpoint.url} (${endpoint.status})`));
    const log = await api(`/admin/v1/webhooks/${endpoint.id}/deliveries?limit=50`);
    const rows = log.map((d) => [d.messageId, d.type, d.state, d.attempts, d.lastStatusCode ?? "", d.created]);
    page.append(table(["message", "type", "state", "attempts", "last status", "created"], rows, "deliveries"));
  }
}

const PAGES = {
  overview,
  retention,
  streaks: streaksPage,
  achievements: achievementsPage,
  points: pointsPage,
  leaderboards: leaderboardsPage,
  users: usersPage,
  events,
  webhooks: webhooksPage,
};

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
