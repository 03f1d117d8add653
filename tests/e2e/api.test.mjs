// `window.guestcpu`, the JavaScript API from the same WebAssembly module.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { newRecordingPage, openApp, openAppAlone, startBrowser, startServer } from "./harness.mjs";

let server;
let browser;
let page;

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
});

after(async () => {
  await browser?.close();
  server?.close();
});

/** Calls `window.guestcpu.analyze` in the page; `{ ok }` or `{ error }`. */
function analyze(domainXml, hostDump, options) {
  return page.evaluate(
    ([domainXml, hostDump, options]) => {
      try {
        return { ok: window.guestcpu.analyze(domainXml, hostDump, options) };
      } catch (error) {
        return { error: `${error.name}: ${error.message}` };
      }
    },
    [domainXml, hostDump, options],
  );
}

test("ready is a promise that resolves to the API itself", async () => {
  const same = await page.evaluate(async () => {
    const api = await window.guestcpu.ready;
    return api === window.guestcpu && window.guestcpu.ready instanceof Promise;
  });
  assert.equal(same, true);
});

test("a domain that does not parse is an Error naming line and column", async () => {
  const result = await analyze("<cpu>\n<model>\n</cpu>", "", undefined);
  assert.match(result.error, /^Error: domain XML 3:\d+: /);
});

test("a missing host dump is an Error saying so", async () => {
  const result = await analyze("<cpu mode='host-model'/>", "", {});
  assert.equal(result.error, "Error: no host dump yet");
});

test("analyze returns the report of `guestcpu check --json`", async () => {
  await page.selectOption("[data-testid=examples]", "host:0");
  const hostDump = await page.inputValue("[data-testid=host-paste]");
  const domain = "<domain type='kvm'><cpu mode='host-model' check='partial'/></domain>";
  const { ok: report, error } = await analyze(domain, hostDump, { accel: "kvm" });
  assert.equal(error, undefined);
  assert.equal(report.check, "partial");
  assert.deepEqual(Object.keys(report.verdicts), ["none", "partial", "full"]);
  assert.equal(report.verdicts.partial.own, true);
  assert.equal(typeof report.verdicts.none.starts, "boolean");
  assert.equal(report.settings.accelerator, "kvm");
  assert.match(report.qemu_cpu_arg, /Skylake-Server/);
  assert.ok(report.models.length > 50);
  assert.match(report.host.format, /\/proc\/cpuinfo/);

  const migration = await analyze(domain, hostDump, { secondHost: hostDump });
  assert.equal(migration.ok.migration.starts, true);
});

test("unknown options are refused with a message", async () => {
  const accel = await analyze("<cpu mode='host-model'/>", "x", { accel: "hvf" });
  assert.match(accel.error, /unknown accelerator `hvf`/);
  const field = await analyze("<cpu mode='host-model'/>", "x", { qemu: "9.2" });
  assert.match(field.error, /invalid options: unknown option `qemu`/);
  const kind = await analyze("<cpu mode='host-model'/>", "x", { qemuVersion: 9.2 });
  assert.match(kind.error, /option `qemuVersion` must be a string, not number/);
  const notObject = await analyze("<cpu mode='host-model'/>", "x", "9.2");
  assert.match(notObject.error, /options must be an object/);
});

test("a check of an older release waits for `ready`", async () => {
  const fresh = await newRecordingPage(browser.context);
  await openAppAlone(fresh, `${server.origin}/`);
  const result = await fresh.evaluate(async () => {
    const domain = "<cpu mode='host-model'/>";
    const host = "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor></cpu>";
    const options = { qemuVersion: "7.2" };
    const ask = () => {
      try {
        window.guestcpu.analyze(domain, host, options);
        return "answered";
      } catch (error) {
        return error.message;
      }
    };
    // Until the module is in, every call says so; then this one needs more.
    let before = ask();
    while (before.startsWith("guestcpu is not loaded yet")) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      before = ask();
    }
    await window.guestcpu.ready;
    return { before, after: window.guestcpu.analyze(domain, host, options).settings.qemu_version };
  });
  assert.match(result.before, /needs an older libvirt or QEMU release's data: await window\.guestcpu\.ready first/);
  assert.equal(result.after, "7.2");
  await fresh.close();
});
