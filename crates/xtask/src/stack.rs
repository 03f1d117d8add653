//! A real libvirt + QEMU stack run on this machine, shared by the recorders
//! (`record-real`, `record-sosreport`): the Debian releases' stacks, their
//! installation (apt on the machine, `debootstrap` chroots), and a running
//! session of their daemons.
//!
//! There is no init system here, so a [`Session`] runs the daemons itself: it
//! writes `qemu.conf` (QEMU as root, no security driver, no cgroups, and in a
//! chroot no mount namespace), bind-mounts `/dev`, `/proc` and `/sys` and puts
//! a tmpfs on `/run` in a chroot, starts `virtlogd -d` and `libvirtd -d`, and
//! waits for libvirtd's socket. Dropping it undoes all of it (corpus domains
//! destroyed and undefined, daemons stopped by their pid, `qemu.conf`
//! restored, mounts undone) whether the recording succeeded or not.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// The prefix of every corpus domain's name; leftovers with it are removed.
pub(crate) const DOMAIN_PREFIX: &str = "gc-";

/// Marks a chroot whose QEMU is installed (other tools wait for it).
pub(crate) const READY_MARKER: &str = ".guestcpu-ready";

/// libvirt's packages in Debian, the same names in bookworm and trixie.
pub(crate) const LIBVIRT_PACKAGES: [&str; 4] = [
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
pub(crate) const QEMU_ACCOUNT: &str = "libvirt-qemu";

/// What `qemu.conf` says while recording, the setup issue 10 found to work
/// without systemd: QEMU runs as root, no security driver, no cgroups.
pub(crate) const QEMU_CONF: &str =
    "# written by `cargo xtask record-real` (or record-sosreport) while it records; restored afterwards
user = \"root\"
group = \"root\"
security_driver = \"none\"
cgroup_controllers = [ ]
";

/// Added in a chroot: no private mount namespace per QEMU, which needs
/// mount propagation the bind mounts do not have.
pub(crate) const QEMU_CONF_CHROOT: &str = "namespaces = [ ]\n";

/// The three stacks the project records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    Bookworm,
    Trixie,
    TrixieBackports,
}

impl Stack {
    pub(crate) const ALL: [Stack; 3] = [Stack::Bookworm, Stack::Trixie, Stack::TrixieBackports];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Stack::Bookworm => "bookworm",
            Stack::Trixie => "trixie",
            Stack::TrixieBackports => "trixie-backports",
        }
    }

    /// The chroot the stack lives in; `None` for the machine itself.
    pub(crate) fn chroot(self, stacks_dir: &Path) -> Option<PathBuf> {
        match self {
            Stack::Bookworm => None,
            Stack::Trixie | Stack::TrixieBackports => Some(stacks_dir.join(self.name())),
        }
    }

    /// The apt suite libvirt and QEMU come from, when not the chroot's own release.
    pub(crate) fn apt_target(self) -> Option<&'static str> {
        match self {
            Stack::TrixieBackports => Some("trixie-backports"),
            Stack::Bookworm | Stack::Trixie => None,
        }
    }
}

/// The value of `--stack`: one stack's name, or `all`.
#[derive(Debug, Clone)]
pub(crate) struct Stacks(pub(crate) Vec<Stack>);

impl Stacks {
    pub(crate) fn parse(name: &str) -> Result<Stacks> {
        if name == "all" {
            return Ok(Stacks(Stack::ALL.to_vec()));
        }
        Stack::ALL
            .into_iter()
            .find(|stack| stack.name() == name)
            .map(|stack| Stacks(vec![stack]))
            .ok_or_else(|| {
                anyhow!(
                    "unknown stack `{name}`; expected bookworm, trixie, trixie-backports or all"
                )
            })
    }
}

/// Whether this process runs as root: the real user id in `/proc/self/status`.
pub(crate) fn is_root() -> Result<bool> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    Ok(status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0"))
}

/// Runs a command to completion; its failure, with its stderr, is an error.
pub(crate) fn run_checked(command: &mut Command) -> Result<Output> {
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
pub(crate) fn command_in(root: Option<&Path>, program: &str) -> Command {
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
pub(crate) fn host_path(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(dir) => dir.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

/// Forbids maintainer scripts to start services (`policy-rc.d`, exit 101 is
/// "action forbidden", Debian's invoke-rc.d policy interface) in `root` unless
/// a policy already exists. Returns whether it wrote one.
pub(crate) fn forbid_service_starts(root: Option<&Path>) -> Result<bool> {
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
pub(crate) fn apt_get(root: Option<&Path>) -> Command {
    let mut command = command_in(root, "apt-get");
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Whether dpkg in `root` has `package` installed.
pub(crate) fn is_installed(root: Option<&Path>, package: &str) -> bool {
    command_in(root, "dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|output| output.stdout.ends_with(b" installed"))
}

/// Installs what of `packages` is missing on the machine itself.
pub(crate) fn ensure_host_packages(packages: &[&str]) -> Result<()> {
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
pub(crate) fn install_stack(stack: Stack, root: Option<&Path>) -> Result<()> {
    let Some(dir) = root else {
        return ensure_host_packages(&LIBVIRT_PACKAGES);
    };
    if dir.join(READY_MARKER).exists() {
        return Ok(());
    }
    install_in_chroot(dir, "trixie", stack.apt_target(), &LIBVIRT_PACKAGES)?;
    std::fs::write(dir.join(READY_MARKER), "")
        .with_context(|| format!("writing {}", dir.join(READY_MARKER).display()))
}

/// Makes sure `packages` are installed in the chroot `dir` of Debian
/// `release`, creating it with `debootstrap --variant=minbase` from this
/// machine's mirror first. With `apt_target` (e.g. `trixie-backports`) that
/// suite is added as an apt source and the packages are taken from it.
pub(crate) fn install_in_chroot(
    dir: &Path,
    release: &str,
    apt_target: Option<&str>,
    packages: &[&str],
) -> Result<()> {
    let root = Some(dir);
    if dir.join("usr/bin/apt-get").exists()
        && packages.iter().all(|package| is_installed(root, package))
    {
        return Ok(());
    }
    if !dir.join("usr/bin/apt-get").exists() {
        ensure_host_packages(&["debootstrap"])?;
        let mirror = debian_mirror()?;
        println!("debootstrap {release} into {} from {mirror}", dir.display());
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        run_checked(
            Command::new("debootstrap")
                .args(["--variant=minbase", release])
                .arg(dir)
                .arg(&mirror),
        )?;
    }
    forbid_service_starts(root)?;
    if let Some(suite) = apt_target {
        let mirror = debian_mirror()?;
        let list = dir.join(format!("etc/apt/sources.list.d/{suite}.list"));
        std::fs::write(&list, format!("deb {mirror} {suite} main\n"))
            .with_context(|| format!("writing {}", list.display()))?;
    }
    let mounts = Mounts::bind_system_dirs(dir)?;
    run_checked(apt_get(root).args(["-q", "update"]))?;
    let mut install = apt_get(root);
    install.args(["-q", "-y", "install", "--no-install-recommends"]);
    if let Some(suite) = apt_target {
        install.args(["-t", suite]);
    }
    run_checked(install.args(packages))?;
    drop(mounts);
    Ok(())
}

/// The Debian mirror this machine's apt uses: the URI of the source that
/// carries the machine's own release (`VERSION_CODENAME` of /etc/os-release).
pub(crate) fn debian_mirror() -> Result<String> {
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

pub(crate) fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim_matches('"').to_string())
}

/// The URI of the first source for `suite`, in one-line (`deb URI SUITE ...`)
/// or deb822 (`URIs:` / `Suites:` stanzas) form.
pub(crate) fn mirror_in_sources(text: &str, suite: &str) -> Option<String> {
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
pub(crate) struct Mounts {
    targets: Vec<PathBuf>,
}

impl Mounts {
    /// Binds `/dev`, `/proc` and `/sys` into `dir` (those not mounted there yet).
    pub(crate) fn bind_system_dirs(dir: &Path) -> Result<Mounts> {
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
    pub(crate) fn add_run_tmpfs(&mut self, dir: &Path) -> Result<()> {
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
pub(crate) fn is_mount_point(path: &Path) -> Result<bool> {
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
pub(crate) fn libvirtd_conf(machine_id: &str) -> Result<String> {
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
pub(crate) const LIBVIRTD_CONF_PATH: &str = "/run/guestcpu-record-libvirtd.conf";

/// A running stack: its daemons, its configuration and its mounts. Dropping
/// it removes the corpus domains left running, stops the daemons by their
/// pid, restores `qemu.conf`, removes libvirtd's configuration and undoes the
/// mounts.
pub(crate) struct Session {
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
    pub(crate) fn start(root: Option<PathBuf>) -> Result<Session> {
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

    pub(crate) fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    pub(crate) fn path(&self, path: &str) -> PathBuf {
        host_path(self.root(), path)
    }

    pub(crate) fn ensure_qemu_account(&self) -> Result<()> {
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

    pub(crate) fn write_qemu_conf(&mut self) -> Result<()> {
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
    pub(crate) fn start_daemon(
        &mut self,
        daemon: &'static str,
        args: &[&str],
        pid_file: &str,
    ) -> Result<()> {
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

    pub(crate) fn wait_for_socket(&self) -> Result<()> {
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
    pub(crate) fn virsh(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
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
    pub(crate) fn virsh_text(&self, args: &[&str]) -> Result<String> {
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
    pub(crate) fn remove_corpus_domains(&self) {
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

pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Sends SIGTERM to `pid`, waits up to ten seconds, then SIGKILL.
pub(crate) fn stop_process(pid: u32) -> Result<()> {
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

pub(crate) fn command_text(command: &mut Command) -> Result<String> {
    let output = run_checked(command)?;
    String::from_utf8(output.stdout).context("non-UTF-8 output")
}

/// The library and hypervisor versions `virsh version` prints
/// ("Using library: libvirt 9.0.0", "Running hypervisor: QEMU 7.2.22").
pub(crate) fn parse_virsh_version(text: &str) -> Result<(String, String)> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
