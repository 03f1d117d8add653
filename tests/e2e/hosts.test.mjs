// One host from several files: a raw CPUID dump and QEMU's answer picked
// together are joined as `guestcpu check --host A --host B` joins them, the page
// says what each file gave, one can be removed, share links keep them, and the
// JavaScript API takes the files as an array.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";

import { newRecordingPage, openApp, openAppAlone, startBrowser, stateInUrl, startServer } from "./harness.mjs";

const fixtures = new URL("../../crates/cli/tests/fixtures/", import.meta.url);
const file = (name, mimeType) => ({
  name,
  mimeType,
  buffer: readFileSync(new URL(name, fixtures)),
});
const raw = file("cpudata-penryn.xml", "text/xml");
const qmp = file("qmp-replies.json", "application/json");

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  server?.close();
});

test("files picked together make one host, listed with what each gave", async () => {
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  await page.fill("[data-testid=domain-input]", "<cpu mode='host-model'/>");
  await page.setInputFiles("[data-testid=host-file]", [raw, qmp]);
  await page.waitForSelector("[data-testid=host-files]");
  const lines = await page.$$eval("[data-testid=host-files] li", (items) =>
    items.map((item) => item.textContent),
  );
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^cpudata-penryn\.xml \(libvirt cpudata XML\): raw CPUID/);
  assert.match(lines[1], /^qmp-replies\.json \(QMP replies .*\): QEMU's answer/);
  await page.waitForSelector("[data-testid=headline]");
  assert.match(await page.textContent("[data-testid=notes]"), /joined from qmp-replies\.json/);
  assert.match(await page.textContent("[data-testid=host-format]"), /QMP replies .* \+ libvirt cpudata XML/);

  // The share link keeps both files.
  await page.waitForURL((url) => stateInUrl(url)?.more_host_files?.length === 1);
  const reopened = await newRecordingPage(browser.context);
  await openApp(reopened, page.url());
  await reopened.waitForSelector("[data-testid=host-files]");
  assert.equal(await reopened.$$eval("[data-testid=host-files] li", (items) => items.length), 2);
  await reopened.close();

  // Removing QEMU's answer leaves the raw dump alone.
  await page.click("[data-testid=host-files] li:nth-child(2) button");
  await page.waitForSelector("[data-testid=host-files]", { state: "detached" });
  assert.match(await page.textContent("[data-testid=host-format]"), /^Format: libvirt cpudata XML/);
  await page.close();
});

test("the API takes one host's files as an array of strings", async () => {
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  const [rawText, qmpText] = [raw, qmp].map((f) => f.buffer.toString());
  const result = await page.evaluate(
    ([rawText, qmpText]) => {
      const domain = "<cpu mode='host-model'/>";
      const joined = window.guestcpu.analyze(domain, [rawText, qmpText], { libvirtVersion: "11.3" });
      let refused;
      try {
        window.guestcpu.analyze(domain, [rawText, 7]);
      } catch (error) {
        refused = error.message;
      }
      return { notes: joined.notes, refused };
    },
    [rawText, qmpText],
  );
  assert.ok(
    result.notes.some((note) => note.startsWith("joined from host file 2 (QMP replies")),
    JSON.stringify(result.notes),
  );
  assert.equal(result.refused, "host must be a string or an array of strings");
  await page.close();
});

test("comparing with another stack shows what changes for the domain", async () => {
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  await page.selectOption("[data-testid=examples]", "host:0");
  await page.fill(
    "[data-testid=domain-input]",
    "<domain type='kvm'><cpu mode='custom' check='partial'><model>Haswell-v1</model></cpu></domain>",
  );
  await page.selectOption("[data-testid=libvirt-version]", "9.0");
  await page.selectOption("[data-testid=qemu-version]", "7.2");
  await page.selectOption("[data-testid=upgrade-to]", "11.3:10.0");
  await page.waitForSelector("[data-testid=upgrade] table");
  assert.equal(
    await page.textContent("#upgrade-heading"),
    "libvirt 9.0 + QEMU 7.2 → libvirt 11.3 + QEMU 10.0",
  );
  const rows = await page.$$eval("[data-testid=upgrade] tbody tr", (trs) =>
    trs.map((tr) => [...tr.cells].map((cell) => cell.textContent)),
  );
  const own = rows.find(([what]) => what === "verdict (check='partial', the domain's own)");
  assert.ok(own, JSON.stringify(rows));
  assert.match(own[1], /^does not start: .*Unknown CPU model Haswell-v1/);
  assert.doesNotMatch(own[2], /Unknown CPU model/);
  // The choice is part of the share link; turning it off removes the panel.
  await page.waitForURL((url) => stateInUrl(url)?.upgrade_to === "11.3:10.0");
  await page.selectOption("[data-testid=upgrade-to]", "");
  await page.waitForSelector("[data-testid=upgrade]", { state: "detached" });
  await page.close();
});

test("older releases' data is loaded only when a check asks for an older release", async () => {
  const page = await newRecordingPage(browser.context);
  await openAppAlone(page, `${server.origin}/`);
  const loaded = () => page.requests.some((url) => url.includes("guestcpu-releases-worker"));
  await page.selectOption("[data-testid=examples]", "host:0");
  await page.fill("[data-testid=domain-input]", "<domain type='kvm'><cpu mode='host-model'/></domain>");
  await page.waitForSelector("[data-testid=settings]");
  assert.match(await page.textContent("[data-testid=settings]"), /^QEMU 11\.1 \(newest\), libvirt 12\.9 \(newest\)/);
  assert.equal(loaded(), false, "the newest releases need nothing more");

  // A machine type names QEMU 7.2: its definitions come from the releases worker.
  await page.fill(
    "[data-testid=domain-input]",
    "<domain type='kvm'><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>" +
      "<cpu mode='host-model'/></domain>",
  );
  await page.waitForFunction(() =>
    document.querySelector("[data-testid=settings]")?.textContent.startsWith("QEMU 7.2 (machine)"),
  );
  assert.ok(loaded(), "the releases worker was started");
  assert.deepEqual(
    page.requests.filter((url) => !url.startsWith(server.origin)),
    [],
    "nothing left the origin",
  );
  // The API answers older releases once `ready` says so.
  const answered = await page.evaluate(async () => {
    const api = await window.guestcpu.ready;
    const host = document.querySelector("[data-testid=host-paste]").value;
    return api.analyze("<cpu mode='host-model'/>", host, { qemuVersion: "5.2", libvirtVersion: "9.0" })
      .settings;
  });
  assert.equal(answered.qemu_version, "5.2");
  assert.equal(answered.libvirt_version, "9.0");
  await page.close();
});
