// Loads guestcpu's WebAssembly module and publishes `window.guestcpu` (API in
// the README). Not inline, for the CSP; Trunk names the module's files in this
// script's data attributes (Trunk.toml). Comments here are downloaded: the
// design is in docs/architecture.md.

const loader = document.querySelector("script[data-js][data-wasm]");

let bindings = null;
let markReady;
let markFailed;
const loaded = new Promise((resolve, reject) => {
  markReady = resolve;
  markFailed = reject;
});

// The older releases' data, which the module leaves out, comes from the
// releases worker (crates/releases-worker) when `ready` is first read; the app
// reads it when a check first asks for an older release. A failed load is
// tried again on the next read.
const releasesWorker = new URL("./guestcpu-releases-worker_loader.js", import.meta.url);
let releases = null;
function loadOlderReleases() {
  releases ??= loaded
    .then(
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(releasesWorker);
          worker.onmessage = (event) => {
            worker.terminate();
            if (bindings.load_releases(event.data)) {
              resolve(window.guestcpu);
            } else {
              reject(new Error("the older libvirt and QEMU releases' data is malformed"));
            }
          };
          worker.onerror = () => {
            worker.terminate();
            reject(new Error("cannot load the older libvirt and QEMU releases' data"));
          };
        }),
    )
    .catch((error) => {
      releases = null;
      throw error;
    });
  return releases;
}

window.guestcpu = Object.freeze({
  /** Resolves to `window.guestcpu` once `analyze` answers any check (module and older releases). */
  get ready() {
    return loadOlderReleases();
  },
  /** `guestcpu check --json`'s report for a domain on one host's file(s); see the README. */
  analyze(domainXml, hostDump, options) {
    if (bindings === null) {
      throw new Error("guestcpu is not loaded yet: await window.guestcpu.ready first");
    }
    return bindings.analyze(domainXml, hostDump, options);
  },
});

// Dropped sosreport archives (names as crates/sosreport's ArchiveKind::of) go
// to web/sosreport.js, fetched only then.
const archiveName = /\.(tar\.xz|txz|tar\.gz|tgz|tar)$/i;
window.addEventListener(
  "drop",
  (event) => {
    const archives = [...(event.dataTransfer?.files ?? [])].filter((f) => archiveName.test(f.name));
    if (archives.length === 0) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    import("./sosreport.js").then(({ showReport }) => showReport(archives));
  },
  { capture: true },
);

// Once the module is in, a second policy closes connect-src for good.
function forbidFurtherConnections() {
  const policy = document.createElement("meta");
  policy.httpEquiv = "Content-Security-Policy";
  policy.content = "connect-src 'none'";
  document.head.append(policy);
}

// wasm-bindgen's `no-modules` bindings: a classic script defining `wasm_bindgen`.
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(script);
  });
}

try {
  await loadScript(loader.dataset.js);
  await wasm_bindgen({ module_or_path: loader.dataset.wasm });
  bindings = wasm_bindgen;
  forbidFurtherConnections();
  markReady(window.guestcpu);
} catch (error) {
  markFailed(error);
  throw error;
}
