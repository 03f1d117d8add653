// The report of sosreport archives dropped on the page. boot.js loads this
// module on the first such drop, so none of it is in the page loaded at start:
// its drop listener runs in the capture phase, before the app's own (text
// dumps), which does not see a drop with archives; other files dropped with
// them are not read.
//
// The archives go to the sosreport worker (crates/sosreport-worker, a second
// WebAssembly module Trunk builds beside the page under fixed names); it reads
// them in the browser and answers with the text `guestcpu sosreport` prints,
// shown here in a panel above the app. Nothing leaves the page.

const workerLoader = new URL("./guestcpu-sosreport-worker_loader.js", import.meta.url);

// The worker of the latest drop: an earlier one's late answer is not shown.
let latest = null;

/** The panel (a heading, a Close button and the report), made on first use, above the app. */
function panel() {
  let section = document.querySelector("[data-testid=sosreport]");
  if (section === null) {
    section = document.createElement("section");
    section.className = "panel sosreport";
    section.dataset.testid = "sosreport";
    section.setAttribute("aria-live", "polite");
    const title = document.createElement("div");
    title.className = "panel-title";
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", () => {
      latest?.terminate();
      latest = null;
      section.remove();
    });
    title.append(document.createElement("h2"), close);
    const report = document.createElement("pre");
    report.dataset.testid = "sosreport-text";
    section.append(title, report);
    document.body.prepend(section);
  }
  return section;
}

/**
 * Reads `archives` (an array of `File`s, each a .tar.xz, .tar.gz or .tar) in a
 * new worker and shows their report; the worker ends with its answer.
 */
export function showReport(archives) {
  const section = panel();
  const heading = section.querySelector("h2");
  const report = section.querySelector("pre");
  heading.textContent = `sosreport ${archives.map((file) => file.name).join(", ")}`;
  report.textContent = "Reading the archive in this page…";
  section.dataset.state = "reading";
  const worker = new Worker(workerLoader);
  latest = worker;
  const show = (text) => {
    worker.terminate();
    if (latest !== worker) return;
    report.textContent = text;
    section.dataset.state = "done";
  };
  worker.onmessage = ({ data }) => {
    // `null`: the worker's module runs and can take the archives.
    if (data === null) {
      worker.postMessage(archives);
    } else {
      show(data);
    }
  };
  worker.onerror = () => show("the sosreport reader failed to load");
}
