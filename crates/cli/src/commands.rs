//! One function per verb: read the inputs, call the engine, render the answer.
//!
//! Output is built as a string and printed by `main`, so that a failure halfway
//! never leaves half an answer on standard output.

use anyhow::anyhow;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use guestcpu_core::batch::UpgradeStack;
use guestcpu_core::capture;
use guestcpu_core::check::upgrade::UpgradePreview;
use guestcpu_core::check::{analyze, CheckError, CheckOptions, Report, NO_REMEDY};
use guestcpu_core::domain::Accelerator;
use guestcpu_core::host::{join_hosts, parse_cpu_list, parse_host, CpuListError, HostInput};
use guestcpu_core::libvirt::baseline::baseline;
use guestcpu_core::libvirt::compare::{compare, has_feature, CompareResult};
use guestcpu_core::libvirt::expand::expand_features;
use guestcpu_core::libvirt::release::{LibvirtVersion, VersionChoice, VersionSource};
use guestcpu_core::libvirt::translate::translate;
use guestcpu_core::libvirt::update::update;
use guestcpu_core::libvirt::update_live::update_live;
use guestcpu_core::libvirt::{copy_migratable, HypervisorModel};
use guestcpu_core::qemu::definitions::QemuDefinitions;
use guestcpu_core::qemu::models::models_for_host;
use guestcpu_core::sosreport::StartEvidence;
use guestcpu_core::version::QemuRelease;
use guestcpu_core::{json, CpuDef, CpuMap, Policy};

use crate::input::{Input, InputReader};
use crate::Command;

/// What a command prints, and whether it found the CPU incompatible.
pub struct Outcome {
    pub output: String,
    pub incompatible: bool,
    /// What to tell on standard error besides (e.g. `fix`'s changes).
    pub message: Option<String>,
}

impl Outcome {
    fn print(output: String) -> Self {
        Outcome {
            output,
            incompatible: false,
            message: None,
        }
    }
}

/// The arguments `check` and `fix` share.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckQuestion {
    /// A whole <domain> or a bare <cpu>.
    #[arg(long)]
    pub(crate) domain: String,
    /// The host: any dump format or a <cpu>. Given again, the files are
    /// joined as libvirt joins them: a raw CPUID dump (or virsh
    /// capabilities) with QEMU's answer (QMP replies or virsh
    /// domcapabilities).
    #[arg(long, required = true)]
    pub(crate) host: Vec<String>,
    /// A second host, the migration target: can the running guest
    /// migrate there (`check`); the remedy must start there too (`fix`).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// QEMU version to model (default: the machine type's, else the newest).
    #[arg(long)]
    pub(crate) qemu: Option<QemuRelease>,
    /// libvirt version to model, e.g. 9.0 (default: what the host input
    /// tells, else the newest known).
    #[arg(long)]
    pub(crate) libvirt: Option<LibvirtVersion>,
    /// Accelerator (default: the domain type's).
    #[arg(long, value_parser = accelerator_parser())]
    pub(crate) accel: Option<Accelerator>,
}

/// `--accel`: clap offers and checks QEMU's accelerator names, each then
/// read once as core's [`Accelerator`].
pub(crate) fn accelerator_parser() -> impl TypedValueParser<Value = Accelerator> {
    PossibleValuesParser::new(Accelerator::ALL.map(Accelerator::as_str)).try_map(|name| {
        Accelerator::from_name(&name).ok_or_else(|| format!("unknown accelerator `{name}`"))
    })
}

/// A check's inputs, each read once: the domain, the host files, the
/// migration target and the accelerator asked for.
struct ReadQuestion {
    domain: Input,
    hosts: Vec<(String, Input)>,
    target: Option<Input>,
    accelerator: Option<Accelerator>,
}

impl ReadQuestion {
    fn read(reader: &mut InputReader, question: &CheckQuestion) -> anyhow::Result<Self> {
        Ok(ReadQuestion {
            domain: reader.read(&question.domain)?,
            hosts: read_inputs(reader, &question.host)?,
            target: question
                .to
                .as_deref()
                .map(|path| reader.read(path))
                .transpose()?,
            accelerator: question.accel,
        })
    }

    /// The report under libvirt `libvirt` (`None`: what the host files tell,
    /// else the newest) and QEMU `qemu` ([`qemu_for`]'s answer).
    fn check(
        &self,
        libvirt: Option<LibvirtVersion>,
        (qemu_version, qemu_inferred_from): (Option<QemuRelease>, Option<&'static str>),
    ) -> anyhow::Result<Report> {
        let (choice, map, host) = host_for(libvirt, &self.hosts)?;
        let target = self
            .target
            .as_ref()
            .map(|input| read_host(map, input))
            .transpose()?;
        let options = CheckOptions {
            qemu_version,
            qemu_inferred_from,
            accelerator: self.accelerator,
            libvirt: Some(choice),
        };
        analyze(map, &self.domain.text, &host, target.as_ref(), &options).map_err(|error| {
            match error {
                CheckError::Domain(error) => self.domain.error_at(error.offset, &error.message),
                other => anyhow!("{other}"),
            }
        })
    }

    /// The report under the versions `question` asks for.
    fn check_as_asked(&self, question: CheckQuestion) -> anyhow::Result<Report> {
        self.check(question.libvirt, qemu_for(question.qemu, &self.hosts))
    }
}

/// `text` ending with one line break, as a printed document does.
fn with_newline(text: String) -> String {
    if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    }
}

/// Runs one verb.
pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let map = CpuMap::embedded();
    let mut reader = InputReader::default();
    match command {
        Command::Decode { dump } => {
            let input = reader.read(&dump)?;
            let host = read_host(map, &input)?;
            let cpu = host.host_cpu().map_err(|e| input.error(e))?;
            Ok(Outcome::print(cpu.to_xml()))
        }
        Command::HostModel { dump } => {
            let input = reader.read(&dump)?;
            let host = read_host(map, &input)?;
            let cpu = host.host_model().map_err(|e| input.error(e))?;
            Ok(Outcome::print(cpu.to_xml()))
        }
        Command::Compare { host, guest, json } => {
            let (host, guest) = read_host_and_guest(map, &mut reader, &host, &guest)?;
            let verdict = compare(map, Some(&host), &guest, false)?;
            render_verdict(&verdict, json)
        }
        Command::Update { host, guest } => {
            let (host, mut guest) = read_host_and_guest(map, &mut reader, &host, &guest)?;
            let migratable_host = copy_migratable(map, &host);
            update(map, &mut guest, Some(&migratable_host), Policy::Disable)?;
            Ok(Outcome::print(guest.to_xml()))
        }
        Command::GuestCpu {
            host,
            guest,
            models,
        } => {
            let (host, mut guest) = read_host_and_guest(map, &mut reader, &host, &guest)?;
            if let CompareResult::Incompatible(reason) = compare(map, Some(&host), &guest, false)? {
                return Err(anyhow!("the CPU is incompatible with host CPU: {reason}"));
            }
            update(map, &mut guest, Some(&host), Policy::Disable)?;
            if let Some(models) = models {
                let allowed: Vec<HypervisorModel> = models
                    .iter()
                    .map(|name| HypervisorModel::named(name.trim()))
                    .collect();
                translate(map, &mut guest, &allowed)?;
            }
            Ok(Outcome::print(guest.to_xml()))
        }
        Command::Baseline {
            files,
            expand_features: expand,
            migratable,
        } => {
            let mut cpus = Vec::new();
            for file in &files {
                let input = reader.read(file)?;
                match parse_cpu_list(map, &input.text) {
                    Ok(found) => cpus.extend(found),
                    Err(CpuListError::Input(error)) => {
                        return Err(input.error_at(error.offset, &error.message))
                    }
                    Err(CpuListError::Cpu(error)) => return Err(input.error(error)),
                }
            }
            let mut cpu = baseline(map, &cpus, None, None, migratable)?;
            if expand {
                expand_features(map, &mut cpu)?;
            }
            Ok(Outcome::print(cpu.to_xml()))
        }
        Command::Check {
            question,
            upgrade_to,
            json,
            show_live,
        } => {
            let read = ReadQuestion::read(&mut reader, &question)?;
            let domain_input = &read.domain;
            let report = read.check_as_asked(question)?;
            let output = match upgrade_to {
                None if json => format!("{}\n", guestcpu_core::json::to_string_pretty(&report)?),
                None => crate::report::render(
                    &report,
                    &crate::report::RenderOptions {
                        domain_text: &domain_input.text,
                        show_live,
                    },
                ),
                Some(stack) => {
                    let after = read.check(Some(stack.libvirt), (Some(stack.qemu), None))?;
                    let preview = UpgradePreview::new(report, after);
                    if json {
                        format!("{}\n", guestcpu_core::json::to_string_pretty(&preview)?)
                    } else {
                        crate::report::render_upgrade(
                            &preview,
                            &crate::report::RenderOptions {
                                domain_text: &domain_input.text,
                                show_live,
                            },
                        )
                    }
                }
            };
            Ok(Outcome::print(output))
        }
        Command::Fix { question } => {
            let read = ReadQuestion::read(&mut reader, &question)?;
            let report = read.check_as_asked(question)?;
            let domain_input = read.domain;
            if let Some(remedy) = report.remedy {
                let mut message = String::new();
                for change in &remedy.changes {
                    message.push_str(&format!("- {change}\n"));
                }
                message.push_str(&remedy.explanation);
                message.push('\n');
                return Ok(Outcome {
                    output: with_newline(remedy.domain_xml),
                    incompatible: false,
                    message: Some(message),
                });
            }
            if let Some(reason) = report.notes.iter().find(|n| n.starts_with(NO_REMEDY)) {
                anyhow::bail!("{}: {reason}", domain_input.name);
            }
            Ok(Outcome {
                output: with_newline(domain_input.text),
                incompatible: false,
                message: Some(
                    "unchanged: the domain already starts under check='full' with nothing filtered\n"
                        .to_string(),
                ),
            })
        }
        Command::Models {
            dump,
            qemu,
            libvirt,
            accel,
            json,
        } => {
            let inputs = read_inputs(&mut reader, &dump)?;
            let (choice, map, host) = host_for(libvirt, &inputs)?;
            let definitions = QemuDefinitions::embedded();
            let (version, note) = match qemu {
                Some(wanted) => {
                    let choice = definitions.find(wanted);
                    (choice.version, choice.note)
                }
                None => (definitions.newest(), None),
            };
            let mut report = models_for_host(map, version, &host.facts(accel))?;
            let joined = host
                .contributions()
                .iter()
                .map(|part| format!("joined from {part}"));
            report.notes.splice(0..0, joined);
            report.notes.extend(note.map(str::to_string));
            report.notes.push(choice.describe());
            let output = if json {
                crate::models::render_json(&report)?
            } else {
                let prediction = format!(
                    "predicted for QEMU {} under {}",
                    version.version,
                    accel.as_str()
                );
                crate::models::render_table(&report, &prediction)
            };
            for note in &report.notes {
                eprintln!("note: {note}");
            }
            Ok(Outcome::print(output))
        }
        Command::Batch {
            paths,
            domain,
            source,
            qemu,
            libvirt,
            upgrade_to,
            format,
        } => {
            let (choice, map) = choose_libvirt(libvirt, None);
            let domain_input = domain
                .as_deref()
                .map(|path| reader.read(path))
                .transpose()?;
            if let Some(input) = &domain_input {
                // A broken domain would fail on every host: say so once.
                guestcpu_core::domain::Domain::parse(&input.text)
                    .map_err(|error| input.error_at(error.offset, &error.message))?;
            }
            let options = CheckOptions {
                qemu_version: qemu,
                qemu_inferred_from: None,
                accelerator: None,
                libvirt: Some(choice),
            };
            let upgrade = upgrade_to.map(|stack| {
                let (choice, map) = choose_libvirt(Some(stack.libvirt), None);
                let options = CheckOptions {
                    qemu_version: Some(stack.qemu),
                    qemu_inferred_from: None,
                    accelerator: None,
                    libvirt: Some(choice),
                };
                (map, options)
            });
            let output = crate::batch::run(
                map,
                &paths,
                domain_input.as_ref().map(|input| input.text.as_str()),
                source.as_deref(),
                &options,
                upgrade
                    .as_ref()
                    .map(|(map, options)| UpgradeStack { map, options }),
                format,
            )?;
            Ok(Outcome::print(output))
        }
        Command::Sosreport {
            paths,
            without_start_evidence,
            format,
        } => {
            let evidence = if without_start_evidence {
                StartEvidence::Ignored
            } else {
                StartEvidence::Joined
            };
            Ok(Outcome::print(crate::sosreport::run(
                &paths, evidence, format,
            )?))
        }
        Command::Capture { qemu, connect } => {
            Ok(Outcome::print(crate::capture::run(&qemu, &connect)?))
        }
        Command::HasFeature { host, name } => {
            let input = reader.read(&host)?;
            let host = read_host(map, &input)?
                .host_cpu()
                .map_err(|e| input.error(e))?;
            let answer = if has_feature(map, &host, &name)? {
                "yes"
            } else {
                "no"
            };
            Ok(Outcome::print(format!("{answer}\n")))
        }
        Command::UpdateLive {
            guest,
            enabled,
            disabled,
        } => {
            let guest_input = reader.read(&guest)?;
            let mut cpu = read_guest(&guest_input)?;
            let enabled_input = reader.read(&enabled)?;
            let enabled = read_host(map, &enabled_input)?.cpuid_features();
            let disabled_input = reader.read(&disabled)?;
            let disabled = read_host(map, &disabled_input)?.cpuid_features();
            let updated = update_live(map, &mut cpu, &enabled, &disabled)?;
            updated.apply_driver_check(&mut cpu);
            Ok(Outcome::print(cpu.to_xml()))
        }
    }
}

/// The libvirt version to model: `option`, else what the host input tells
/// (an input that does not parse tells nothing; reading it reports the
/// error), else the newest; with the CPU map that models it.
fn choose_libvirt(
    option: Option<LibvirtVersion>,
    host_text: Option<&str>,
) -> (VersionChoice, &'static CpuMap) {
    // A capture bundle tells through its `virsh version` part, else through
    // its domain capabilities part.
    let bundle_parts = host_text
        .filter(|text| capture::is_bundle(text))
        .and_then(|text| capture::read_bundle(text).ok());
    let bundle_libvirt = bundle_parts
        .as_deref()
        .and_then(capture::virsh_version)
        .and_then(|versions| versions.libvirt)
        .and_then(|text| LibvirtVersion::parse(&text).ok());
    if let (None, Some(version)) = (option, bundle_libvirt) {
        let choice = VersionChoice {
            version,
            source: VersionSource::Inferred(FROM_BUNDLE_VIRSH_VERSION),
        };
        return (choice, CpuMap::for_version(version));
    }
    let host_text = match &bundle_parts {
        Some(parts) => parts
            .iter()
            .find(|part| part.name == "domcapabilities")
            .and_then(|part| part.text.as_deref()),
        None => host_text,
    };
    let dump = host_text.and_then(|text| guestcpu_core::dump::parse(text).ok());
    let choice = VersionChoice::choose(option, dump.as_ref());
    (choice, CpuMap::for_version(choice.version))
}

/// Why a version was inferred from a capture bundle.
const FROM_BUNDLE_VIRSH_VERSION: &str = "the capture bundle's virsh version";

/// The QEMU version a check models and what it was inferred from: the one
/// asked for, else the `MAJOR.MINOR` of the QEMU a capture bundle among
/// `inputs` names in its `virsh version` (when the engine knows that
/// release), else none (the check takes the machine type's or the newest).
fn qemu_for(
    asked: Option<QemuRelease>,
    inputs: &[(String, Input)],
) -> (Option<QemuRelease>, Option<&'static str>) {
    if asked.is_some() {
        return (asked, None);
    }
    let bundle_qemu = inputs
        .iter()
        .filter(|(_, input)| capture::is_bundle(&input.text))
        .filter_map(|(_, input)| capture::read_bundle(&input.text).ok())
        .find_map(|parts| capture::virsh_version(&parts)?.qemu)
        .and_then(|release| QemuRelease::parse(&release).ok());
    match bundle_qemu {
        Some(version) => (Some(version), Some(FROM_BUNDLE_VIRSH_VERSION)),
        None => (None, None),
    }
}

fn read_host<'m>(map: &'m CpuMap, input: &Input) -> anyhow::Result<HostInput<'m>> {
    parse_host(map, &input.text).map_err(|error| input.error_at(error.offset, &error.message))
}

/// The inputs at `paths`, each with its path.
fn read_inputs(reader: &mut InputReader, paths: &[String]) -> anyhow::Result<Vec<(String, Input)>> {
    paths
        .iter()
        .map(|path| Ok((path.clone(), reader.read(path)?)))
        .collect()
}

/// One host from one file, or from several joined as libvirt joins its own
/// probe with QEMU's answer ([`join_hosts`]), read with the CPU map of the
/// libvirt version `libvirt_option` names or the files tell (domain
/// capabilities tell the most, so they are asked first).
fn host_for(
    libvirt_option: Option<LibvirtVersion>,
    inputs: &[(String, Input)],
) -> anyhow::Result<(VersionChoice, &'static CpuMap, HostInput<'static>)> {
    let telling = inputs
        .iter()
        .find(|(_, input)| {
            guestcpu_core::dump::detect(&input.text)
                .is_ok_and(|format| format == guestcpu_core::facts::DumpFormat::DomainCapabilities)
        })
        .or(inputs.first())
        .map(|(_, input)| input.text.as_str());
    let (choice, map) = choose_libvirt(libvirt_option, telling);
    let mut parts = Vec::with_capacity(inputs.len());
    for (path, input) in inputs {
        parts.push((path.clone(), read_host(map, input)?));
    }
    let host = if parts.len() == 1 {
        parts.remove(0).1
    } else {
        join_hosts(map, parts).map_err(|message| anyhow!("{message}"))?
    };
    Ok((choice, map, host))
}

fn read_guest(input: &Input) -> anyhow::Result<CpuDef> {
    CpuDef::parse(&input.text).map_err(|error| input.error_at(error.offset, &error.message))
}

/// The host CPU of `host_path` and the guest CPU of `guest_path`.
fn read_host_and_guest(
    map: &CpuMap,
    reader: &mut InputReader,
    host_path: &str,
    guest_path: &str,
) -> anyhow::Result<(CpuDef, CpuDef)> {
    let host_input = reader.read(host_path)?;
    let host = read_host(map, &host_input)?
        .host_cpu()
        .map_err(|e| host_input.error(e))?;
    let guest_input = reader.read(guest_path)?;
    let guest = read_guest(&guest_input)?;
    Ok((host, guest))
}

fn render_verdict(verdict: &CompareResult, as_json: bool) -> anyhow::Result<Outcome> {
    let reason = match verdict {
        CompareResult::Incompatible(reason) => Some(reason.as_str()),
        CompareResult::Identical | CompareResult::Superset => None,
    };
    let output = if as_json {
        // One line, `result` first, as documented; the values are JSON-escaped.
        let result = json::to_string(verdict.as_str())?;
        let reason = json::to_string(&reason)?;
        format!("{{\"result\": {result}, \"reason\": {reason}}}\n")
    } else {
        match reason {
            Some(reason) => format!("{}: {reason}\n", verdict.as_str()),
            None => format!("{}\n", verdict.as_str()),
        }
    };
    Ok(Outcome {
        output,
        incompatible: reason.is_some(),
        message: None,
    })
}
