// sosreport archives dropped on the page: read in the archive worker (a second
// WebAssembly module loaded only then), they give the report `guestcpu
// sosreport` prints, word for word, and nothing leaves the page. The archives
// are made here from the recorded sosreports (tests/sosreport/STACK/) with the
// system's tar, xz and gzip; the expected report is the CLI's own, run on the
// same files under the same names. Truncated archives and bad reports (an ARM
// host, an archive of something else, a file that is no archive) say what is
// missing as the CLI says it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";

import { newRecordingPage, openApp, repoRoot, startBrowser, startServer } from "./harness.mjs";

const recorded = path.join(repoRoot, "tests", "sosreport");
const stacks = readdirSync(recorded).filter((name) =>
  statSync(path.join(recorded, name)).isDirectory(),
);
const workerLoader = "guestcpu-sosreport-worker_loader.js";

let server;
let browser;
let scratch;

before(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), "guestcpu-sosreport-"));
  for (const stack of stacks) {
    // The top folder as sos names it: sosreport-HOST-DATE/.
    const tar = execFileSync("tar", [
      "--create",
      "--file=-",
      "--sort=name",
      `--transform=s,^${stack},sosreport-${stack},`,
      `--directory=${recorded}`,
      stack,
    ]);
    writeFileSync(path.join(scratch, `${stack}.tar.xz`), execFileSync("xz", ["-c"], { input: tar }));
    writeFileSync(path.join(scratch, `${stack}.tar.gz`), execFileSync("gzip", ["-c"], { input: tar }));
  }
  server = await startServer();
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** `guestcpu sosreport ARGS...` run in the scratch folder (so that reports are named as the page names them). */
function cli(...args) {
  return execFileSync(
    "cargo",
    ["run", "--quiet", "--locked", "--manifest-path", path.join(repoRoot, "Cargo.toml"),
      "-p", "guestcpu-cli", "--", "sosreport", ...args],
    { cwd: scratch, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
}

/** Writes `bytes` as the scratch file `name`. */
function scratchFile(name, bytes) {
  writeFileSync(path.join(scratch, name), bytes);
  return name;
}

/** Drops the scratch files `names` on the page together and resolves to the report it shows. */
async function dropArchives(page, names) {
  const files = names.map((name) => ({
    name,
    base64: readFileSync(path.join(scratch, name)).toString("base64"),
  }));
  await page.evaluate((files) => {
    const transfer = new DataTransfer();
    for (const { name, base64 } of files) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], name));
    }
    window.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, cancelable: true }));
  }, files);
  // The panel names the archives at once, and shows the report when the worker answers.
  await page.waitForFunction(
    (heading) => {
      const panel = document.querySelector("[data-testid=sosreport]");
      return panel?.querySelector("h2").textContent === heading && panel.dataset.state === "done";
    },
    `sosreport ${names.join(", ")}`,
    { timeout: 30_000 },
  );
  return page.textContent("[data-testid=sosreport-text]");
}

/** The verdict in one word, as the CLI's text shows it. */
const word = (verdict) => (!verdict.starts ? "FAILS" : verdict.abi_stable ? "starts" : "filtered");

for (const stack of stacks) {
  for (const extension of ["tar.xz", "tar.gz"]) {
    test(`a dropped ${stack}.${extension} gives the CLI's report for every domain`, async () => {
      const name = `${stack}.${extension}`;
      const page = await newRecordingPage(browser.context);
      await openApp(page, `${server.origin}/`);
      assert.ok(
        !page.requests.some((url) => url.includes("sosreport")),
        "the sosreport code is not loaded before an archive is dropped",
      );
      const shown = await dropArchives(page, [name]);

      assert.equal(shown, cli(name));
      const json = JSON.parse(cli("--format", "json", name));
      const domains = json.reports[0].domains;
      assert.ok(domains.length > 0, "the recorded report has domains");
      for (const domain of domains) {
        const state = domain.running ? "running" : "shut off";
        const { check, verdicts } = domain.check;
        const heading = `\n${domain.name} (${state}, check='${check}')\n`;
        const at = shown.indexOf(heading);
        assert.ok(at >= 0, `${domain.name}: ${heading.trim()} in ${shown}`);
        const lines = shown.slice(at + heading.length).split("\n");
        // As the CLI writes it: "  {check:<8}{word:<9}{own} {message}".
        for (const [index, which] of ["none", "partial", "full"].entries()) {
          const own = verdicts[which].own ? " (own)" : "";
          const start = `  ${which.padEnd(8)}${word(verdicts[which]).padEnd(9)}${own} `;
          assert.ok(lines[index].startsWith(start), `${domain.name}: ${lines[index]}`);
        }
      }
      assert.ok(page.requests.some((url) => url.endsWith(workerLoader)), "the worker was loaded");
      assert.deepEqual(
        page.requests.filter((url) => !url.startsWith(server.origin)),
        [],
        "nothing leaves the page",
      );
      assert.deepEqual(page.consoleErrors, []);
      await page.close();
    });
  }
}

test("archives dropped together get the fleet view, as the CLI gives it", async () => {
  const names = stacks.slice(0, 2).map((stack) => `${stack}.tar.xz`);
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  const shown = await dropArchives(page, names);
  assert.match(shown, /\n== fleet of 2 reports /);
  assert.equal(shown, cli(...names));
  // Close takes the report away, and the app is as it was.
  await page.click("[data-testid=sosreport] button");
  assert.equal(await page.$("[data-testid=sosreport]"), null);
  await page.waitForSelector("[data-testid=status]");
  await page.close();
});

test("a truncated archive is read up to its break, as the CLI reads it", async () => {
  const stack = stacks[0];
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  // The break's line: "missing: the archive breaks after N of the files guestcpu
  // reads (REASON): the files after the break are missing". The reason is the
  // decompressor's own words, which differ (xz2 and flate2 in the CLI, lzma-rust2
  // and the browser's DecompressionStream here).
  const breakLine = (text) =>
    text.split("\n").find((line) => line.startsWith("missing: the archive breaks after "));
  const filesRead = (line) => Number(/breaks after (\d+) /.exec(line)[1]);
  const withoutBreak = (text) => text.replace(breakLine(text), "");
  for (const extension of ["tar.gz", "tar.xz"]) {
    const whole = readFileSync(path.join(scratch, `${stack}.${extension}`));
    const cut = whole.subarray(0, Math.floor((whole.length * 3) / 4));
    const name = scratchFile(`truncated-${stack}.${extension}`, cut);
    const shown = await dropArchives(page, [name]);
    const expected = cli(name);
    const [shownBreak, expectedBreak] = [breakLine(shown), breakLine(expected)];
    assert.ok(shownBreak?.endsWith("): the files after the break are missing"), `${name}: ${shown}`);
    assert.ok(filesRead(shownBreak) > 0, `${name}: the files before the break are read`);
    if (extension === "tar.gz") {
      // The browser's gzip gives every byte before the break, as flate2 does.
      assert.equal(shownBreak.split(" (")[0], expectedBreak.split(" (")[0], name);
      assert.equal(withoutBreak(shown), withoutBreak(expected), name);
    } else {
      // lzma-rust2 keeps back the last bytes it cannot decode without what
      // follows (crates/sosreport-worker's XzDecoder): at most the file they
      // fall in is counted missing besides the CLI's.
      const [read, readByCli] = [filesRead(shownBreak), filesRead(expectedBreak)];
      assert.ok(readByCli - 1 <= read && read <= readByCli, `${name}: ${read} of ${readByCli}`);
    }
  }
  await page.close();
});

test("bad reports say what is missing, as the CLI says it", async () => {
  // A report of an ARM host: bookworm's, its cpuinfo an aarch64 one and no
  // sos_commands/ (no CPUID, no virsh).
  const arm = path.join(scratch, "sosreport-arm");
  cpSync(path.join(recorded, stacks[0]), arm, { recursive: true });
  rmSync(path.join(arm, "sos_commands"), { recursive: true, force: true });
  writeFileSync(
    path.join(arm, "proc", "cpuinfo"),
    "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm\nCPU implementer\t: 0x41\nCPU architecture: 8\n",
  );
  // An archive of something else than an sosreport.
  const other = path.join(scratch, "notes");
  mkdirSync(other);
  writeFileSync(path.join(other, "notes.txt"), "hello\n");
  const tarOf = (folder) =>
    execFileSync("tar", ["--create", "--file=-", `--directory=${scratch}`, folder]);
  scratchFile("arm.tar.gz", execFileSync("gzip", ["-c"], { input: tarOf("sosreport-arm") }));
  scratchFile("notes.tar.xz", execFileSync("xz", ["-c"], { input: tarOf("notes") }));
  const page = await newRecordingPage(browser.context);
  await openApp(page, `${server.origin}/`);
  for (const name of ["arm.tar.gz", "notes.tar.xz"]) {
    const shown = await dropArchives(page, [name]);
    assert.equal(shown, cli(name), name);
    const missing = {
      "arm.tar.gz": /\nmissing: the host is ARM \(aarch64\), not x86/,
      "notes.tar.xz": /\nmissing: no libvirt on this host /,
    }[name];
    assert.match(shown, missing, name);
  }
  // Not compressed at all, though named so: the break is at the start; its
  // reason is the decompressor's words.
  const name = scratchFile("garbage.tar.gz", "this is no archive\n");
  const shown = await dropArchives(page, [name]);
  const breakAtStart = /\nmissing: the archive breaks after 0 of the files guestcpu reads \(.+\): the files after the break are missing\n/;
  assert.match(shown, breakAtStart);
  assert.match(cli(name), breakAtStart);
  await page.close();
});
