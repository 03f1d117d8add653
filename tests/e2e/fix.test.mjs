// What a new user meets first: example pairs on a fresh page, the headline and
// the fix at the top at 1280 and 390 px, the errors for files that hold no dump,
// the filtered table and the models filter on a phone, focus rings and dark mode.
// Screenshots go to target/e2e-screenshots/ (see harness.mjs).

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import {
  newRecordingPage,
  openApp,
  screenshotPath,
  startBrowser,
  startServer,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  await browser.context.grantPermissions(["clipboard-read", "clipboard-write"]);
});

after(async () => {
  await browser?.close();
  server?.close();
});

const desktop = { width: 1280, height: 900 };
const phone = { width: 390, height: 844 };

/** A fresh page at `viewport`, with an example pair loaded from its button. */
async function pageWithPair(viewport, index) {
  const page = await newRecordingPage(browser.context, viewport);
  await openApp(page, `${server.origin}/`);
  await page.click(`[data-testid=example-pair-${index}]`);
  await page.waitForSelector("[data-testid=headline]");
  return page;
}

/** The top of `selector`'s box, in CSS pixels from the top of the page. */
function topOf(page, selector) {
  return page.$eval(selector, (element) => element.getBoundingClientRect().top + window.scrollY);
}

describe("example pairs", () => {
  test("a fresh page offers pairs; each shows a headline and verdicts at once", async () => {
    const page = await newRecordingPage(browser.context, desktop);
    await openApp(page, `${server.origin}/`);
    const buttons = await page.$$("[data-testid^=example-pair-]");
    assert.ok(buttons.length >= 3, `${buttons.length} example pairs`);
    for (let index = 0; index < buttons.length; index += 1) {
      await openApp(page, `${server.origin}/`);
      await page.click(`[data-testid=example-pair-${index}]`);
      assert.ok((await page.textContent("[data-testid=headline]")).length > 10);
      assert.match(await page.textContent("[data-testid=verdict-full]"), /starts|does not start/);
      assert.match(await page.inputValue("[data-testid=domain-input]"), /<cpu/);
      assert.ok((await page.inputValue("[data-testid=host-paste]")).length > 0);
    }
    // The menu offers the same pairs.
    await openApp(page, `${server.origin}/`);
    await page.selectOption("[data-testid=examples]", "pair:1");
    await page.waitForSelector("[data-testid=headline]");
    assert.deepEqual(page.consoleErrors, []);
    await page.close();
  });
});

describe("the headline and the fix", () => {
  for (const [name, viewport] of [
    ["1280", desktop],
    ["390", phone],
  ]) {
    test(`at ${name} px the headline and the fix come first, above the inputs`, async () => {
      const page = await pageWithPair(viewport, 2);
      const headline = await topOf(page, "[data-testid=headline]");
      assert.ok(headline < 200, `the headline starts ${headline}px down`);
      assert.ok(headline < (await topOf(page, "[data-testid=domain-input]")));
      assert.ok((await topOf(page, "[data-testid=fix-changes]")) < viewport.height);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than ${name}px`);
      await page.screenshot({ path: screenshotPath(`fix-${name}.png`) });
      await page.screenshot({ path: screenshotPath(`fix-${name}-full.png`), fullPage: true });
      await page.close();
    });
  }

  test("the fix lists its changes, diffs against the input, copies, and starts when checked again", async () => {
    const page = await pageWithPair(desktop, 2);
    const changes = await page.$$eval("[data-testid=fix-changes] li", (items) =>
      items.map((item) => item.textContent),
    );
    assert.ok(changes.length > 0, "no change listed");
    // Feature names are set as code, not between backquotes.
    assert.ok(await page.$("[data-testid=fix-changes] li code"));
    assert.ok(changes.every((change) => !change.includes("`")), `${changes}`);
    assert.ok((await page.textContent("[data-testid=fix-explanation]")).length > 0);
    // The diff is shown at once: the input's lines removed, the fix's added.
    const lines = await page.$$eval("[data-testid=fix-xml-diff] span", (spans) =>
      spans.map((span) => [span.className, span.textContent]),
    );
    assert.ok(lines.some(([kind]) => kind === "diff-added"), "no added line");
    assert.ok(lines.some(([kind]) => kind === "diff-removed"), "no removed line");
    // Unticking shows the fixed domain itself, which is what Copy copies.
    await page.uncheck("[data-testid=fix-xml-diff-toggle]");
    const fixed = await page.textContent("[data-testid=fix-xml]");
    await page.click("[aria-label='Copy Fixed domain XML']");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), fixed);
    // Checked again on the same host: starts under check='full', nothing to fix.
    await page.fill("[data-testid=domain-input]", fixed);
    await page.waitForSelector("[data-testid=fix-none]");
    assert.match(await page.textContent("[data-testid=verdict-full]"), /starts, ABI stable/);
    assert.match(await page.textContent("[data-testid=filtered-list]"), /Filtered features \(0\)/);
    assert.equal(await page.$("[data-testid=fix-xml]"), null);
    await page.close();
  });
});

describe("files that hold no host dump", () => {
  for (const [what, file, message] of [
    ["an empty file", { name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) }, /empty\.txt is empty/],
    [
      "a PNG image",
      {
        name: "screenshot.png",
        mimeType: "image/png",
        buffer: Buffer.from("89504e470d0a1a0a0000000d4948445200000001", "hex"),
      },
      /screenshot\.png is not a text file \(a PNG image\)/,
    ],
  ]) {
    test(`${what} is refused with an error next to the input and at the top`, async () => {
      const page = await newRecordingPage(browser.context, phone);
      await openApp(page, `${server.origin}/`);
      await page.selectOption("[data-testid=examples]", "domain:0");
      await page.setInputFiles("[data-testid=host-file]", file);
      await page.waitForSelector("[data-testid=host-format].input-error");
      assert.match(await page.textContent("[data-testid=host-format]"), message);
      assert.match(await page.textContent("[data-testid=status]"), message);
      assert.equal(await page.inputValue("[data-testid=host-paste]"), "");
      assert.equal(await page.$("[data-testid=headline]"), null);
      await page.screenshot({ path: screenshotPath(`error-${file.name}-390.png`) });
      // Pasting a dump clears the error.
      await page.selectOption("[data-testid=examples]", "host:0");
      await page.waitForSelector("[data-testid=headline]");
      assert.doesNotMatch(await page.textContent("[data-testid=host-format]"), message);
      await page.close();
    });
  }
});

describe("tables on a phone and beside the inputs", () => {
  for (const [name, viewport] of [
    ["1280", desktop],
    ["390", phone],
  ]) {
    test(`at ${name} px the filtered table's cells fit, CPUID on one line`, async () => {
      const page = await pageWithPair(viewport, 1);
      const rows = await page.$$("[data-testid=filtered-list] tbody tr");
      assert.ok(rows.length > 0, "the pair filters no feature");
      const cells = await page.$$eval("[data-testid=filtered-list] td", (tds) =>
        tds.map((td) => {
          const code = td.querySelector("code");
          const box = (code ?? td).getBoundingClientRect();
          const lineHeight = code ? parseFloat(getComputedStyle(code).lineHeight) : 0;
          return {
            label: td.dataset.label,
            right: box.right,
            codeHeight: code ? code.getBoundingClientRect().height : 0,
            lineHeight,
          };
        }),
      );
      const panelRight = await page.$eval("[data-testid=filtered-list]", (panel) =>
        panel.getBoundingClientRect().right,
      );
      for (const cell of cells) {
        assert.ok(cell.right <= panelRight + 0.5, `${cell.label} runs to ${cell.right}px, past ${panelRight}px`);
        if (cell.label === "CPUID") {
          assert.ok(cell.codeHeight <= cell.lineHeight * 1.5, `CPUID wraps: ${cell.codeHeight}px`);
        }
      }
      await page.$eval("[data-testid=filtered-list]", (panel) => panel.scrollIntoView());
      await page.screenshot({ path: screenshotPath(`filtered-${name}.png`) });
      await page.close();
    });
  }

  test("'usable only' narrows the models to the usable ones and survives a reload", async () => {
    const page = await pageWithPair(phone, 1);
    const usableColumn = () =>
      page.$$eval("[data-testid=models-table] tbody tr", (rows) =>
        rows.map((row) => row.cells[1].textContent),
      );
    const all = await usableColumn();
    assert.ok(all.includes("no") && all.includes("yes"));
    await page.check("[data-testid=models-usable-only]");
    const usable = await usableColumn();
    assert.ok(usable.length > 0 && usable.length < all.length);
    assert.ok(usable.every((cell) => cell === "yes"), `${usable}`);
    assert.match(await page.textContent("#models-heading"), new RegExp(`\\(${usable.length} of ${all.length}\\)`));
    await page.fill("[data-testid=models-filter]", "haswell");
    const both = await usableColumn();
    assert.ok(both.length <= usable.length);
    await page.waitForURL((url) => url.hash.startsWith("#s="));
    await page.waitForTimeout(300);
    const reopened = await newRecordingPage(browser.context, phone);
    await openApp(reopened, page.url());
    assert.equal(await reopened.isChecked("[data-testid=models-usable-only]"), true);
    await reopened.$eval("[data-testid=models-table]", (table) => table.scrollIntoView());
    await reopened.screenshot({ path: screenshotPath("models-usable-only-390.png") });
    await reopened.close();
    await page.close();
  });
});

describe("focus and themes", () => {
  test("the editor's focus ring is drawn whole, not clipped", async () => {
    const page = await newRecordingPage(browser.context, desktop);
    await openApp(page, `${server.origin}/`);
    await page.focus("[data-testid=examples]");
    // Tab to the editor so that :focus-visible applies as for a keyboard user.
    for (let press = 0; press < 20; press += 1) {
      if (await page.evaluate(() => document.activeElement?.dataset.testid === "domain-input")) break;
      await page.keyboard.press("Tab");
    }
    const ring = await page.$eval(".editor", (editor) => {
      const style = getComputedStyle(editor);
      return { width: style.outlineWidth, style: style.outlineStyle };
    });
    assert.deepEqual(ring, { width: "3px", style: "solid" });
    const editor = await page.$(".editor");
    const box = await editor.boundingBox();
    await page.screenshot({
      path: screenshotPath("focus-editor.png"),
      clip: { x: box.x - 10, y: box.y - 10, width: box.width + 20, height: 60 },
    });
    await page.close();
  });

  for (const [name, viewport] of [
    ["1280", desktop],
    ["390", phone],
  ]) {
    test(`dark mode at ${name} px: the headline and the fix read on a dark background`, async () => {
      const page = await newRecordingPage(browser.context, viewport);
      await page.emulateMedia({ colorScheme: "dark" });
      await openApp(page, `${server.origin}/`);
      await page.click("[data-testid=example-pair-2]");
      await page.waitForSelector("[data-testid=headline]");
      const colours = await page.$eval("[data-testid=fix]", (panel) => ({
        panel: getComputedStyle(panel).backgroundColor,
        text: getComputedStyle(panel.querySelector("[data-testid=fix-explanation]")).color,
      }));
      assert.equal(colours.panel, "rgb(27, 30, 33)");
      assert.notEqual(colours.text, "rgb(0, 0, 0)");
      await page.screenshot({ path: screenshotPath(`fix-dark-${name}.png`) });
      await page.close();
    });
  }
});
