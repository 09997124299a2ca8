// Trophy's official Node SDK (@trophyso/node, pinned in package.json) against a running Laurel,
// changed only in its base URLs. Run by tests/e2e/test_node_sdk.py, which starts Laurel and
// passes LAUREL_URL and LAUREL_ADMIN_KEY.
//
// The SDK parses every answer with its own schemas (a missing required key or a wrong type
// throws ParseError), so each call below also checks the answer's shape against the SDK's
// type definitions. Set-up the SDK has no method for is done over plain HTTP (adminPost).

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { TrophyApi, TrophyApiClient, TrophyApiError } from "@trophyso/node";

const BASE = process.env.LAUREL_URL;
const ADMIN_KEY = process.env.LAUREL_ADMIN_KEY;
assert.ok(BASE && ADMIN_KEY, "LAUREL_URL and LAUREL_ADMIN_KEY must be set");

const environment = { api: `${BASE}/v1`, admin: `${BASE}/admin/v1` };
const client = (apiKey) => new TrophyApiClient({ apiKey, environment });
const trophy = client(ADMIN_KEY);
const once = { maxRetries: 0 };

async function adminCall(method, path, body) {
  const response = await fetch(`${BASE}/admin/v1${path}`, {
    method,
    headers: { "X-API-KEY": ADMIN_KEY, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

async function created(path, items) {
  const answer = await adminCall("POST", path, items);
  assert.deepEqual(answer.issues, [], `${path}: ${JSON.stringify(answer.issues)}`);
  return answer.created;
}

/** The error a call throws, asserting it throws one of the SDK's errors. */
async function failure(call) {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof TrophyApiError, `not an SDK error: ${error}`);
    return error;
  }
  assert.fail("the call succeeded");
}

// Summaries are by the user's local day: today where the user is, not in UTC.
const todayIn = (tz) => new Intl.DateTimeFormat("en-CA", { timeZone: tz }).format(new Date());
const adasToday = todayIn("Europe/London");
const bobsToday = todayIn("America/New_York");
const ids = {};

test("set-up over the Admin API", async () => {
  const [lessons, retired] = await created("/metrics", [
    { name: "Lessons", key: "lessons" },
    { name: "Retired", key: "retired" },
  ]);
  ids.lessons = lessons.id;
  ids.retired = retired.id;
  await created("/attributes", [
    { name: "City", key: "city", type: "user" },
    { name: "Device", key: "device", type: "event" },
  ]);
  await adminCall("PATCH", "/streaks/settings", {
    frequency: "daily",
    metrics: [{ key: "lessons", threshold: 1 }],
    freezes: { startCount: 1, maxCount: 3 },
  });
  await created("/achievements", [
    {
      name: "Two lessons",
      key: "two-lessons",
      trigger: "metric",
      status: "active",
      metricId: lessons.id,
      metricValue: 2,
    },
    { name: "Survey", key: "survey", trigger: "api", status: "active" },
  ]);
  const [xp] = await created("/points", [
    {
      name: "XP",
      key: "xp",
      triggers: [
        { type: "metric", points: 10, status: "active", metricId: lessons.id, metricThreshold: 1 },
      ],
    },
  ]);
  await created(`/points/${xp.id}/levels`, [{ name: "Bronze", key: "bronze", points: 20 }]);
  await created("/leaderboards", [
    {
      name: "Most lessons",
      key: "most-lessons",
      rankBy: "metric",
      metricId: lessons.id,
      status: "active",
      start: "2026-01-01",
    },
  ]);
});

test("users: create, get, identify, update, preferences", async () => {
  const ada = await trophy.users.create(
    { id: "ada", name: "Ada", tz: "Europe/London", attributes: { city: "London" } },
    once,
  );
  assert.equal(ada.id, "ada");
  assert.equal(ada.tz, "Europe/London");
  assert.deepEqual(ada.attributes, { city: "London" });
  assert.equal(ada.control, false);

  const again = await failure(() => trophy.users.create({ id: "ada" }, once));
  assert.equal(again.statusCode, 409);

  const identified = await trophy.users.identify("bob", { name: "Bob", tz: "America/New_York" });
  assert.equal(identified.name, "Bob");
  const updated = await trophy.users.update("ada", { email: "ada@example.com" });
  assert.equal(updated.email, "ada@example.com");
  assert.equal(updated.name, "Ada"); // fields left out are left unchanged
  assert.equal((await trophy.users.get("ada")).email, "ada@example.com");

  const preferences = await trophy.users.updatePreferences("ada", {
    notifications: { streakReminder: ["email"] },
  });
  assert.deepEqual(preferences.notifications.streakReminder, ["email"]);
  const stored = await trophy.users.getPreferences("ada");
  assert.deepEqual(stored.notifications.streakReminder, ["email"]);
});

test("events: totals, achievements, streak, points, leaderboards and Idempotency-Key", async () => {
  const first = await trophy.metrics.event("lessons", {
    user: { id: "ada" },
    value: 1,
    attributes: { device: "phone" },
  });
  assert.equal(first.metricId, ids.lessons);
  assert.equal(first.total, 1);
  assert.deepEqual(first.achievements, []);
  assert.equal(first.currentStreak.length, 1);
  assert.equal(first.currentStreak.extended, true);
  assert.equal(first.points.xp.added, 10);
  assert.equal(first.leaderboards["most-lessons"].rank, 1);

  const idempotencyKey = randomUUID();
  const second = await trophy.metrics.event("lessons", {
    user: { id: "ada" },
    value: 1,
    idempotencyKey,
  });
  assert.equal(second.total, 2);
  assert.equal(second.idempotencyKey, idempotencyKey);
  assert.equal(second.idempotentReplayed, false);
  assert.deepEqual(
    second.achievements.map((a) => a.key),
    ["two-lessons"],
  );
  assert.equal(second.currentStreak.extended, false);
  assert.equal(second.points.xp.total, 20);
  assert.equal(second.points.xp.level.key, "bronze");

  const replayed = await trophy.metrics.event("lessons", {
    user: { id: "ada" },
    value: 1,
    idempotencyKey,
  });
  assert.equal(replayed.idempotentReplayed, true);
  assert.equal(replayed.total, 2); // the repeat changed nothing

  const bob = await trophy.metrics.event("lessons", { user: { id: "bob" }, value: 5 });
  assert.equal(bob.total, 5);
  assert.equal(bob.leaderboards["most-lessons"].rank, 1);
  await trophy.metrics.event("retired", { user: { id: "ada" }, value: 7 });
});

test("metrics: every total with its status, one metric, event summaries", async () => {
  // Metrics come in creation order; these two were created in one request (ties: by id).
  const byKey = (metrics) => metrics.map((m) => [m.key, m.status, m.current]).sort();
  const all = await trophy.users.allMetrics("ada");
  assert.deepEqual(
    byKey(all),
    [
      ["lessons", "active", 2],
      ["retired", "active", 7],
    ],
  );
  const lessons = await trophy.users.singleMetric("ada", "lessons");
  assert.equal(lessons.name, "Lessons");
  assert.deepEqual(
    lessons.achievements.map((a) => [a.key, Boolean(a.achievedAt)]),
    [["two-lessons", true]],
  );

  // A deleted metric the user recorded something on stays listed, archived.
  const deleted = await adminCall("DELETE", `/metrics?ids=${ids.retired}`);
  assert.deepEqual(deleted.deleted, [{ id: ids.retired }]);
  const after = await trophy.users.allMetrics("ada");
  assert.deepEqual(byKey(after), [
    ["lessons", "active", 2],
    ["retired", "archived", 7],
  ]);
  assert.equal((await trophy.users.singleMetric("ada", "retired")).status, "archived");
  assert.deepEqual(
    (await trophy.users.allMetrics("bob")).map((m) => m.key),
    ["lessons"], // bob never recorded on the deleted metric
  );

  const summary = await trophy.users.metricEventSummary("ada", "lessons", {
    aggregation: "daily",
    startDate: adasToday,
    endDate: adasToday,
  });
  assert.deepEqual(summary, [{ date: adasToday, total: 2, change: 2 }]);
});

test("streaks: a user's streak with history, several users' streaks", async () => {
  const streak = await trophy.users.streak("ada", { historyPeriods: 3 });
  assert.equal(streak.length, 1);
  assert.equal(streak.frequency, "daily");
  assert.equal(streak.freezes, 1);
  assert.equal(streak.maxFreezes, 3);
  assert.equal(streak.streakHistory.length, 3);
  assert.equal(streak.streakHistory.at(-1).length, 1);

  const many = await trophy.streaks.list({ userIds: ["ada", "bob", "nobody"] });
  assert.deepEqual(
    many.map((s) => [s.userId, s.streakLength]),
    [
      ["ada", 1],
      ["bob", 1],
    ],
  );
});

test("achievements: all with stats, a user's, completing an api achievement", async () => {
  const all = await trophy.achievements.all();
  const byKey = Object.fromEntries(all.map((a) => [a.key, a]));
  assert.equal(byKey["two-lessons"].completions, 2); // ada with 2 lessons, bob with 5
  assert.equal(byKey["two-lessons"].rarity, 100);
  assert.equal(byKey.survey.completions, 0);

  const done = await trophy.achievements.complete("survey", { user: { id: "bob" } });
  assert.equal(done.achievement.key, "survey");
  const repeat = await trophy.achievements.complete("survey", { user: { id: "bob" } });
  assert.equal(repeat.completionId, done.completionId); // a repeat changes nothing

  const mine = await trophy.users.achievements("ada", { includeIncomplete: true });
  assert.deepEqual(
    mine.map((a) => [a.key, Boolean(a.achievedAt)]).sort(),
    [
      ["survey", false],
      ["two-lessons", true],
    ],
  );
});

test("points: a user's points with awards, the system, its summary", async () => {
  const points = await trophy.users.points("ada", "xp", { awards: 10 });
  assert.equal(points.total, 20);
  assert.equal(points.level.key, "bronze");
  assert.equal(points.awards.length, 2);

  const system = await trophy.points.system("xp");
  assert.deepEqual(
    system.triggers.map((t) => [t.type, t.points]),
    [["metric", 10]],
  );
  const summary = await trophy.points.summary("xp");
  assert.equal(
    summary.reduce((users, range) => users + range.users, 0),
    2,
  );
  const events = await trophy.users.pointsEventSummary("bob", "xp", {
    aggregation: "daily",
    startDate: bobsToday,
    endDate: bobsToday,
  });
  assert.deepEqual(events, [{ date: bobsToday, total: 50, change: 50 }]);
});

test("leaderboards: all, rankings, a user's standing", async () => {
  const boards = await trophy.leaderboards.all();
  assert.deepEqual(
    boards.map((b) => [b.key, b.status]),
    [["most-lessons", "active"]],
  );
  const board = await trophy.leaderboards.get("most-lessons", { limit: 2 });
  assert.deepEqual(
    board.rankings.map((r) => [r.userId, r.rank, r.value]),
    [
      ["bob", 1, 5],
      ["ada", 2, 2],
    ],
  );
  const standing = await trophy.users.leaderboard("ada", "most-lessons");
  assert.equal(standing.rank, 2);
  assert.equal(standing.value, 2);
});

test("admin: streak freezes and restores", async () => {
  const granted = await trophy.admin.streaks.freezes.create({
    freezes: [{ userId: "ada", count: 1 }],
  });
  assert.deepEqual(granted.issues, []);
  assert.equal((await trophy.users.streak("ada")).freezes, 2);

  const restored = await trophy.admin.streaks.restore({ users: [{ id: "ada" }, { id: "ghost" }] });
  assert.deepEqual(restored.restoredUsers, []);
  assert.deepEqual(
    restored.issues.map((i) => [i.userId, i.level]),
    [
      ["ada", "error"], // no longer streak to restore
      ["ghost", "error"],
    ],
  );
  assert.match(restored.issues[1].reason, /not found/);
});

test("errors: 401, 403, 404 and 422 as the SDK's errors", async () => {
  const unauthorized = await failure(() => client("nope.nope").users.get("ada"));
  assert.ok(unauthorized instanceof TrophyApi.UnauthorizedError);
  assert.equal(unauthorized.statusCode, 401);

  const [key] = await created("/application-api-keys", [{ userId: "ada" }]);
  const asAda = client(key.key);
  assert.equal((await asAda.users.get("ada")).id, "ada");
  const forbidden = await failure(() => asAda.users.get("bob"));
  assert.equal(forbidden.statusCode, 403);

  const missingUser = await failure(() => trophy.users.get("nobody"));
  assert.equal(missingUser.statusCode, 404);
  assert.match(missingUser.body.error, /nobody/);
  const missingMetric = await failure(() =>
    trophy.metrics.event("no-such-metric", { user: { id: "ada" }, value: 1 }),
  );
  assert.equal(missingMetric.statusCode, 404);
  const badValue = await failure(() =>
    trophy.metrics.event("lessons", { user: { id: "ada", tz: "Mars/Olympus" }, value: 1 }),
  );
  assert.ok(badValue instanceof TrophyApi.UnprocessableEntityError);
  assert.match(JSON.stringify(badValue.body), /tz/);

  // The year in review (its figures are checked by the Python SDK's test).
  const wrapped = await trophy.users.wrapped("ada");
  assert.equal(wrapped.user.id, "ada");
  assert.equal(typeof wrapped.activity.daysActive, "number");
  assert.equal(typeof wrapped.activity.entireYear.longestStreak.length, "number");
  const missingYear = await failure(() => trophy.users.wrapped("ada", { year: 9999 }));
  assert.equal(missingYear.statusCode, 422);

  // Not implemented: named in words, not a bare "Not Found".
  const rankings = await failure(() => trophy.streaks.rankings());
  assert.equal(rankings.statusCode, 404);
  assert.match(rankings.body.error, /leaderboard/);
});
