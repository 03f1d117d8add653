// The app shell in a real browser: loading, the CSP and the no-network promise,
// typing and errors, embed mode, the share link, themes, keyboard and small screens.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  newRecordingPage,
  openApp,
  screenshotDir,
  screenshotPath,
  startBrowser,
  stateInUrl,
  startServer,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  console.log(`# screenshots: ${screenshotDir}`);
});

after(async () => {
  await browser?.close();
  server?.close();
});

const domainInput = "[data-testid=domain-input]";
const hostPaste = "[data-testid=host-paste]";

describe("loading", () => {
  test("the page loads only from its own origin and without errors", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    assert.ok(page.requests.length > 0);
    for (const url of page.requests) {
      assert.ok(url.startsWith(`${server.origin}/`), `request to another origin: ${url}`);
    }
    assert.deepEqual(page.consoleErrors, []);
    assert.equal(await page.title(), "guestcpu");
    await page.close();
  });

  test("a CSP forbids inline scripts and, after load, every connection", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    const policies = await page.$$eval('meta[http-equiv="Content-Security-Policy"]', (metas) =>
      metas.map((meta) => meta.content),
    );
    assert.match(policies[0], /default-src 'none'/);
    assert.match(policies[0], /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
    assert.ok(policies.includes("connect-src 'none'"), `policies: ${policies}`);
    const inlineScripts = await page.$$eval("script:not([src])", (scripts) => scripts.length);
    assert.equal(inlineScripts, 0);
    const fetchOutcome = await page.evaluate(() =>
      fetch("/index.html").then(
        () => "fetched",
        () => "blocked",
      ),
    );
    assert.equal(fetchOutcome, "blocked");
    await page.close();
  });

  test("after load, using the page makes no request at all", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    page.requests.length = 0;
    await page.fill(domainInput, "<cpu mode='host-model' check='partial'/>");
    await page.fill(hostPaste, "not a dump");
    await page.selectOption("[data-testid=accelerator]", "tcg");
    await page.check("[data-testid=migration]");
    await page.fill("[data-testid=models-filter]", "Haswell");
    await page.click("[data-testid=theme]");
    await page.selectOption("[data-testid=examples]", "domain:0");
    await page.waitForTimeout(200);
    assert.deepEqual(page.requests, []);
    assert.deepEqual(page.consoleErrors, []);
    await page.close();
  });
});

describe("the check", () => {
  test("a domain and a host give verdicts, the guest CPU and the models at once", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.selectOption("[data-testid=examples]", "domain:0");
    await page.selectOption("[data-testid=examples]", "host:0");
    assert.match(await page.textContent("[data-testid=host-format]"), /Format: \/proc\/cpuinfo/);
    for (const mode of ["none", "partial", "full"]) {
      assert.match(await page.textContent(`[data-testid=verdict-${mode}]`), /starts|does not start/);
    }
    // The example domain asks for check='partial': that line is marked as its own.
    assert.match(await page.getAttribute("[data-testid=verdict-partial]", "class"), /\bown\b/);
    assert.match(await page.textContent("[data-testid=qemu-arg]"), /Skylake-Server/);
    assert.match(await page.textContent("[data-testid=guest-xml]"), /^<cpu mode='custom'/);
    assert.match(await page.textContent("[data-testid=live-xml]"), /<cpu /);
    assert.ok(await page.$("[data-testid=filtered-list]"));
    const usable = await page.$$eval("[data-testid=models-table] tbody tr", (rows) =>
      rows.map((row) => row.cells[1].textContent),
    );
    assert.ok(usable.includes("yes") && usable.includes("no"), `usable column: ${usable}`);
    await page.screenshot({ path: screenshotPath("desktop-report.png"), fullPage: true });
    await page.close();
  });

  test("a second host gives a migration verdict", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.selectOption("[data-testid=examples]", "domain:0");
    await page.selectOption("[data-testid=examples]", "host:0");
    await page.check("[data-testid=migration]");
    await page.fill(
      "[data-testid=second-host-paste]",
      "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 60\nstepping\t: 3\nflags\t\t: fpu sse sse2 lm\n",
    );
    assert.match(await page.textContent("[data-testid=second-host-format]"), /\/proc\/cpuinfo/);
    assert.match(await page.textContent("[data-testid=verdict-migration]"), /migrat/);
    await page.close();
  });
});

describe("the diff against the input", () => {
  test("toggling shows the guest CPU's and the live XML's added and removed lines", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.selectOption("[data-testid=examples]", "domain:0");
    await page.selectOption("[data-testid=examples]", "host:0");
    assert.equal(await page.$("[data-testid=guest-xml-diff]"), null);
    await page.check("[data-testid=guest-xml-diff-toggle]");
    const removed = await page.$$eval("[data-testid=guest-xml-diff] .diff-removed", (lines) =>
      lines.map((line) => line.textContent),
    );
    const added = await page.$$eval("[data-testid=guest-xml-diff] .diff-added", (lines) =>
      lines.map((line) => line.textContent),
    );
    assert.deepEqual(removed, ["-<cpu mode='host-model' check='partial'/>\n"]);
    assert.ok(added.some((line) => /^\+<cpu mode='custom'/.test(line)), `added: ${added}`);
    assert.ok(added.some((line) => /^\+\s*<model/.test(line)), `added: ${added}`);
    // The copy button still copies the XML itself, and the plain view comes back.
    await page.uncheck("[data-testid=guest-xml-diff-toggle]");
    assert.match(await page.textContent("[data-testid=guest-xml]"), /^<cpu mode='custom'/);

    await page.check("[data-testid=live-xml-diff-toggle]");
    const live = await page.$$eval("[data-testid=live-xml-diff] span", (lines) =>
      lines.map((line) => [line.className, line.textContent]),
    );
    assert.deepEqual(live[0], ["diff-same", " <domain type='kvm'>\n"]);
    assert.ok(live.some(([kind, text]) => kind === "diff-removed" && /host-model/.test(text)));
    assert.ok(live.some(([kind]) => kind === "diff-added"));
    assert.deepEqual(live.at(-1), ["diff-same", " </domain>\n"]);
    await page.close();
  });
});

describe("the synthesized host examples", () => {
  test("a host synthesized from a CPU model gives a format and verdicts", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    const titles = await page.$$eval("[data-testid=examples] option", (options) =>
      options.map((option) => option.textContent),
    );
    assert.ok(titles.includes("Haswell server (synthesized from the Haswell model)"), `${titles}`);
    await page.selectOption("[data-testid=examples]", "domain:2");
    await page.selectOption("[data-testid=examples]", "synthesized:0");
    assert.match(await page.inputValue(hostPaste), /^<cpudata arch='x86'>/);
    assert.match(await page.textContent("[data-testid=host-format]"), /^Format: \S/);
    for (const mode of ["none", "partial", "full"]) {
      assert.match(await page.textContent(`[data-testid=verdict-${mode}]`), /starts|does not start/);
    }
    console.log(`# synthesized host format: ${await page.textContent("[data-testid=host-format]")}`);
    await page.close();
  });
});

describe("the domain editor", () => {
  test("typing updates the state, the summary and the line numbers", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.fill(domainInput, "<domain>\n  <cpu mode='custom' check='full'>\n    <model>Haswell</model>\n  </cpu>\n</domain>");
    const summary = await page.textContent("[data-testid=domain-summary]");
    assert.match(summary, /mode custom, model Haswell, 0 feature\(s\), check full/);
    assert.equal(await page.textContent(".editor .gutter"), "1\n2\n3\n4\n5");
    await page.waitForFunction(() => location.hash.startsWith("#s="));
    await page.close();
  });

  test("bad XML shows an error with line:column as soon as it is typed", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.fill(domainInput, "<domain>\n  <cpu mode='custom'>\n  </domain>");
    const error = await page.textContent("[data-testid=error]");
    assert.match(error, /^domain XML 3:\d+: /);
    assert.equal(await page.getAttribute(domainInput, "aria-invalid"), "true");
    await page.fill(domainInput, "<cpu mode='host-model'/>");
    assert.equal(await page.$("[data-testid=error]"), null);
    await page.close();
  });

  test("pasted markup is shown as text, never as HTML", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    const markup = "<b>x</b><img src=x onerror=\"window.injected=1\">";
    await page.fill(domainInput, `<domain>${markup}<cpu></oops></domain>`);
    await page.fill(hostPaste, markup);
    await page.waitForSelector("[data-testid=error]");
    assert.equal(await page.$$eval(".app img, .app b", (nodes) => nodes.length), 0);
    assert.equal(await page.evaluate(() => window.injected), undefined);
    await page.close();
  });
});

describe("layout", () => {
  test("?embed gives the compact layout with a link to the full page", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/?embed`);
    await page.fill(domainInput, "<cpu mode='host-passthrough'/>");
    assert.ok(await page.$(".app.embed"));
    assert.equal(await page.$("[data-testid=models-table]"), null);
    assert.equal(await page.$("[data-testid=examples]"), null);
    // The link carries the state once the address bar has been written.
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=open-full]")?.getAttribute("href").includes("#s="),
    );
    const full = await page.getAttribute("[data-testid=open-full]", "href");
    const url = new URL(full);
    assert.equal(url.search, "");
    assert.match(url.hash, /^#s=/);
    await page.screenshot({ path: screenshotPath("embed-480.png"), fullPage: true });
    await page.close();
  });

  test("readable at 360 px: no sideways scrolling; screenshots at 360 and 1280", async () => {
    const page = await newRecordingPage(browser.context, { width: 360, height: 780 });
    await openApp(page, `${server.origin}/`);
    await page.selectOption("[data-testid=examples]", "domain:2");
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than 360px`);
    await page.screenshot({ path: screenshotPath("mobile-360.png"), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: screenshotPath("desktop-1280.png"), fullPage: true });
    await page.close();
  });

  test("the theme button cycles system, light, dark", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    const theme = () => page.getAttribute("html", "data-theme");
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = "rgb(247, 247, 245)";
    const dark = "rgb(18, 20, 22)";
    await page.emulateMedia({ colorScheme: "light" });
    assert.equal(await theme(), "system");
    assert.equal(await background(), light, "system theme, light browser");
    await page.emulateMedia({ colorScheme: "dark" });
    assert.equal(await background(), dark, "system theme, dark browser");
    await page.click("[data-testid=theme]");
    assert.equal(await theme(), "light");
    assert.equal(await background(), light, "light theme, dark browser");
    await page.emulateMedia({ colorScheme: "light" });
    await page.click("[data-testid=theme]");
    assert.equal(await theme(), "dark");
    assert.equal(await background(), dark, "dark theme, light browser");
    await page.screenshot({ path: screenshotPath("desktop-dark.png") });
    await page.close();
  });

  test("every input is reachable with the keyboard", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.check("[data-testid=migration]");
    await page.evaluate(() => document.activeElement?.blur());
    const reached = new Set();
    for (let press = 0; press < 30; press += 1) {
      await page.keyboard.press("Tab");
      const id = await page.evaluate(() => document.activeElement?.dataset.testid);
      if (id) reached.add(id);
    }
    for (const id of [
      "examples",
      "share-link",
      "theme",
      "domain-input",
      "host-file",
      "host-paste",
      "qemu-version",
      "accelerator",
      "migration",
      "second-host-paste",
      "models-filter",
    ]) {
      assert.ok(reached.has(id), `Tab never reaches ${id}; reached: ${[...reached]}`);
    }
    await page.close();
  });
});

describe("the share link", () => {
  test("the whole state survives a round trip through the URL fragment", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    const domain = "<cpu mode='custom' check='partial'>\n  <model>Skylake-Client</model>\n</cpu>";
    const dump = "CPU 0:\n   0x00000000 0x00: eax=0x00000016 ebx=0x756e6547";
    await page.fill(domainInput, domain);
    await page.fill(hostPaste, dump);
    await page.selectOption("[data-testid=accelerator]", "tcg");
    await page.fill("[data-testid=models-filter]", "sky");
    // The address bar is written once the state settles: wait for the last change.
    await page.waitForURL((url) => stateInUrl(url)?.model_filter === "sky");
    const link = page.url();
    assert.match(link, /#s=[A-Za-z0-9_-]+$/);

    const reopened = await newRecordingPage(browser.context);
    await openApp(reopened, link);
    assert.equal(await reopened.inputValue(domainInput), domain);
    assert.equal(await reopened.inputValue(hostPaste), dump);
    assert.equal(await reopened.inputValue("[data-testid=accelerator]"), "tcg");
    assert.equal(await reopened.inputValue("[data-testid=models-filter]"), "sky");
    await reopened.close();
    await page.close();
  });

  test("a link written by the app's former DEFLATE encoder still opens", async () => {
    // Made by crates/web/src/deflate.rs before share links used the browser's
    // CompressionStream('deflate-raw'); the payload is the same raw DEFLATE.
    const oldLink =
      "#s=TU_LTsMwEPwVy5dc-ggocZQo6aU_gIS4VbKMvRDLr-AHSoX4d-wAan3xzuzszO4XFs4waelqNB7wyJeEjBMwVTyF6EyF-AxcTdXCfJRMV6eLRWgsEn16VlfNFOzPWoKN4_GXvdjxmG3yj3d4diFSkcySzc9PL6geyjyq1_rvbeWAgK3TP_lAELwW2LUESNt0CHiBhJO2awggEAU2PSn9_pbzJjVQywzkMKfFvpCHuMbcD8CdFfRuHZu03uEPMIl-gg_S2TzVHx6zmHEOGjyLzmcu8vfMxRk2X8G8ynA7tQRGKJqgrvj7Bw";
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/${oldLink}`);
    assert.equal(
      await page.inputValue(domainInput),
      "<cpu mode='custom' check='partial'>\n  <model>Skylake-Client</model>\n</cpu>\n",
    );
    assert.match(await page.inputValue(hostPaste), /^CPU 0:\n   0x00000000 0x00: eax=0x00000016/);
    assert.equal(await page.inputValue("[data-testid=accelerator]"), "tcg");
    assert.equal(await page.inputValue("[data-testid=models-filter]"), "sky");
    assert.equal(await page.getAttribute("html", "data-theme"), "dark");
    assert.deepEqual(page.consoleErrors, []);
    await page.close();
  });

  test("Copy link copies the address with the state, written at that moment", async () => {
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"]);
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/`);
    await page.fill(domainInput, "<cpu mode='host-passthrough'/>");
    // At once, before the address bar's delayed write.
    await page.click("[data-testid=share-link]");
    await page.waitForFunction(() =>
      document.querySelector("[data-testid=share-link]").textContent.includes("Copied"),
    );
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(stateInUrl(copied)?.domain_xml, "<cpu mode='host-passthrough'/>");
    assert.equal(copied, page.url());
    await page.close();
  });

  test("a broken fragment opens the empty page instead of failing", async () => {
    const page = await newRecordingPage(browser.context);
    await openApp(page, `${server.origin}/#s=not-a-state`);
    assert.equal(await page.inputValue(domainInput), "");
    assert.deepEqual(page.consoleErrors, []);
    await page.close();
  });
});
