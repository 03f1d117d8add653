// Loads guestcpu's WebAssembly module and publishes `window.guestcpu`.
//
// Kept out of index.html so that the page's Content-Security-Policy can forbid
// inline scripts. Trunk writes the hashed names of the module's JavaScript and
// WebAssembly files into this script's data attributes (see Trunk.toml).

const loader = document.querySelector("script[data-js][data-wasm]");

let bindings = null;
let markReady;
let markFailed;
const ready = new Promise((resolve, reject) => {
  markReady = resolve;
  markFailed = reject;
});

window.guestcpu = Object.freeze({
  /** Resolves to `window.guestcpu` once `analyze` can be called. */
  ready,
  /**
   * The report for `domainXml` on `hostDump`: the same object as
   * `guestcpu check --json`. `hostDump` is one dump (a string) or several files
   * of one host (an array of strings, e.g. `cpuid -1r` and QMP replies), joined
   * as `guestcpu check --host A --host B` joins them. `options`: `{ qemuVersion, accel, secondHost }`,
   * all optional. Throws an `Error` naming the input, line and column of a problem.
   */
  analyze(domainXml, hostDump, options) {
    if (bindings === null) {
      throw new Error("guestcpu is not loaded yet: await window.guestcpu.ready first");
    }
    return bindings.analyze(domainXml, hostDump, options);
  },
});

// Dropped sosreport archives (names as crates/sosreport's ArchiveKind::of) go
// to web/sosreport.js, fetched only then; see there.
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

// After the module is in, nothing else may be fetched: a second policy (policies
// only ever add restrictions) closes connect-src for the rest of the page's life.
function forbidFurtherConnections() {
  const policy = document.createElement("meta");
  policy.httpEquiv = "Content-Security-Policy";
  policy.content = "connect-src 'none'";
  document.head.append(policy);
}

// The bindings are wasm-bindgen's `no-modules` output, a classic script that
// defines one global function, `wasm_bindgen` (Trunk can minify that form).
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
