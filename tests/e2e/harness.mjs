// Shared by the end-to-end tests and the budget script: serves dist/ on loopback
// with Python's static server and drives Debian's Chromium with playwright-core.
// No browser is ever downloaded; no request may leave 127.0.0.1.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const distDir = process.env.GUESTCPU_DIST ?? path.join(repoRoot, "dist");
export const screenshotDir =
  process.env.GUESTCPU_SCREENSHOTS ?? path.join(repoRoot, "target", "e2e-screenshots");

const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Flags for a machine without internet: no background connections, no GPU.
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Serves `distDir` on 127.0.0.1 at a free port; resolves to `{ origin, close }`. */
export function startServer() {
  const server = spawn(
    "python3",
    ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", distDir],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      server.kill();
      reject(new Error("the static server did not start within 10 s"));
    }, 10_000);
    let output = "";
    server.stdout.on("data", (chunk) => {
      output += chunk;
      const port = /port (\d+)/.exec(output)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve({ origin: `http://127.0.0.1:${port}`, close: () => server.kill() });
      }
    });
    server.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the static server exited with ${code}: ${output}`));
    });
  });
}

/** Starts Chromium with a fresh profile; resolves to `{ context, close }`. */
export async function startBrowser() {
  const profile = mkdtempSync(path.join(os.tmpdir(), "guestcpu-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new page that records every request it makes, in `page.requests`. */
export async function newRecordingPage(context, viewport) {
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  if (viewport) await page.setViewportSize(viewport);
  page.requests = [];
  page.on("request", (request) => page.requests.push(request.url()));
  page.consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") page.consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => page.consoleErrors.push(String(error)));
  return page;
}

/**
 * Navigates and waits until the app rendered, read the state in the URL fragment
 * (decompressed asynchronously by the browser) and `window.guestcpu.ready` resolved.
 */
export async function openApp(page, url) {
  await openAppAlone(page, url);
  await page.evaluate(() => window.guestcpu.ready.then(() => true));
}

/**
 * `openApp` without reading `window.guestcpu.ready`, which starts loading the
 * older releases' data: the page as it loads for a user.
 */
export async function openAppAlone(page, url) {
  await page.goto(url);
  await page.waitForSelector("[data-testid=app][data-restored=true]");
}

/** Where screenshots go; created on first use. */
// The app state a URL's share fragment (`#s=` + base64url of raw DEFLATE of the
// state's JSON) holds; null without one. The app writes the address bar once
// the state has settled, so tests wait for the state they expect with
// `page.waitForURL((url) => predicate(stateInUrl(url)))`.
export function stateInUrl(url) {
  const hash = new URL(url).hash;
  if (!hash.startsWith("#s=")) return null;
  return JSON.parse(inflateRawSync(Buffer.from(hash.slice(3), "base64url")).toString("utf8"));
}

export function screenshotPath(name) {
  mkdirSync(screenshotDir, { recursive: true });
  return path.join(screenshotDir, name);
}
