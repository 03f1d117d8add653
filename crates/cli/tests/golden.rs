//! The golden corpus: the CLI's verbs over every domain and host the
//! repository holds, and over libvirt's cputestdata hosts in `../shared`,
//! compared byte for byte with the outputs recorded under `tests/golden/`.
//!
//! One file holds one verb on one host (or one group of hosts), each run as
//! its command line, its standard output, its standard error and its exit
//! status when they are not empty or 0, so a change to any output shows as a
//! diff of that file in review. `UPDATE_EXPECT=1 cargo test -p guestcpu-cli
//! --test tests golden` writes the files anew (expect-test's switch).
//!
//! The binary runs in the repository root with relative paths, so the files
//! do not depend on where the checkout is; `../shared` is the folder beside
//! it, as for the engine's oracle suites.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use expect_test::expect_file;

use crate::util::shared_dir;

/// The repository root, where every run starts.
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One recorded file: its name below `crates/cli/tests/golden/`, what its
/// runs share (written once at its top) and its runs.
struct GoldenFile {
    name: String,
    preamble: String,
    runs: Vec<GoldenRun>,
}

/// One run of `guestcpu`, its command line as the file shows it, and how
/// many answers its output holds (a batch answers once per host).
struct GoldenRun {
    args: Vec<String>,
    shown: String,
    answers: usize,
}

impl GoldenRun {
    fn single(args: &[&str]) -> Self {
        GoldenRun {
            args: args.iter().map(|arg| arg.to_string()).collect(),
            shown: args.join(" "),
            answers: 1,
        }
    }
}

/// A recorded stack's host (`tests/real/<stack>/host`) and its releases.
struct RealStack {
    name: String,
    host: String,
    libvirt: String,
    qemu: String,
}

/// `11.3.0` as `11.3`.
fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The recorded stacks, by folder name.
fn real_stacks() -> Vec<RealStack> {
    let real = repo_root().join("tests/real");
    let mut stacks: Vec<RealStack> = std::fs::read_dir(&real)
        .expect("tests/real")
        .map(|entry| entry.expect("folder entry").path())
        .filter(|path| path.join("stack.json").is_file())
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let stack: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(path.join("stack.json")).expect("stack.json"),
            )
            .expect("stack.json is JSON");
            let release = |key: &str| major_minor(stack[key].as_str().expect("a release"));
            RealStack {
                host: format!("tests/real/{name}/host"),
                libvirt: release("libvirt"),
                qemu: release("qemu"),
                name,
            }
        })
        .collect();
    stacks.sort_by(|a, b| a.name.cmp(&b.name));
    stacks
}

/// The file names of `folder` (relative to the repository root) that
/// `keep` accepts, sorted, each joined to `folder`.
fn files_in(folder: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join(folder))
        .unwrap_or_else(|error| panic!("{folder}: {error}"))
        .map(|entry| {
            entry
                .expect("folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| keep(name))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| format!("{folder}/{name}"))
        .collect()
}

fn domains() -> Vec<String> {
    files_in("tests/real/domains", |name| name.ends_with(".xml"))
}

/// The domains also checked with `--json`: a custom model and host-model.
/// The JSON holds the host's whole model list (about 100 KB a run), so the
/// text reports carry the rest of the corpus.
const JSON_DOMAINS: [&str; 2] = ["custom-haswell-partial.xml", "host-model.xml"];

/// The verbs over the repository's own corpus: each domain of
/// `tests/real/domains` checked and fixed on each recorded
/// stack's host (its raw CPUID joined with QEMU's replies, under that
/// stack's releases), the host's models, and the domains in batch over the
/// three hosts.
fn repository_corpus() -> Vec<GoldenFile> {
    let domains = domains();
    let json_domains: Vec<String> = JSON_DOMAINS
        .iter()
        .map(|name| format!("tests/real/domains/{name}"))
        .collect();
    let stacks = real_stacks();
    let mut files = Vec::new();
    for stack in &stacks {
        let (cpuid, qemu) = (
            format!("{}/cpuid.txt", stack.host),
            format!("{}/qemu.json", stack.host),
        );
        let host = ["--host", &cpuid, "--host", &qemu];
        let releases = ["--libvirt", &stack.libvirt, "--qemu", &stack.qemu];
        let run = |verb: &str, domain: &str, extra: &[&str]| {
            let mut args = vec![verb, "--domain", domain];
            args.extend(host);
            args.extend(releases);
            args.extend(extra);
            GoldenRun::single(&args)
        };
        for (name, verb, extra, domains) in [
            ("check.txt", "check", &[][..], &domains[..]),
            ("fix.txt", "fix", &[], &domains[..]),
            ("check-json.txt", "check", &["--json"], &json_domains[..]),
        ] {
            files.push(GoldenFile {
                name: format!("{}/{name}", stack.name),
                preamble: String::new(),
                runs: domains
                    .iter()
                    .map(|domain| run(verb, domain, extra))
                    .collect(),
            });
        }
        let mut host_runs = Vec::new();
        for file in [
            "cpuid.txt",
            "cpuinfo.txt",
            "capabilities.xml",
            "domcapabilities.xml",
            "qemu.json",
        ] {
            let path = format!("{}/{file}", stack.host);
            host_runs.push(GoldenRun::single(&["decode", &path]));
            host_runs.push(GoldenRun::single(&["host-model", &path]));
        }
        for extra in [&[][..], &["--json"]] {
            let models = [&["models", &cpuid, &qemu][..], &releases, extra].concat();
            host_runs.push(GoldenRun::single(&models));
        }
        host_runs.push(GoldenRun::single(&[
            "baseline",
            &cpuid,
            &format!("{}/capabilities.xml", stack.host),
        ]));
        files.push(GoldenFile {
            name: format!("{}/host.txt", stack.name),
            preamble: String::new(),
            runs: host_runs,
        });
    }
    let hosts: Vec<String> = stacks
        .iter()
        .map(|stack| format!("{}/cpuid.txt", stack.host))
        .collect();
    files.push(batch_file("real/batch.txt", &hosts, &domains));
    files.push(GoldenFile {
        name: "real/compare.txt".to_string(),
        preamble: String::new(),
        runs: domains
            .iter()
            .flat_map(|domain| {
                hosts
                    .iter()
                    .map(move |host| GoldenRun::single(&["compare", host, domain]))
            })
            .collect(),
    });
    files.push(GoldenFile {
        name: "real/sosreport.txt".to_string(),
        preamble: String::new(),
        runs: files_in("tests/sosreport", |name| name.ends_with(".tar.xz"))
            .iter()
            .map(|archive| GoldenRun::single(&["sosreport", archive]))
            .collect(),
    });
    files
}

/// `batch HOSTS --format csv`, then `batch HOSTS --domain D --format csv`
/// for every domain: one answer per host each. The file lists the hosts once
/// and shows them as `HOSTS` in each command line.
fn batch_file(name: &str, hosts: &[String], domains: &[String]) -> GoldenFile {
    let batch = |extra: &[&str]| {
        let mut args = vec!["batch".to_string()];
        args.extend(hosts.iter().cloned());
        args.extend(extra.iter().map(|arg| arg.to_string()));
        GoldenRun {
            shown: format!("batch HOSTS {}", extra.join(" ")),
            args,
            answers: hosts.len(),
        }
    };
    let mut runs = vec![batch(&["--format", "csv"])];
    for domain in domains {
        runs.push(batch(&["--domain", domain, "--format", "csv"]));
    }
    GoldenFile {
        name: name.to_string(),
        preamble: format!(
            "HOSTS:\n{}",
            hosts
                .iter()
                .map(|host| format!("  {host}\n"))
                .collect::<String>()
        ),
        runs,
    }
}

/// The verbs over libvirt's cputestdata hosts (`x86_64-cpuid-NAME.xml`, the
/// raw dumps): each domain in batch over all of them, and each host's CPU
/// and host-model.
fn cputestdata_corpus(cputestdata: &str) -> Vec<GoldenFile> {
    let derived = [
        "-guest.xml",
        "-host.xml",
        "-json.xml",
        "-enabled.xml",
        "-disabled.xml",
    ];
    let hosts = files_in(cputestdata, |name| {
        name.starts_with("x86_64-cpuid-")
            && name.ends_with(".xml")
            && !derived.iter().any(|suffix| name.ends_with(suffix))
    });
    let mut host_runs = Vec::new();
    for host in &hosts {
        host_runs.push(GoldenRun::single(&["decode", host]));
        host_runs.push(GoldenRun::single(&["host-model", host]));
    }
    vec![
        batch_file("cputestdata/batch.txt", &hosts, &domains()),
        GoldenFile {
            name: "cputestdata/hosts.txt".to_string(),
            preamble: String::new(),
            runs: host_runs,
        },
    ]
}

/// The run's record: the command line, then standard output, standard error
/// and the exit status, each marked where it is not empty or 0.
fn record(run: &GoldenRun) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_guestcpu"))
        .args(&run.args)
        .current_dir(repo_root())
        .output()
        .expect("guestcpu runs");
    let mut text = format!("=== guestcpu {}\n", run.shown);
    let mut stream = |label: &str, bytes: &[u8]| {
        let part = String::from_utf8_lossy(bytes);
        if !label.is_empty() && !part.is_empty() {
            let _ = writeln!(text, "--- {label}");
        }
        text.push_str(&part);
        if !part.is_empty() && !part.ends_with('\n') {
            text.push_str("\n--- no newline at the end\n");
        }
    };
    stream("", &output.stdout);
    stream("stderr", &output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(code) => {
            let _ = writeln!(text, "--- exit status {code}");
        }
        None => panic!(
            "guestcpu {} was killed: {}",
            run.args.join(" "),
            output.status
        ),
    }
    text
}

/// Runs every file's runs on all cores, compares each file with its record
/// (or writes it under `UPDATE_EXPECT=1`), and returns the answers compared.
fn compare_corpus(files: &[GoldenFile]) -> usize {
    let runs: Vec<&GoldenRun> = files.iter().flat_map(|file| &file.runs).collect();
    let records: Vec<std::sync::OnceLock<String>> =
        runs.iter().map(|_| Default::default()).collect();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let at = next.fetch_add(1, Ordering::Relaxed);
                let Some(run) = runs.get(at) else { break };
                let _ = records[at].set(record(run));
            });
        }
    });
    let mut records = records
        .into_iter()
        .map(|cell| cell.into_inner().expect("every run recorded"));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut answers = 0;
    for file in files {
        let text: String = std::iter::once(file.preamble.clone())
            .chain(records.by_ref().take(file.runs.len()))
            .collect();
        let path = golden.join(&file.name);
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            // expect-test writes the file, not its folder.
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("golden folder");
        }
        expect_file![path].assert_eq(&text);
        answers += file.runs.iter().map(|run| run.answers).sum::<usize>();
    }
    answers
}

/// Compares `files` and asserts how many files, runs and answers that was.
fn assert_corpus(files: &[GoldenFile], expected: (usize, usize, usize)) {
    let runs: usize = files.iter().map(|file| file.runs.len()).sum();
    let answers = compare_corpus(files);
    assert_eq!(
        (files.len(), runs, answers),
        expected,
        "files, runs and answers compared"
    );
}

#[test]
fn the_repository_corpus_gives_its_recorded_outputs() {
    assert_corpus(&repository_corpus(), (15, 779, 927));
}

#[test]
fn the_cputestdata_corpus_gives_its_recorded_outputs() {
    let Some(shared) = shared_dir("cputestdata", "the cputestdata golden corpus") else {
        return;
    };
    assert_corpus(&cputestdata_corpus(&shared), (2, 172, 3724));
}
