//! The `guestcpu` command-line tool: libvirt's guest-CPU operations on files.
//!
//! This binary is glue: it parses arguments, reads files and standard input,
//! hands text to `guestcpu-core` and prints what comes back. It knows no CPU
//! rule. Every failure is one `error:` line on standard error and exit
//! status 2; `compare` answers "incompatible" with status 1, as `virsh
//! cpu-compare` does.

// The doc comments of the argument types are clap's `--help` text, where
// `<cpu>` is XML for the user to read, not an HTML tag.
#![allow(rustdoc::invalid_html_tags)]

mod batch;
mod capture;
mod commands;
mod input;
mod kvm_cpuid;
mod models;
mod report;
mod sosreport;

use std::io::Write as _;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use commands::CheckQuestion;
use guestcpu_core::domain::Accelerator;
use guestcpu_core::version::{LibvirtVersion, QemuRelease, Stack};

/// Exit statuses, documented in `--help`.
const EXIT_INCOMPATIBLE: u8 = 1;
const EXIT_ERROR: u8 = 2;

const AFTER_HELP: &str = "\
Inputs: HOST, GUEST, FILE and DUMP are paths, or `-` for standard input.
  HOST/DUMP: a libvirt <cpu> (host or guest type, e.g. cputest's x86_64-host.xml)
             or a host dump: <cpudata> XML, `cpuid -1r`, `kcpuid -r`, QMP replies
             (JSON), `virsh capabilities`, `virsh domcapabilities`, /proc/cpuinfo.
  GUEST:     a <cpu> or a whole <domain>.

Exit status: 0 success (compare: identical or superset), 1 compare found the
CPU incompatible, 2 error (one `error:` line on stderr; bad input is reported
as `error: PATH:LINE:COLUMN: message`).";

/// libvirt's x86 guest-CPU semantics (9.0 to 12.9), offline.
#[derive(Debug, Parser)]
#[command(
    name = "guestcpu",
    version,
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the host CPU libvirt reports for a dump (like cputest's
    /// x86_64-cpuid-NAME-host.xml).
    Decode {
        /// A host dump or <cpu>.
        dump: String,
    },
    /// Print the host-model guest CPU: as cputest's -guest.xml from a raw dump,
    /// as its -json.xml from QMP replies.
    HostModel {
        /// A host dump or <cpu>.
        dump: String,
    },
    /// Compare a guest CPU with a host (virsh cpu-compare): prints `identical`,
    /// `superset` or `incompatible: REASON`.
    #[command(after_help = "Exit status: 0 identical or superset, 1 incompatible, 2 error.")]
    Compare {
        host: String,
        guest: String,
        /// Print {"result": "...", "reason": "..."} instead (reason is null
        /// unless incompatible).
        #[arg(long)]
        json: bool,
    },
    /// Update a guest CPU against a host as cputest's DO_TEST_UPDATE does (the
    /// host's migratable copy; removed features become policy disable).
    Update { host: String, guest: String },
    /// The CPU handed to the hypervisor (cputest's DO_TEST_GUESTCPU): compare
    /// must pass, the guest is updated against the full host, then translated
    /// to a supported model.
    GuestCpu {
        host: String,
        guest: String,
        /// The CPU models the hypervisor supports, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
    },
    /// The baseline CPU of several CPUs (virsh cpu-baseline).
    Baseline {
        /// <cpuTest> or multi-<cpu> files, single <cpu> files, or dumps (each
        /// dump contributes its host CPU).
        #[arg(required = true)]
        files: Vec<String>,
        /// Spell out the model's features, sorted by name.
        #[arg(long)]
        expand_features: bool,
        /// Leave out features that block migration.
        #[arg(long)]
        migratable: bool,
    },
    /// Check a domain on a host: the guest CPU QEMU builds, the features it
    /// filters, and whether the domain starts under each `check` value.
    Check {
        #[command(flatten)]
        question: CheckQuestion,
        /// Preview an upgrade: check again with libvirt LIBVIRT and QEMU QEMU
        /// (e.g. 11.3:10.0) and list what changes.
        #[arg(long, value_name = "LIBVIRT:QEMU")]
        upgrade_to: Option<Stack>,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
        /// Show the live XML even when it equals the input.
        #[arg(long)]
        show_live: bool,
    },
    /// Print the domain remedied to start under check='full' with nothing
    /// filtered on the host (and on the --to host): only its <cpu> changes.
    /// The changes and why go to standard error; a domain that needs none is
    /// printed unchanged.
    Fix {
        #[command(flatten)]
        question: CheckQuestion,
    },
    /// Which named CPU models the host can run and what blocks the others.
    Models {
        /// The host: any dump format or a <cpu>; several files are joined as
        /// for `check --host`.
        #[arg(required = true)]
        dump: Vec<String>,
        /// QEMU version to model (default: the newest known).
        #[arg(long)]
        qemu: Option<QemuRelease>,
        /// libvirt version to model, e.g. 9.0 (default: what the host input
        /// tells, else the newest known).
        #[arg(long)]
        libvirt: Option<LibvirtVersion>,
        /// Accelerator.
        #[arg(long, value_parser = commands::accelerator_parser(), default_value = "kvm")]
        accel: Accelerator,
        /// Print `[{"name", "usable", "blockers"}, ...]`.
        #[arg(long)]
        json: bool,
    },
    /// Examine every host dump under PATH... (folders recursively): host CPU,
    /// host-model, x86-64 level and usable models per host; with --domain the
    /// verdict per `check` value and the filtered features; then the cluster's
    /// baseline CPU, the models usable everywhere and where the domain would
    /// not start or not migrate. Unreadable files are listed, not fatal.
    Batch {
        /// Dump files or folders of dumps.
        #[arg(required = true)]
        paths: Vec<String>,
        /// A whole <domain> or a bare <cpu> to check on every host.
        #[arg(long)]
        domain: Option<String>,
        /// The host the guest migrates from, one of the files examined
        /// (default: the first host, in path order, the domain starts on).
        #[arg(long, requires = "domain")]
        source: Option<String>,
        /// QEMU version to model (default: the domain's machine type's, else the newest).
        #[arg(long)]
        qemu: Option<QemuRelease>,
        /// libvirt version to model, e.g. 9.0 (default: the newest known).
        #[arg(long)]
        libvirt: Option<LibvirtVersion>,
        /// Preview an upgrade: check the domain on every host again with
        /// libvirt LIBVIRT and QEMU QEMU (e.g. 11.3:10.0) and show what changes.
        #[arg(long, value_name = "LIBVIRT:QEMU", requires = "domain")]
        upgrade_to: Option<Stack>,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: batch::BatchFormat,
    },
    /// Check every domain of sosreports (folders or .tar.xz, .tar.gz, .tar
    /// archives): the host joined from the report's CPUID, capabilities and
    /// domcapabilities and what the running domains' starts showed about
    /// KVM (QEMU's warnings, the live XML), the libvirt and QEMU releases of
    /// `virsh version`, each persistent domain's verdicts, and for running
    /// domains whether their last start (live XML, QEMU log) confirms the
    /// prediction. Several reports also get the fleet view (baseline,
    /// migration, models everywhere).
    Sosreport {
        /// sosreport folders or archives.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Predict from the report's host files alone, leaving out what the
        /// running domains' starts showed about KVM (to see what it changed).
        #[arg(long)]
        without_start_evidence: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: batch::BatchFormat,
    },
    /// Capture this host into one bundle (JSON, on standard output) that
    /// every verb takes as a host input: raw CPUID of each CPU, the MSRs
    /// libvirt reads, KVM's module parameters, QEMU's QMP replies, and
    /// virsh's version, capabilities, domcapabilities and domain XMLs when
    /// libvirt runs. Each part is optional and says how it was obtained; run
    /// as root for the MSRs and QEMU under KVM.
    Capture {
        /// The QEMU binary to ask.
        #[arg(long, default_value = "qemu-system-x86_64")]
        qemu: String,
        /// The libvirt connection virsh uses.
        #[arg(long, default_value = "qemu:///system")]
        connect: String,
    },
    /// Does the host CPU have a feature? Prints `yes` or `no`.
    HasFeature { host: String, name: String },
    /// Record what QEMU did to a started guest's CPU (virCPUUpdateLive) and
    /// print the live definition.
    UpdateLive {
        guest: String,
        /// CPUID data of the features QEMU enabled (<cpudata> XML or any dump).
        #[arg(long)]
        enabled: String,
        /// CPUID data of the features QEMU filtered out.
        #[arg(long)]
        disabled: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // `guestcpu` alone: the usage, on standard error, as an error.
            let _ = error.print();
            return ExitCode::from(EXIT_ERROR);
        }
        Err(error) => {
            // clap's first paragraph says what is wrong; the usage after it
            // is left to `--help`.
            let rendered = error.to_string();
            let paragraph: Vec<&str> = rendered
                .lines()
                .take_while(|line| !line.trim().is_empty())
                .collect();
            let message = paragraph.join(" ");
            return fail(message.strip_prefix("error: ").unwrap_or(&message));
        }
    };
    match commands::run(cli.command) {
        Ok(outcome) => {
            if let Some(message) = &outcome.message {
                eprint!("{message}");
            }
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(outcome.output.as_bytes()).is_err() || stdout.flush().is_err() {
                return fail("cannot write to standard output");
            }
            if outcome.incompatible {
                ExitCode::from(EXIT_INCOMPATIBLE)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => fail(&format!("{error:#}")),
    }
}

/// Prints one `error:` line and returns the error status.
fn fail(message: &str) -> ExitCode {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("error: {one_line}");
    ExitCode::from(EXIT_ERROR)
}
