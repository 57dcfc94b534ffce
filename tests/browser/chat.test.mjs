// Two people chat in headless Chromium through chatapp/web/, served from another origin
// (http://localhost:5173, where the React client lives) than the API, as in development.
//
// Run by tests/test_browser.py, which starts the backend and passes:
//   CHATAPP_API_URL     the backend, e.g. http://localhost:5000 (required)
//   CHATAPP_WEB_ORIGIN  where to serve chatapp/web/ (default http://localhost:5173; must be in
//                       the backend's CORS_ORIGINS)
//   CHATAPP_WEB_FD      a socket already listening there, inherited from the caller (optional)
//   CHATAPP_SCREENSHOTS=always  also save screenshots when everything passed
// The backend must page history by one message (HISTORY_PAGE_SIZE=1) for the paging step.
// Screenshots (always on failure) go to test-results/.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WEB_ROOT = path.join(ROOT, "chatapp", "web");
const RESULTS = path.join(ROOT, "test-results");
const API = process.env.CHATAPP_API_URL;
const WEB = process.env.CHATAPP_WEB_ORIGIN || "http://localhost:5173";
const WEB_FD = process.env.CHATAPP_WEB_FD;
const PAGE_URL = `${WEB}/?api=${encodeURIComponent(API ?? "")}`;
const EXPECT_MS = 10_000; // every expectation, click and navigation
const WHOLE_RUN_MS = Number(process.env.CHATAPP_BROWSER_TEST_TIMEOUT_MS || 90_000);
// As on every machine here: no sandbox as root, and no background traffic to a closed network.
const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const started = Date.now();
const log = (text) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`);

// --- the web client's files, from their own origin ---------------------------------------------

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };

function serveWebClient() {
  const server = http.createServer(async (request, response) => {
    const urlPath = new URL(request.url, WEB).pathname;
    const file = path.join(WEB_ROOT, urlPath === "/" ? "index.html" : urlPath);
    try {
      if (!file.startsWith(WEB_ROOT + path.sep)) throw new Error("outside the web root");
      const body = await readFile(file);
      response.writeHead(200, { "Content-Type": TYPES[path.extname(file)] || "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404, { "Content-Type": "text/plain" }).end("not found");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const where = WEB_FD ? { fd: Number(WEB_FD) } : { port: Number(new URL(WEB).port), host: "127.0.0.1" };
    server.listen(where, () => resolve(server));
  });
}

// --- what a person does --------------------------------------------------------------------

async function expectVisible(page, selector, what, options = {}) {
  try {
    await page.locator(selector, options).first().waitFor({ state: "visible", timeout: EXPECT_MS });
  } catch (error) {
    const shown = await page.locator("#error").textContent().catch(() => "");
    throw new Error(`${page.label}: expected ${what} (${selector})${shown ? `; page shows error "${shown}"` : ""}\n${error.message}`);
  }
}

async function expectTrue(page, fn, arg, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: EXPECT_MS });
  } catch (error) {
    throw new Error(`${page.label}: expected ${what}\n${error.message}`);
  }
}

async function signUp(page, person, confirmPassword = person.password) {
  const form = page.locator("#signup-form");
  await form.locator("[name=fullName]").fill(person.fullName);
  await form.locator("[name=username]").fill(person.username);
  await form.locator("[name=password]").fill(person.password);
  await form.locator("[name=confirmPassword]").fill(confirmPassword);
  await form.locator(`[name=gender][value=${person.gender}]`).check();
  await form.locator("button[type=submit]").click();
}

async function logIn(page, person) {
  const form = page.locator("#login-form");
  await form.locator("[name=username]").fill(person.username);
  await form.locator("[name=password]").fill(person.password);
  await form.locator("button[type=submit]").click();
  await expectVisible(page, "#chat", "the chat after logging in");
}

const onlineIn = (username) => `#users li.online[data-username="${username}"]`;
const userIn = (username) => `#users li[data-username="${username}"]`;

async function onWebsocket(page) {
  await expectTrue(page, () => window.chatapp.transport() === "websocket", null,
    "the Socket.IO connection to end up on the websocket transport");
}

async function openPage(context, label, url = PAGE_URL) {
  const page = await context.newPage();
  page.label = label;
  page.setDefaultTimeout(EXPECT_MS);
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()}`);
  });
  await page.goto(url, { timeout: EXPECT_MS });
  return page;
}

// --- the story -----------------------------------------------------------------------------

async function chat(browser, pages) {
  const run = Date.now().toString(36);
  const alice = { fullName: "Alice Example", username: `alice_${run}`, password: "alice-secret", gender: "female" };
  const bob = { fullName: "Bob Example", username: `bob_${run}`, password: "bob-secret", gender: "male" };

  // Separate contexts: separate cookie jars and storage, as two people on two machines.
  const alicePage = await openPage(await browser.newContext(), "alice");
  const bobContext = await browser.newContext();
  const bobPage = await openPage(bobContext, "bob tab 1");
  pages.push(alicePage, bobPage);

  log("an error from the API is shown from its JSON message");
  await signUp(alicePage, alice, "not-the-same");
  await expectVisible(alicePage, "#error", "the API's error message", { hasText: "Password do not match" });
  alicePage.problems.length = 0; // the browser logs that 400 as a console error: expected here

  log("both sign up and log in");
  await signUp(alicePage, alice);
  await expectVisible(alicePage, "#notice", "the sign-up confirmation", { hasText: "Account created" });
  await signUp(bobPage, bob);
  await expectVisible(bobPage, "#notice", "the sign-up confirmation", { hasText: "Account created" });
  await logIn(alicePage, alice);
  await logIn(bobPage, bob);

  log("each sees the other online, over a websocket");
  await expectVisible(alicePage, onlineIn(bob.username), "Bob online");
  await expectVisible(bobPage, onlineIn(alice.username), "Alice online");
  await onWebsocket(alicePage);
  await onWebsocket(bobPage);

  log("Alice writes; Bob reads it live, without reloading");
  await bobPage.evaluate(() => { window.notReloaded = true; });
  await bobPage.locator(userIn(alice.username)).click();
  await expectVisible(bobPage, "#peer-name", "Alice's conversation", { hasText: alice.fullName });
  await alicePage.locator(userIn(bob.username)).click();
  await alicePage.locator("#send-form [name=message]").fill("Hello Bob, live from Alice");
  await alicePage.locator("#send-form button[type=submit]").click();
  await expectVisible(alicePage, "#messages li.mine", "her own message", { hasText: "Hello Bob, live from Alice" });
  await expectVisible(bobPage, "#messages li.theirs", "Alice's message, live", { hasText: "Hello Bob, live from Alice" });
  assert.equal(await bobPage.evaluate(() => window.notReloaded), true, "Bob's page reloaded");

  log("Bob opens a second tab: logged in from the cookie, history from the API");
  const bobSecondTab = await openPage(bobContext, "bob tab 2");
  pages.push(bobSecondTab);
  await expectVisible(bobSecondTab, onlineIn(alice.username), "Alice online in the second tab");
  await onWebsocket(bobSecondTab);
  await bobSecondTab.locator(userIn(alice.username)).click();
  await expectVisible(bobSecondTab, "#messages li.theirs", "the history", { hasText: "Hello Bob, live from Alice" });

  log("Bob closes his first tab: he stays online for Alice");
  const bobId = await alicePage.locator(userIn(bob.username)).getAttribute("data-user-id");
  const listsBefore = await alicePage.evaluate(() => window.chatapp.onlineLists.length);
  await bobPage.close();
  pages.splice(pages.indexOf(bobPage), 1);
  // Past the server's presence broadcast window (100 ms), with room to spare.
  await alicePage.waitForTimeout(1500);
  await expectVisible(alicePage, onlineIn(bob.username), "Bob still online after closing one of two tabs");
  const listsSince = await alicePage.evaluate((n) => window.chatapp.onlineLists.slice(n), listsBefore);
  assert.ok(listsSince.every((ids) => ids.includes(bobId)),
    `Alice was told Bob went offline: ${JSON.stringify(listsSince)}`);

  log("the remaining tab still receives Alice's next message");
  await alicePage.locator("#send-form [name=message]").fill("Still there, Bob?");
  await alicePage.locator("#send-form button[type=submit]").click();
  await expectVisible(bobSecondTab, "#messages li.theirs", "Alice's second message in the remaining tab",
    { hasText: "Still there, Bob?" });

  log("older history a page at a time: X-Next-Before is readable cross-origin");
  await bobSecondTab.locator(userIn(alice.username)).click(); // reopen: the newest page only
  await expectVisible(bobSecondTab, "#older", "the older-messages button (the backend pages by 1)");
  assert.deepEqual(await bobSecondTab.locator("#messages li .text").allTextContents(), ["Still there, Bob?"]);
  await bobSecondTab.locator("#older").click();
  await expectVisible(bobSecondTab, "#messages li.theirs", "the older message", { hasText: "Hello Bob" });
  assert.deepEqual(await bobSecondTab.locator("#messages li .text").allTextContents(),
    ["Hello Bob, live from Alice", "Still there, Bob?"]);
  assert.equal(await bobSecondTab.locator("#older").isHidden(), true, "an older page after the oldest");

  await features(alicePage, bobSecondTab, alice, bob);

  log("the React client's socket options: no cookie on the polling connect, the cookie on the upgrade");
  const aliceId = await bobSecondTab.locator(userIn(alice.username)).getAttribute("data-user-id");
  // Another page of Alice's (her cookie): the server closes some of these sessions, and a poll
  // of theirs still in flight then gets a 400 in that page's console, as expected.
  const probes = await openPage(alicePage.context(), "alice probes");
  assert.equal(await tryRealtime(probes, aliceId, {}), "online list");
  assert.equal(await tryRealtime(probes, aliceId, { transports: ["websocket"] }), "online list");
  assert.equal(await tryRealtime(probes, aliceId, { withCredentials: true }), "online list");
  log("a userId that is not the cookie's user is disconnected at the upgrade");
  assert.equal(await tryRealtime(probes, bobId, {}), "disconnected: io server disconnect");
  log("a socket that never upgrades (polling only, no cookie) gets nothing, then is disconnected");
  assert.equal(await tryRealtime(probes, aliceId, { transports: ["polling"] }, 15_000),
    "disconnected: io server disconnect");
  await probes.close();

  log("the same client served by the backend itself at / (make run), same-origin");
  const sameOrigin = await openPage(await browser.newContext(), "alice same-origin", `${API}/`);
  pages.push(sameOrigin);
  await logIn(sameOrigin, alice);
  await expectVisible(sameOrigin, onlineIn(bob.username), "Bob online, same-origin");
  await onWebsocket(sameOrigin);

  log("logging out clears the cookie");
  await sameOrigin.locator("#logout").click();
  await expectVisible(sameOrigin, "#login-form", "the login form after logging out");
  const status = await sameOrigin.evaluate(async () =>
    (await fetch("/api/v1/user/", { credentials: "include" })).status);
  assert.equal(status, 401, "the API still knows the logged-out user");
  sameOrigin.problems.length = 0; // that 401 is logged by the browser: expected here

  for (const page of pages) {
    assert.deepEqual(page.problems, [], `${page.label}: errors in the page`);
  }
}

// Edits, deletions, reactions, search, profile, password and blocks (features.js), each seen live
// on the other side. Alice and Bob have each other's conversation open, with both messages shown.
async function features(alicePage, bobPage, alice, bob) {
  const aliceMessage = (text) => alicePage.locator("#messages li.mine", { hasText: text });
  const bobSees = (text) => bobPage.locator("#messages li.theirs", { hasText: text });

  log("Alice edits her message; Bob sees the new text, marked edited, live");
  await aliceMessage("Still there, Bob?").locator("button.edit").click();
  await alicePage.locator("#messages .edit-form input").fill("Still there, Bob!!");
  await alicePage.locator("#messages .edit-form button[type=submit]").click();
  await expectVisible(bobPage, "#messages li.theirs .edited", "the edited mark");
  await expectVisible(bobPage, "#messages li.theirs .text", "the edited text", { hasText: "Still there, Bob!!" });

  log("Bob reacts; Alice sees the count live, and it is Bob's own reaction on his side");
  await bobSees("Still there, Bob!!").locator("button.react", { hasText: "👍" }).click();
  await expectVisible(alicePage, "#messages li.mine .reactions button", "Bob's reaction", { hasText: "👍 1" });
  await expectVisible(bobPage, "#messages li.theirs .reactions button.mine", "his own reaction", { hasText: "👍 1" });

  log("Alice deletes her first message; Bob's copy becomes a deleted mark, live");
  await aliceMessage("Hello Bob, live from Alice").locator("button.delete").click();
  await expectVisible(bobPage, "#messages li.deleted", "the deleted message", { hasText: "This message was deleted" });
  assert.equal(await bobPage.locator("#messages li", { hasText: "Hello Bob, live from Alice" }).count(), 0);

  log("Bob searches his messages");
  await bobPage.locator("#search-form [name=q]").fill("THERE bob");
  await bobPage.locator("#search-form button[type=submit]").click();
  await expectVisible(bobPage, "#search-results li", "the search result", { hasText: "Still there, Bob!!" });
  assert.equal(await bobPage.locator("#search-results li").count(), 1);

  log("Alice renames herself; Bob's list shows the new name live");
  await alicePage.locator("#profile summary").click();
  await alicePage.locator("#profile-form [name=fullName]").fill("Alice Renamed");
  await alicePage.locator("#profile-form button[type=submit]").click();
  await expectVisible(alicePage, "#whoami", "her new name", { hasText: "Alice Renamed" });
  await expectVisible(bobPage, userIn(alice.username), "Alice's new name", { hasText: "Alice Renamed" });

  log("Bob changes his password");
  await bobPage.locator("#profile summary").click();
  await bobPage.locator("#password-form [name=oldPassword]").fill(bob.password);
  await bobPage.locator("#password-form [name=newPassword]").fill("bob-new-secret");
  await bobPage.locator("#password-form [name=confirmPassword]").fill("bob-new-secret");
  await bobPage.locator("#password-form button[type=submit]").click();
  await expectVisible(bobPage, "#notice", "the confirmation", { hasText: "Password changed" });
  bob.password = "bob-new-secret";

  log("Bob blocks Alice: each goes offline for the other, and Alice cannot write to him");
  await bobPage.locator("#block").click();
  await expectVisible(bobPage, "#block", "the unblock button", { hasText: "Unblock" });
  await expectTrue(alicePage, (name) => !document.querySelector(`#users li.online[data-username="${name}"]`),
    bob.username, "Bob offline for Alice");
  await expectTrue(bobPage, (name) => !document.querySelector(`#users li.online[data-username="${name}"]`),
    alice.username, "Alice offline for Bob");
  await alicePage.locator("#send-form [name=message]").fill("Hello?");
  await alicePage.locator("#send-form button[type=submit]").click();
  await expectVisible(alicePage, "#error", "the refusal", { hasText: "You cannot send messages to this user." });
  alicePage.problems.length = 0; // the browser logs that 403 as a console error: expected here

  log("Bob unblocks Alice: both online again");
  await bobPage.locator("#block").click();
  await expectVisible(alicePage, onlineIn(bob.username), "Bob online again");
  await expectVisible(bobPage, onlineIn(alice.username), "Alice online again");
}

// Open one more socket from `page` with these options, claiming `userId`: "online list" when it
// receives getOnlineUsers (it is authenticated), "refused: <why>", "disconnected: <reason>", or
// "no answer" after `waitMs`.
function tryRealtime(page, userId, options, waitMs = 5000) {
  return page.evaluate(({ api, userId, options, waitMs }) => new Promise((resolve) => {
    const socket = io(api, { ...options, query: { userId }, reconnection: false, forceNew: true });
    let settled = false;
    const done = (outcome) => {
      if (settled) return;
      settled = true;
      socket.disconnect();
      resolve(outcome);
    };
    socket.on("getOnlineUsers", () => done("online list"));
    socket.on("connect_error", (error) => done(`refused: ${error.message}`));
    socket.on("disconnect", (reason) => done(`disconnected: ${reason}`));
    setTimeout(() => done("no answer"), waitMs);
  }), { api: API, userId, options, waitMs });
}

async function screenshots(pages, kind) {
  await mkdir(RESULTS, { recursive: true });
  for (const page of pages) {
    const file = path.join(RESULTS, `browser-${kind}-${page.label.replaceAll(" ", "-")}.png`);
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: EXPECT_MS });
      console.log(`screenshot: ${path.relative(ROOT, file)}`);
    } catch (error) {
      console.log(`no screenshot of ${page.label}: ${error.message}`);
    }
  }
}

async function main() {
  assert.ok(API, "CHATAPP_API_URL is not set: run this through `pytest tests/test_browser.py`");
  let server = null;
  let browser = null;
  const pages = [];
  const cleanUp = async () => {
    await browser?.close().catch(() => {});
    server?.closeAllConnections();
    server?.close();
  };
  // Every step is bounded by EXPECT_MS; this bounds the whole, should anything else hang.
  const watchdog = setTimeout(async () => {
    console.error(`browser test: gave up after ${WHOLE_RUN_MS} ms`);
    await screenshots(pages, "timeout");
    await cleanUp();
    process.exit(1);
  }, WHOLE_RUN_MS);
  try {
    server = await serveWebClient();
    log(`web client on ${WEB}, API on ${API}`);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS, timeout: 30_000 });
    await chat(browser, pages);
    if (process.env.CHATAPP_SCREENSHOTS === "always") await screenshots(pages, "passed");
    log("passed");
  } catch (error) {
    console.error(error.stack || String(error));
    for (const page of pages) {
      if (page.problems?.length) console.error(`${page.label}:\n  ${page.problems.join("\n  ")}`);
    }
    await screenshots(pages, "failure");
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    await cleanUp();
  }
}

await main();
