//! `cargo xtask record-real [--stack bookworm|trixie|trixie-backports|all]
//! [--stacks-dir DIR] [--only NAME...]`: records what a real libvirt + QEMU +
//! KVM stack does with every domain of the corpus in `tests/real/domains/`,
//! as truth files under `tests/real/<stack>/` (the files are described in the
//! README's "Real-stack recordings").
//!
//! Each stack is a Debian release's libvirt and QEMU. bookworm's is installed
//! on this machine itself with apt; trixie's and trixie-backports' each live in
//! a chroot made with `debootstrap --variant=minbase trixie`, the second with a
//! `trixie-backports` apt source and its libvirt and QEMU taken from there.
//! When a chroot has its QEMU, the file `.guestcpu-ready` is created in it.
//!
//! There is no init system here, so the recorder runs the daemons itself: it
//! writes `qemu.conf` (QEMU as root, no security driver, no cgroups, and in a
//! chroot no mount namespace), bind-mounts `/dev`, `/proc` and `/sys` and puts
//! a tmpfs on `/run` in a chroot, starts `virtlogd -d` and `libvirtd -d`, and
//! waits for libvirtd's socket. A guard undoes all of it (domains destroyed,
//! daemons stopped by their pid, `qemu.conf` restored, mounts undone) whether
//! the recording succeeded or not.
//!
//! For the host it keeps `cpuid -1r`, `/proc/cpuinfo`, QEMU's own answers
//! (`query-cpu-model-expansion` of `host` and `query-cpu-definitions`, under
//! KVM, in libvirt's `tests/cputestdata` reply format), `virsh capabilities`
//! and `virsh domcapabilities`. For each domain it defines, starts, reads the
//! live XML, destroys and undefines it, and reads QEMU's `-cpu` argument and
//! messages from the part of the domain log this start wrote.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

const USAGE: &str =
    "usage: cargo xtask record-real [--stack bookworm|trixie|trixie-backports|all] \
[--stacks-dir DIR] [--only NAME...]";

/// Where the corpus and the recordings live, relative to the workspace root.
const REAL_DIR: &str = "tests/real";

/// The prefix of every corpus domain's name; leftovers with it are removed.
const DOMAIN_PREFIX: &str = "gc-";

/// Marks a chroot whose QEMU is installed (other tools wait for it).
const READY_MARKER: &str = ".guestcpu-ready";

/// libvirt's packages in Debian, the same names in bookworm and trixie.
const LIBVIRT_PACKAGES: [&str; 4] = [
    "libvirt-daemon",
    "libvirt-daemon-driver-qemu",
    "libvirt-clients",
    "qemu-system-x86",
];

/// The unprivileged account Debian builds libvirt's QEMU driver with
/// (`-Dqemu_user=libvirt-qemu -Dqemu_group=libvirt-qemu`, debian/rules). The
/// driver resolves it when it starts (`virQEMUDriverConfigNew`, qemu_conf.c)
/// even when `qemu.conf` names another user; `libvirt-daemon-system`'s
/// postinst creates it, and that package is not installed here.
const QEMU_ACCOUNT: &str = "libvirt-qemu";

/// What `qemu.conf` says while recording, the setup issue 10 found to work
/// without systemd: QEMU runs as root, no security driver, no cgroups.
const QEMU_CONF: &str =
    "# written by `cargo xtask record-real` while it records; restored afterwards
user = \"root\"
group = \"root\"
security_driver = \"none\"
cgroup_controllers = [ ]
";

/// Added in a chroot: no private mount namespace per QEMU, which needs
/// mount propagation the bind mounts do not have.
const QEMU_CONF_CHROOT: &str = "namespaces = [ ]\n";

/// The three stacks the project records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Bookworm,
    Trixie,
    TrixieBackports,
}

impl Stack {
    const ALL: [Stack; 3] = [Stack::Bookworm, Stack::Trixie, Stack::TrixieBackports];

    fn name(self) -> &'static str {
        match self {
            Stack::Bookworm => "bookworm",
            Stack::Trixie => "trixie",
            Stack::TrixieBackports => "trixie-backports",
        }
    }

    fn parse(name: &str) -> Result<Vec<Stack>> {
        if name == "all" {
            return Ok(Stack::ALL.to_vec());
        }
        Stack::ALL
            .into_iter()
            .find(|stack| stack.name() == name)
            .map(|stack| vec![stack])
            .ok_or_else(|| anyhow!("unknown stack `{name}`\n{USAGE}"))
    }

    /// The chroot the stack lives in; `None` for the machine itself.
    fn chroot(self, stacks_dir: &Path) -> Option<PathBuf> {
        match self {
            Stack::Bookworm => None,
            Stack::Trixie | Stack::TrixieBackports => Some(stacks_dir.join(self.name())),
        }
    }

    /// The apt suite libvirt and QEMU come from, when not the chroot's own release.
    fn apt_target(self) -> Option<&'static str> {
        match self {
            Stack::TrixieBackports => Some("trixie-backports"),
            Stack::Bookworm | Stack::Trixie => None,
        }
    }
}

#[derive(Debug)]
struct Options {
    stacks: Vec<Stack>,
    stacks_dir: PathBuf,
    only: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut options = Options {
        stacks: Stack::ALL.to_vec(),
        stacks_dir: PathBuf::from("/work/stacks"),
        only: Vec::new(),
    };
    let mut words = args.iter().peekable();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--stack" => {
                let name = words.next().ok_or_else(|| anyhow!("{USAGE}"))?;
                options.stacks = Stack::parse(name)?;
            }
            "--stacks-dir" => {
                let dir = words.next().ok_or_else(|| anyhow!("{USAGE}"))?;
                options.stacks_dir = PathBuf::from(dir);
            }
            "--only" => {
                while let Some(name) = words.next_if(|next| !next.starts_with("--")) {
                    options.only.push(name.clone());
                }
                if options.only.is_empty() {
                    bail!("--only needs at least one domain name\n{USAGE}");
                }
            }
            _ => bail!("unexpected argument `{word}`\n{USAGE}"),
        }
    }
    Ok(options)
}

/// Entry point of `cargo xtask record-real`; `args` are the words after the command name.
pub fn run(args: &[String], workspace_root: &Path) -> Result<()> {
    let options = parse_args(args)?;
    let real_dir = workspace_root.join(REAL_DIR);
    let corpus = read_corpus(&real_dir.join("domains"), &options.only)?;
    if !is_root()? || !Path::new("/dev/kvm").exists() {
        bail!("recording needs root and /dev/kvm; this machine has none: nothing recorded");
    }
    ensure_host_packages(&["cpuid"])?;
    for stack in &options.stacks {
        let root = stack.chroot(&options.stacks_dir);
        println!("== {}", stack.name());
        install_stack(*stack, root.as_deref())?;
        let session = Session::start(root)?;
        let folder = record_stack(
            &session,
            *stack,
            &real_dir,
            &corpus,
            options.only.is_empty(),
        )
        .with_context(|| format!("recording {}", stack.name()))?;
        drop(session);
        println!(
            "wrote {}",
            folder
                .strip_prefix(workspace_root)
                .unwrap_or(&folder)
                .display()
        );
    }
    Ok(())
}

/// One corpus domain: its name without the prefix and its XML.
struct CorpusDomain {
    name: String,
    xml: String,
}

/// Every `NAME.xml` of the corpus (or only those asked for), sorted by name;
/// each must be named `gc-NAME` inside.
fn read_corpus(dir: &Path, only: &[String]) -> Result<Vec<CorpusDomain>> {
    let mut domains = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".xml"))
        else {
            continue;
        };
        if !only.is_empty() && !only.iter().any(|wanted| wanted == name) {
            continue;
        }
        let xml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let expected = format!("<name>{DOMAIN_PREFIX}{name}</name>");
        if !xml.contains(&expected) {
            bail!("{}: the domain must be named {expected}", path.display());
        }
        domains.push(CorpusDomain {
            name: name.to_string(),
            xml,
        });
    }
    if let Some(missing) = only
        .iter()
        .find(|wanted| !domains.iter().any(|domain| &domain.name == *wanted))
    {
        bail!("no domain {missing}.xml in {}", dir.display());
    }
    domains.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(domains)
}

/// Whether this process runs as root: the real user id in `/proc/self/status`.
fn is_root() -> Result<bool> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    Ok(status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0"))
}

/// Runs a command to completion; its failure, with its stderr, is an error.
fn run_checked(command: &mut Command) -> Result<Output> {
    let description = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {description}"))?;
    if !output.status.success() {
        bail!(
            "{description} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output)
}

/// A command run inside `root` (with `chroot`) or on the machine itself.
fn command_in(root: Option<&Path>, program: &str) -> Command {
    match root {
        Some(dir) => {
            let mut command = Command::new("chroot");
            command.arg(dir).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// `path` inside `root`, seen from the machine.
fn host_path(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(dir) => dir.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// Forbids maintainer scripts to start services (`policy-rc.d`, exit 101 is
/// "action forbidden", Debian's invoke-rc.d policy interface) in `root` unless
/// a policy already exists. Returns whether it wrote one.
fn forbid_service_starts(root: Option<&Path>) -> Result<bool> {
    let policy = host_path(root, "/usr/sbin/policy-rc.d");
    if policy.exists() {
        return Ok(false);
    }
    std::fs::write(&policy, "#!/bin/sh\nexit 101\n")
        .with_context(|| format!("writing {}", policy.display()))?;
    run_checked(Command::new("chmod").arg("755").arg(&policy))?;
    Ok(true)
}

/// apt-get in `root`, without questions.
fn apt_get(root: Option<&Path>) -> Command {
    let mut command = command_in(root, "apt-get");
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Whether dpkg in `root` has `package` installed.
fn is_installed(root: Option<&Path>, package: &str) -> bool {
    command_in(root, "dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|output| output.stdout.ends_with(b" installed"))
}

/// Installs what of `packages` is missing on the machine itself.
fn ensure_host_packages(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|package| !is_installed(None, package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("installing {}", missing.join(" "));
    let wrote_policy = forbid_service_starts(None)?;
    run_checked(apt_get(None).args(["-q", "update"]))?;
    let result = run_checked(
        apt_get(None)
            .args(["-q", "-y", "install", "--no-install-recommends"])
            .args(&missing),
    );
    if wrote_policy {
        std::fs::remove_file("/usr/sbin/policy-rc.d").context("removing policy-rc.d")?;
    }
    result.map(drop)
}

/// Makes sure the stack's libvirt and QEMU are installed, creating the chroot first.
fn install_stack(stack: Stack, root: Option<&Path>) -> Result<()> {
    let Some(dir) = root else {
        return ensure_host_packages(&LIBVIRT_PACKAGES);
    };
    if dir.join(READY_MARKER).exists() {
        return Ok(());
    }
    if !dir.join("usr/bin/apt-get").exists() {
        ensure_host_packages(&["debootstrap"])?;
        let mirror = debian_mirror()?;
        println!("debootstrap trixie into {} from {mirror}", dir.display());
        run_checked(
            Command::new("debootstrap")
                .args(["--variant=minbase", "trixie"])
                .arg(dir)
                .arg(&mirror),
        )?;
    }
    forbid_service_starts(root)?;
    if let Some(suite) = stack.apt_target() {
        let mirror = debian_mirror()?;
        let list = dir.join(format!("etc/apt/sources.list.d/{suite}.list"));
        std::fs::write(&list, format!("deb {mirror} {suite} main\n"))
            .with_context(|| format!("writing {}", list.display()))?;
    }
    let mounts = Mounts::bind_system_dirs(dir)?;
    run_checked(apt_get(root).args(["-q", "update"]))?;
    let mut install = apt_get(root);
    install.args(["-q", "-y", "install", "--no-install-recommends"]);
    if let Some(suite) = stack.apt_target() {
        install.args(["-t", suite]);
    }
    run_checked(install.args(LIBVIRT_PACKAGES))?;
    drop(mounts);
    std::fs::write(dir.join(READY_MARKER), "")
        .with_context(|| format!("writing {}", dir.join(READY_MARKER).display()))
}

/// The Debian mirror this machine's apt uses: the URI of the source that
/// carries the machine's own release (`VERSION_CODENAME` of /etc/os-release).
fn debian_mirror() -> Result<String> {
    let os_release =
        std::fs::read_to_string("/etc/os-release").context("reading /etc/os-release")?;
    let codename = os_release_field(&os_release, "VERSION_CODENAME")
        .ok_or_else(|| anyhow!("/etc/os-release has no VERSION_CODENAME"))?;
    let mut sources = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut listed: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        listed.sort();
        sources.extend(listed);
    }
    for path in sources {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(uri) = mirror_in_sources(&text, &codename) {
            return Ok(uri);
        }
    }
    bail!("no apt source of this machine carries `{codename}`: cannot tell the Debian mirror")
}

fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim_matches('"').to_string())
}

/// The URI of the first source for `suite`, in one-line (`deb URI SUITE ...`)
/// or deb822 (`URIs:` / `Suites:` stanzas) form.
fn mirror_in_sources(text: &str, suite: &str) -> Option<String> {
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["deb", rest @ ..] = words.as_slice() {
            let rest: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|word| !word.starts_with('['))
                .collect();
            if let [uri, line_suite, ..] = rest.as_slice() {
                if *line_suite == suite {
                    return Some(uri.trim_end_matches('/').to_string());
                }
            }
        }
    }
    for stanza in text.split("\n\n") {
        let field = |key: &str| {
            stanza
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .map(str::trim)
        };
        let (Some(uris), Some(suites)) = (field("URIs"), field("Suites")) else {
            continue;
        };
        if suites.split_whitespace().any(|listed| listed == suite) {
            return uris
                .split_whitespace()
                .next()
                .map(|uri| uri.trim_end_matches('/').to_string());
        }
    }
    None
}

/// Mounts made in a chroot, undone in reverse order when dropped.
struct Mounts {
    targets: Vec<PathBuf>,
}

impl Mounts {
    /// Binds `/dev`, `/proc` and `/sys` into `dir` (those not mounted there yet).
    fn bind_system_dirs(dir: &Path) -> Result<Mounts> {
        let mut mounts = Mounts {
            targets: Vec::new(),
        };
        for system_dir in ["/dev", "/proc", "/sys"] {
            let target = dir.join(system_dir.trim_start_matches('/'));
            if is_mount_point(&target)? {
                continue;
            }
            run_checked(
                Command::new("mount")
                    .arg("--bind")
                    .arg(system_dir)
                    .arg(&target),
            )?;
            mounts.targets.push(target);
        }
        Ok(mounts)
    }

    /// Puts a fresh tmpfs on `dir/run`, as an init system would at boot.
    fn add_run_tmpfs(&mut self, dir: &Path) -> Result<()> {
        let target = dir.join("run");
        if is_mount_point(&target)? {
            bail!(
                "{} is already mounted: another recording may be running",
                target.display()
            );
        }
        run_checked(
            Command::new("mount")
                .args(["-t", "tmpfs", "tmpfs"])
                .arg(&target),
        )?;
        self.targets.push(target);
        Ok(())
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for target in self.targets.iter().rev() {
            if let Err(error) = run_checked(Command::new("umount").arg(target)) {
                eprintln!("warning: {error:#}");
            }
        }
    }
}

/// Whether `path` is a mount point, from /proc/self/mounts.
fn is_mount_point(path: &Path) -> Result<bool> {
    let mounts =
        std::fs::read_to_string("/proc/self/mounts").context("reading /proc/self/mounts")?;
    let path = path.to_string_lossy();
    Ok(mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .any(|mount_point| mount_point == path))
}

/// libvirtd's configuration while recording is passed with `--config`, so
/// that the stack's own `libvirtd.conf` stays untouched. It only sets
/// `host_uuid`: without DMI's `product_uuid` (none in this VM) libvirtd makes
/// up a random host UUID at every start (`virGetHostUUID`, util/viruuid.c;
/// `host_uuid` is read by remote_daemon.c's `main`), and `virsh capabilities`
/// would change with every recording. The machine's own `/etc/machine-id` is used instead, the same for
/// every stack and every chroot.
fn libvirtd_conf(machine_id: &str) -> Result<String> {
    let id = machine_id.trim();
    if id.len() != 32 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        bail!("/etc/machine-id is not 32 hexadecimal digits: `{id}`");
    }
    Ok(format!(
        "host_uuid = \"{}-{}-{}-{}-{}\"\n",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    ))
}

/// Where that configuration is written, on the stack's `/run`.
const LIBVIRTD_CONF_PATH: &str = "/run/guestcpu-record-libvirtd.conf";

/// A running stack: its daemons, its configuration and its mounts. Dropping
/// it removes the corpus domains left running, stops the daemons by their
/// pid, restores `qemu.conf`, removes libvirtd's configuration and undoes the
/// mounts.
struct Session {
    root: Option<PathBuf>,
    /// Pids of the daemons started, in start order.
    daemons: Vec<(&'static str, u32)>,
    /// `qemu.conf` as it was before, `None` when there was none.
    previous_qemu_conf: Option<Option<String>>,
    /// The libvirtd configuration written, removed afterwards.
    libvirtd_conf: Option<PathBuf>,
    /// Declared last: dropped after the daemons are gone.
    mounts: Option<Mounts>,
}

impl Session {
    fn start(root: Option<PathBuf>) -> Result<Session> {
        let mut session = Session {
            root,
            daemons: Vec::new(),
            previous_qemu_conf: None,
            libvirtd_conf: None,
            mounts: None,
        };
        if let Some(dir) = session.root.clone() {
            let mut mounts = Mounts::bind_system_dirs(&dir)?;
            mounts.add_run_tmpfs(&dir)?;
            session.mounts = Some(mounts);
        }
        session.ensure_qemu_account()?;
        session.write_qemu_conf()?;
        for dir in [
            "/var/log/libvirt/qemu",
            "/var/lib/libvirt/qemu",
            "/var/cache/libvirt/qemu",
        ] {
            let path = session.path(dir);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("creating {}", path.display()))?;
        }
        let conf_path = session.path(LIBVIRTD_CONF_PATH);
        let machine_id =
            std::fs::read_to_string("/etc/machine-id").context("reading /etc/machine-id")?;
        std::fs::write(&conf_path, libvirtd_conf(&machine_id)?)
            .with_context(|| format!("writing {}", conf_path.display()))?;
        session.libvirtd_conf = Some(conf_path);
        session.start_daemon("virtlogd", &[], "/run/virtlogd.pid")?;
        session.start_daemon(
            "libvirtd",
            &["--config", LIBVIRTD_CONF_PATH],
            "/run/libvirtd.pid",
        )?;
        session.wait_for_socket()?;
        session.remove_corpus_domains();
        Ok(session)
    }

    fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    fn path(&self, path: &str) -> PathBuf {
        host_path(self.root(), path)
    }

    fn ensure_qemu_account(&self) -> Result<()> {
        let passwd = std::fs::read_to_string(self.path("/etc/passwd"))?;
        if passwd
            .lines()
            .any(|line| line.starts_with(&format!("{QEMU_ACCOUNT}:")))
        {
            return Ok(());
        }
        run_checked(command_in(self.root(), "groupadd").args(["--system", QEMU_ACCOUNT]))?;
        run_checked(command_in(self.root(), "useradd").args([
            "--system",
            "--gid",
            QEMU_ACCOUNT,
            "--no-create-home",
            "--home-dir",
            "/var/lib/libvirt",
            "--shell",
            "/usr/sbin/nologin",
            QEMU_ACCOUNT,
        ]))
        .map(drop)
    }

    fn write_qemu_conf(&mut self) -> Result<()> {
        let path = self.path("/etc/libvirt/qemu.conf");
        let previous = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        };
        let mut text = QEMU_CONF.to_string();
        if self.root.is_some() {
            text.push_str(QEMU_CONF_CHROOT);
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        self.previous_qemu_conf = Some(previous);
        Ok(())
    }

    /// Starts `daemon -d ARGS` and remembers the pid it writes to `pid_file`.
    fn start_daemon(&mut self, daemon: &'static str, args: &[&str], pid_file: &str) -> Result<()> {
        let pid_path = self.path(pid_file);
        if let Some(pid) = read_pid(&pid_path) {
            if Path::new(&format!("/proc/{pid}")).exists() {
                bail!(
                    "{daemon} is already running (pid {pid}, {}): stop it first",
                    pid_path.display()
                );
            }
        }
        run_checked(command_in(self.root(), daemon).arg("-d").args(args))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(pid) = read_pid(&pid_path) {
                self.daemons.push((daemon, pid));
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{daemon} wrote no pid file {}", pid_path.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_for_socket(&self) -> Result<()> {
        let socket = self.path("/run/libvirt/libvirt-sock");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!(
                    "libvirtd did not open {} (see {})",
                    socket.display(),
                    self.path("/var/log/libvirt/libvirtd.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    /// `virsh -c qemu:///system ARGS` in the stack, with `stdin` as its input.
    fn virsh(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let mut command = command_in(self.root(), "virsh");
        command.args(["-c", "qemu:///system"]).args(args);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command
            .spawn()
            .with_context(|| format!("running virsh {}", args.join(" ")))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .context("writing to virsh's stdin")?;
        }
        child
            .wait_with_output()
            .with_context(|| format!("running virsh {}", args.join(" ")))
    }

    /// `virsh ARGS`'s standard output; failing is an error.
    fn virsh_text(&self, args: &[&str]) -> Result<String> {
        let output = self.virsh(args, None)?;
        if !output.status.success() {
            bail!(
                "virsh {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        String::from_utf8(output.stdout).context("virsh printed non-UTF-8")
    }

    /// Destroys and undefines every domain named with the corpus prefix
    /// (left over by an interrupted run). Failures are reported, not fatal.
    fn remove_corpus_domains(&self) {
        let names = match self.virsh_text(&["list", "--all", "--name"]) {
            Ok(names) => names,
            Err(error) => {
                eprintln!("warning: {error:#}");
                return;
            }
        };
        for name in names
            .lines()
            .map(str::trim)
            .filter(|name| name.starts_with(DOMAIN_PREFIX))
        {
            println!("removing leftover domain {name}");
            let _ = self.virsh(&["destroy", name], None);
            if let Err(error) = self.virsh(&["undefine", name], None) {
                eprintln!("warning: undefining {name}: {error:#}");
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.daemons.is_empty() {
            self.remove_corpus_domains();
        }
        for (daemon, pid) in self.daemons.iter().rev() {
            if let Err(error) = stop_process(*pid) {
                eprintln!("warning: stopping {daemon} (pid {pid}): {error:#}");
            }
        }
        if let Some(previous) = self.previous_qemu_conf.take() {
            let path = self.path("/etc/libvirt/qemu.conf");
            let restored = match previous {
                Some(text) => std::fs::write(&path, text),
                None => std::fs::remove_file(&path),
            };
            if let Err(error) = restored {
                eprintln!("warning: restoring {}: {error}", path.display());
            }
        }
        if let Some(path) = self.libvirtd_conf.take() {
            if let Err(error) = std::fs::remove_file(&path) {
                eprintln!("warning: removing {}: {error}", path.display());
            }
        }
        self.mounts.take();
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends SIGTERM to `pid`, waits up to ten seconds, then SIGKILL.
fn stop_process(pid: u32) -> Result<()> {
    let alive = || Path::new(&format!("/proc/{pid}")).exists();
    run_checked(Command::new("kill").args(["-TERM", &pid.to_string()]))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive() {
        if Instant::now() > deadline {
            run_checked(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// `stack.json`: what was recorded, where and when. Fields in the format's order.
#[derive(Debug, Serialize)]
struct StackInfo {
    libvirt: String,
    qemu: String,
    accelerator: &'static str,
    distribution: String,
    kernel: String,
    recorded: String,
}

/// One truth file, `STACK/domains/NAME.json`. Fields in the format's order.
#[derive(Debug, Serialize)]
struct DomainTruth {
    domain: String,
    started: bool,
    /// The last step tried: `define` when defining failed, `start` otherwise.
    phase: &'static str,
    error: Option<String>,
    live_cpu: Option<String>,
    qemu_cpu_arg: Option<String>,
    qemu_warnings: Vec<String>,
    qemu_errors: Vec<String>,
}

/// Captures the host and records every corpus domain; returns the stack's folder.
fn record_stack(
    session: &Session,
    stack: Stack,
    real_dir: &Path,
    corpus: &[CorpusDomain],
    whole_corpus: bool,
) -> Result<PathBuf> {
    let (libvirt, qemu) = parse_virsh_version(&session.virsh_text(&["version"])?)?;
    let folder = real_dir.join(format!("libvirt-{libvirt}_qemu-{qemu}"));
    let host_dir = folder.join("host");
    let domains_dir = folder.join("domains");
    std::fs::create_dir_all(&host_dir)?;
    std::fs::create_dir_all(&domains_dir)?;

    let info = StackInfo {
        libvirt,
        qemu,
        accelerator: "kvm",
        distribution: format!("Debian {}", stack.name()),
        kernel: command_text(Command::new("uname").arg("-r"))?
            .trim()
            .to_string(),
        recorded: command_text(Command::new("date").args(["-u", "+%Y-%m-%d"]))?
            .trim()
            .to_string(),
    };
    write_json(&folder.join("stack.json"), &info)?;
    capture_host(session, &host_dir)?;

    for domain in corpus {
        let truth = record_domain(session, domain)?;
        println!(
            "  {:<45} {}",
            domain.name,
            if truth.started {
                "started".to_string()
            } else {
                format!(
                    "failed at {}: {}",
                    truth.phase,
                    truth.error.as_deref().unwrap_or("")
                )
            }
        );
        write_json(&domains_dir.join(format!("{}.json", domain.name)), &truth)?;
    }
    if whole_corpus {
        remove_stale_truth(&domains_dir, corpus)?;
    }
    Ok(folder)
}

/// Removes truth files whose domain left the corpus.
fn remove_stale_truth(domains_dir: &Path, corpus: &[CorpusDomain]) -> Result<()> {
    for entry in std::fs::read_dir(domains_dir)? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|stem| stem.to_str());
        if path.extension().is_some_and(|ext| ext == "json")
            && !corpus
                .iter()
                .any(|domain| Some(domain.name.as_str()) == stem)
        {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn command_text(command: &mut Command) -> Result<String> {
    let output = run_checked(command)?;
    String::from_utf8(output.stdout).context("non-UTF-8 output")
}

/// The library and hypervisor versions `virsh version` prints
/// ("Using library: libvirt 9.0.0", "Running hypervisor: QEMU 7.2.22").
fn parse_virsh_version(text: &str) -> Result<(String, String)> {
    let after = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .map(|version| version.trim().to_string())
            .ok_or_else(|| anyhow!("`virsh version` printed no \"{prefix}\" line:\n{text}"))
    };
    Ok((
        after("Using library: libvirt ")?,
        after("Running hypervisor: QEMU ")?,
    ))
}

/// Writes the host files: `cpuid.txt`, `cpuinfo.txt`, `qemu.json`,
/// `capabilities.xml` and `domcapabilities.xml`.
fn capture_host(session: &Session, host_dir: &Path) -> Result<()> {
    let write = |name: &str, text: &str| {
        let path = host_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    // `cpuid -1` reads the CPU it runs on, and the APIC IDs in leaves 1, 0xb
    // and 0x1f differ between CPUs: always the first one.
    write(
        "cpuid.txt",
        &command_text(Command::new("taskset").args(["--cpu-list", "0", "cpuid", "-1r"]))?,
    )?;
    write(
        "cpuinfo.txt",
        &std::fs::read_to_string("/proc/cpuinfo").context("reading /proc/cpuinfo")?,
    )?;
    write("qemu.json", &qemu_host_replies(session.root())?)?;
    write("capabilities.xml", &session.virsh_text(&["capabilities"])?)?;
    write(
        "domcapabilities.xml",
        &session.virsh_text(&["domcapabilities"])?,
    )
}

/// The identifiers libvirt's `tests/cputestdata/*.json` give the two replies.
const EXPANSION_ID: &str = "model-expansion";
const DEFINITIONS_ID: &str = "definitions";

/// One QMP reply as libvirt's cputestdata files hold it: `return`, then `id`.
#[derive(Serialize)]
struct QmpReply {
    #[serde(rename = "return")]
    value: Value,
    id: String,
}

/// Asks the stack's QEMU, under KVM, for the full expansion of `host` and
/// for its CPU definitions, and renders both replies like libvirt's
/// `tests/cputestdata/x86_64-cpuid-*.json`: each reply pretty-printed, a blank
/// line between them.
fn qemu_host_replies(root: Option<&Path>) -> Result<String> {
    let commands = [
        serde_json::json!({"execute": "qmp_capabilities"}),
        serde_json::json!({"execute": "query-cpu-model-expansion", "id": EXPANSION_ID,
            "arguments": {"type": "full", "model": {"name": "host"}}}),
        serde_json::json!({"execute": "query-cpu-definitions", "id": DEFINITIONS_ID}),
        serde_json::json!({"execute": "quit"}),
    ];
    let mut child = command_in(root, "qemu-system-x86_64")
        .args([
            "-machine",
            "none",
            "-accel",
            "kvm",
            "-nodefaults",
            "-nographic",
            "-qmp",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    if let Some(mut stdin) = child.stdin.take() {
        let mut text = String::new();
        for command in &commands {
            writeln!(text, "{command}")?;
        }
        stdin
            .write_all(text.as_bytes())
            .context("writing to QEMU's QMP stdin")?;
    }
    let output = child.wait_with_output().context("waiting for QEMU")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reply = |id: &str| -> Result<QmpReply> {
        let message = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|message| message.get("id").and_then(Value::as_str) == Some(id))
            .ok_or_else(|| {
                anyhow!(
                    "QEMU gave no reply `{id}`: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            })?;
        let value = message
            .get("return")
            .cloned()
            .ok_or_else(|| anyhow!("QEMU's reply `{id}` is an error: {message}"))?;
        Ok(QmpReply {
            value,
            id: id.to_string(),
        })
    };
    let expansion = serde_json::to_string_pretty(&reply(EXPANSION_ID)?)?;
    let definitions = serde_json::to_string_pretty(&reply(DEFINITIONS_ID)?)?;
    Ok(format!("{expansion}\n\n{definitions}\n"))
}

/// Defines, starts, reads, destroys and undefines one domain.
fn record_domain(session: &Session, domain: &CorpusDomain) -> Result<DomainTruth> {
    let name = format!("{DOMAIN_PREFIX}{}", domain.name);
    let mut truth = DomainTruth {
        domain: domain.name.clone(),
        started: false,
        phase: "define",
        error: None,
        live_cpu: None,
        qemu_cpu_arg: None,
        qemu_warnings: Vec::new(),
        qemu_errors: Vec::new(),
    };
    let defined = session.virsh(&["define", "/dev/stdin"], Some(&domain.xml))?;
    if !defined.status.success() {
        truth.error = Some(libvirt_error(&String::from_utf8_lossy(&defined.stderr)));
        return Ok(truth);
    }
    truth.phase = "start";
    let log_path = session.path(&format!("/var/log/libvirt/qemu/{name}.log"));
    let log_offset = std::fs::metadata(&log_path).map_or(0, |meta| meta.len());

    let started = session.virsh(&["start", &name], None)?;
    truth.started = started.status.success();
    if truth.started {
        let live_xml = session.virsh_text(&["dumpxml", &name])?;
        truth.live_cpu = cpu_element(&live_xml);
        session.virsh_text(&["destroy", &name])?;
    } else {
        truth.error = Some(libvirt_error(&String::from_utf8_lossy(&started.stderr)));
    }
    session.virsh_text(&["undefine", &name])?;

    let log = read_from(&log_path, log_offset)?;
    let messages = StartLog::parse(&log);
    truth.qemu_cpu_arg = messages.cpu_arg;
    truth.qemu_warnings = messages.warnings;
    if !truth.started {
        truth.qemu_errors = messages.other_qemu_lines;
    }
    Ok(truth)
}

/// The part of a log file written after it was `offset` bytes long.
fn read_from(path: &Path, offset: u64) -> Result<String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
}

/// libvirt's message from virsh's stderr. virsh prints its own line for the
/// failed command (`error: Failed to start domain 'X'`, `vshError` in
/// virsh-domain.c), then libvirt's error as `error: MESSAGE`
/// (`vshReportError`, virsh.c), whose message may itself span lines (QEMU's
/// output quoted in it). The message starts at the first `error: ` line after
/// virsh's own and runs to the end, that prefix removed.
fn libvirt_error(stderr: &str) -> String {
    let text = stderr.trim_end();
    let message_start = text
        .match_indices("\nerror: ")
        .map(|(index, _)| index + 1)
        .next()
        .unwrap_or(0);
    let message = &text[message_start..];
    message
        .strip_prefix("error: ")
        .unwrap_or(message)
        .to_string()
}

/// The `<cpu>` element of a domain XML as virsh prints it, its indentation
/// re-based to column 0; `None` when there is none.
fn cpu_element(xml: &str) -> Option<String> {
    let lines: Vec<&str> = xml.lines().collect();
    let first = lines.iter().position(|line| {
        let trimmed = line.trim_start();
        trimmed
            .strip_prefix("<cpu")
            .is_some_and(|rest| rest.starts_with([' ', '>', '/']))
    })?;
    let indent = lines[first].len() - lines[first].trim_start().len();
    let last = if lines[first].trim_end().ends_with("/>") {
        first
    } else {
        first
            + lines[first..]
                .iter()
                .position(|line| line.trim() == "</cpu>")?
    };
    let rebased: Vec<&str> = lines[first..=last]
        .iter()
        .map(|line| {
            let leading = line.len() - line.trim_start().len();
            &line[leading.min(indent)..]
        })
        .collect();
    Some(rebased.join("\n"))
}

/// What one start wrote to a libvirt domain log (`/var/log/libvirt/qemu/NAME.log`).
#[derive(Debug, Default, PartialEq)]
struct StartLog {
    /// The word after `-cpu` on QEMU's command line.
    cpu_arg: Option<String>,
    /// QEMU's lines containing `warning:`, time stamp and program name removed.
    warnings: Vec<String>,
    /// QEMU's other lines but its note of being killed by a signal (its fatal
    /// errors when it died), prefixes removed.
    other_qemu_lines: Vec<String>,
}

/// libvirt's own log lines: "2026-12-05 19:17:39.448+0000: " (`qemuLogOperation`,
/// `virTimeStringNowRaw`); `d` stands for a digit.
const LIBVIRT_STAMP: &str = "dddd-dd-dd dd:dd:dd.ddd+dddd: ";
/// QEMU's time stamp with `-msg timestamp=on`: "2026-12-05T19:17:39.552853Z "
/// (`error_vprintf` via `real_time_iso8601`, util/qemu-error.c).
const QEMU_STAMP: &str = "dddd-dd-ddTdd:dd:dd.ddddddZ ";
/// QEMU's note that a signal stopped it ("terminating on signal 15 from pid
/// 20658 (libvirtd)", `qemu_system_killed` in system/runstate.c): libvirt
/// killing it, not QEMU failing.
const KILLED_MARK: &str = "terminating on signal ";
/// libvirt's first line of every QEMU start (`qemuLogOperation`, qemu_process.c).
const START_MARK: &str = ": starting up libvirt version:";

impl StartLog {
    /// Parses the log text of one start: the command line follows the
    /// "starting up" line, one argument per line, each but the last ending
    /// in ` \` (`virCommandWriteArgLog`); after it come QEMU's messages and
    /// libvirt's own stamped lines.
    fn parse(log: &str) -> StartLog {
        let mut result = StartLog::default();
        let lines: Vec<&str> = log.lines().collect();
        let mut messages_from = 0;
        let mut program = "qemu-system-x86_64".to_string();
        if let Some(mark) = lines.iter().position(|line| line.contains(START_MARK)) {
            let mut command = String::new();
            let mut index = mark + 1;
            while let Some(line) = lines.get(index) {
                index += 1;
                match line.strip_suffix(" \\") {
                    Some(part) => {
                        command.push_str(part);
                        command.push(' ');
                    }
                    None => {
                        command.push_str(line);
                        break;
                    }
                }
            }
            messages_from = index;
            let words = shell_words(&command);
            if let Some(binary) = words
                .iter()
                .find(|word| !word.contains('=') && word.contains('/'))
            {
                program = binary.rsplit('/').next().unwrap_or(binary).to_string();
            }
            result.cpu_arg = words
                .iter()
                .position(|word| word == "-cpu")
                .and_then(|index| words.get(index + 1).cloned());
        }
        let program_prefix = format!("{program}: ");
        for line in &lines[messages_from.min(lines.len())..] {
            if line.trim().is_empty() || stamp_len(line, LIBVIRT_STAMP).is_some() {
                continue;
            }
            let unstamped = &line[stamp_len(line, QEMU_STAMP).unwrap_or(0)..];
            let message = unstamped
                .strip_prefix(&program_prefix)
                .unwrap_or(unstamped)
                .to_string();
            if message.contains("warning:") {
                result.warnings.push(message);
            } else if !message.starts_with(KILLED_MARK) {
                result.other_qemu_lines.push(message);
            }
        }
        result
    }
}

/// The length of `pattern` when `line` starts with it (`d` matches a digit).
fn stamp_len(line: &str, pattern: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    if bytes.len() < pattern.len() {
        return None;
    }
    pattern
        .bytes()
        .zip(bytes)
        .all(|(expected, &actual)| {
            if expected == b'd' {
                actual.is_ascii_digit()
            } else {
                expected == actual
            }
        })
        .then_some(pattern.len())
}

/// Splits a command line as libvirt logs it into words: words are separated
/// by spaces, and a word with shell metacharacters is single-quoted with `'`
/// written as `'\''` (`virBufferEscapeShell`, virbuffer.c).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for quoted in chars.by_ref() {
                    if quoted == '\'' {
                        break;
                    }
                    word.push(quoted);
                }
            }
            '\\' => {
                in_word = true;
                if let Some(escaped) = chars.next() {
                    word.push(escaped);
                }
            }
            ' ' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A start of `gc-qemu64` under libvirt 9.0 + QEMU 7.2, trimmed of most arguments.
    const STARTED_LOG: &str = "\
2026-12-05 19:17:39.448+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian), qemu version: 7.2.22Debian 1:7.2+dfsg-7+deb12u18+b3, kernel: 6.18.44-fc-v1272, hostname: vm
LC_ALL=C \\
HOME=/var/lib/libvirt/qemu/domain-2-gc-t2 \\
/usr/bin/qemu-system-x86_64 \\
-name guest=gc-t2,debug-threads=on \\
-object '{\"qom-type\":\"secret\",\"id\":\"masterKey0\",\"format\":\"raw\"}' \\
-accel kvm \\
-cpu qemu64 \\
-m 128 \\
-msg timestamp=on
2026-12-05 19:17:39.448+0000: Domain id=2 is tainted: high-privileges
2026-12-05T19:17:39.552853Z qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]
2026-12-05T19:17:40.165337Z qemu-system-x86_64: terminating on signal 15 from pid 20658 (libvirtd)
2026-12-05 19:17:42.176+0000: shutting down, reason=destroyed
";

    #[test]
    fn reads_the_cpu_argument_and_warnings_of_a_start() {
        let log = StartLog::parse(STARTED_LOG);
        assert_eq!(log.cpu_arg.as_deref(), Some("qemu64"));
        assert_eq!(
            log.warnings,
            ["warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]"]
        );
        assert!(log.other_qemu_lines.is_empty());
    }

    /// The end of a start that QEMU itself aborted (libvirt 9.0 + QEMU 7.2,
    /// `gc-host-passthrough-hyperv-evmcs` on this project's recording host).
    const ABORTED_LOG: &str = "\
2026-12-05 19:29:02.341+0000: starting up libvirt version: 9.0.0, package: 9.0.0-4+deb12u2 (Debian), qemu version: 7.2.22Debian 1:7.2+dfsg-7+deb12u18+b3, kernel: 6.18.44-fc-v1272, hostname: vm
/usr/bin/qemu-system-x86_64 \\
-cpu host,migratable=on,hv-vapic=on,hv-evmcs=on \\
-msg timestamp=on
2026-12-05 19:29:02.341+0000: Domain id=1 is tainted: high-privileges
2026-12-05T19:29:02.524644Z qemu-system-x86_64: error: failed to set MSR 0x40000073 to 0x0
qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed.
2026-12-05 19:29:03.733+0000: shutting down, reason=failed
";

    #[test]
    fn qemus_fatal_lines_are_kept_without_their_prefixes() {
        let log = StartLog::parse(ABORTED_LOG);
        assert_eq!(
            log.cpu_arg.as_deref(),
            Some("host,migratable=on,hv-vapic=on,hv-evmcs=on")
        );
        assert!(log.warnings.is_empty());
        assert_eq!(
            log.other_qemu_lines,
            [
                "error: failed to set MSR 0x40000073 to 0x0",
                "../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion `ret == cpu->kvm_msr_buf->nmsrs' failed."
            ]
        );
    }

    #[test]
    fn a_start_refused_before_qemu_ran_leaves_only_libvirts_line() {
        let log = StartLog::parse("2026-12-05 19:17:37.229+0000: shutting down, reason=failed\n");
        assert_eq!(log, StartLog::default());
    }

    #[test]
    fn the_log_of_one_start_is_what_was_appended() -> Result<()> {
        let path = std::env::temp_dir().join(format!("record-real-{}.log", std::process::id()));
        std::fs::write(&path, STARTED_LOG)?;
        let offset = std::fs::metadata(&path)?.len();
        let appended = "2026-12-05 19:18:00.000+0000: shutting down, reason=failed\n";
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(appended.as_bytes())?;
        let slice = read_from(&path, offset)?;
        std::fs::remove_file(&path)?;
        assert_eq!(slice, appended);
        assert_eq!(StartLog::parse(&slice).cpu_arg, None);
        Ok(())
    }

    #[test]
    fn quoted_words_are_unquoted() {
        assert_eq!(
            shell_words("-cpu 'Haswell,a=on' -x 'it'\\''s' plain"),
            ["-cpu", "Haswell,a=on", "-x", "it's", "plain"]
        );
    }

    #[test]
    fn libvirts_error_is_what_follows_virshs_own_line() {
        let stderr = "error: Failed to start domain 'gc-test'\n\
error: the CPU is incompatible with host CPU: Host CPU does not provide required features: hle, rtm\n\n";
        assert_eq!(
            libvirt_error(stderr),
            "the CPU is incompatible with host CPU: Host CPU does not provide required features: hle, rtm"
        );
        let multi_line = "error: Failed to start domain 'gc-x'\n\
error: internal error: qemu unexpectedly closed the monitor: 2026-12-05T19:20:00.000000Z qemu-system-x86_64: warning: a\n\
2026-12-05T19:20:00.000001Z qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0\n";
        assert_eq!(
            libvirt_error(multi_line),
            "internal error: qemu unexpectedly closed the monitor: 2026-12-05T19:20:00.000000Z qemu-system-x86_64: warning: a\n\
2026-12-05T19:20:00.000001Z qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0"
        );
    }

    #[test]
    fn the_cpu_element_is_rebased_to_column_zero() {
        let xml = "<domain type='kvm' id='2'>\n  <cputune/>\n  <cpu mode='custom' match='exact' check='full'>\n    <model fallback='forbid'>qemu64</model>\n    <feature policy='disable' name='pni'/>\n  </cpu>\n</domain>\n";
        assert_eq!(
            cpu_element(xml).as_deref(),
            Some("<cpu mode='custom' match='exact' check='full'>\n  <model fallback='forbid'>qemu64</model>\n  <feature policy='disable' name='pni'/>\n</cpu>")
        );
        assert_eq!(
            cpu_element("<domain>\n  <cpu mode='host-passthrough' check='none'/>\n</domain>")
                .as_deref(),
            Some("<cpu mode='host-passthrough' check='none'/>")
        );
        assert_eq!(cpu_element("<domain>\n</domain>"), None);
    }

    #[test]
    fn the_host_uuid_is_the_machine_id() -> Result<()> {
        assert_eq!(
            libvirtd_conf("3d1219c7c4c5404aaa1f6d2a48adfda4\n")?,
            "host_uuid = \"3d1219c7-c4c5-404a-aa1f-6d2a48adfda4\"\n"
        );
        assert!(libvirtd_conf("uninitialized\n").is_err());
        Ok(())
    }

    #[test]
    fn versions_come_from_virsh_version() -> Result<()> {
        let text = "Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\n";
        assert_eq!(
            parse_virsh_version(text)?,
            ("9.0.0".to_string(), "7.2.22".to_string())
        );
        Ok(())
    }

    #[test]
    fn the_mirror_is_the_source_of_the_machines_release() {
        let deb822 = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_in_sources(deb822, "bookworm").as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let one_line = "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n";
        assert_eq!(
            mirror_in_sources(one_line, "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
        assert_eq!(mirror_in_sources(deb822, "trixie"), None);
    }
}
