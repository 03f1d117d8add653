//! The remedy: a domain `<cpu>` that starts under `check='full'` with nothing
//! filtered on every host asked about, keeping as much of the requested CPU
//! as it can.
//!
//! libvirt's own answer to QEMU's silent filtering is a definition whose
//! features all reach the guest, checked with `check='full'`: libvirt then
//! refuses a start or an incoming migration that would change the guest ABI
//! (`qemuProcessUpdateGuestCPU` and `virCPUx86UpdateLive` in
//! src/qemu/qemu_process.c and src/cpu/cpu_x86.c; the live XML records the
//! filtered features as `disable` for the same reason). The remedy writes
//! that definition before the first start, and each candidate is proved by
//! the same simulated start the check makes, never assumed. In order, the
//! first that settles wins:
//!
//! 1. a custom CPU: the requested definition, with every feature a host
//!    cannot give `disable`d and every feature QEMU adds `require`d (the
//!    live update's edits, made before the start), `match='minimum'`,
//!    `fallback='allow'` and `optional` features pinned, and `<cache>` and
//!    `<maxphysaddr>` made valid; when that disables features, the
//!    explanation also names the closest model that needs none;
//! 2. the closest model usable on every host: of the requested model's
//!    vendor and family (CPUID leaf 1), most requested features kept, the
//!    newest on a tie;
//! 3. `host-model`, `host-passthrough` and `maximum` on several hosts: the
//!    baseline of their host-models (`virCPUBaseline`, `vmx-*` capabilities
//!    included where every host-model lists them);
//! 4. the host-model expansion of the first host, pinned as a custom CPU;
//! 5. the closest usable model of any vendor.

use serde::Serialize;

use crate::cpudef::{CpuCheck, CpuDef, CpuMatch, CpuMode, CpuType, Fallback, Policy};
use crate::data::{CpuMap, ModelId};
use crate::featureset::FeatureSet;
use crate::libvirt::baseline::baseline;
use crate::libvirt::update_live::update_live;
use crate::libvirt::{lookup_feature, model_data, PolicySelector};

use super::start::{simulate_start, StartKind, StartOutcome};
use super::{PreparedHost, Question};

/// How many rounds of explicit edits a candidate gets: each round disables
/// what the hosts filtered in the previous one; a second round is needed
/// only when a disabled feature changes what QEMU builds elsewhere.
const EDIT_ROUNDS: usize = 4;

/// How many of the closest usable models are tried in turn.
const CLOSEST_MODELS_TRIED: usize = 3;

/// A domain that starts under `check='full'` with nothing filtered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// The input document with only its `<cpu>` replaced (or the `<cpu>`
    /// alone when the input was a bare `<cpu>`).
    pub domain_xml: String,
    /// Each edit in one line, with why.
    pub changes: Vec<String>,
    /// What the remedied domain guarantees and on which hosts.
    pub explanation: String,
}

/// A host the remedy must start on, and how the changes name it.
#[derive(Clone, Copy)]
pub(crate) struct RemedyHost<'h, 'm> {
    pub host: &'h PreparedHost<'m>,
    /// e.g. "the host", "the target host", "host b.json".
    pub label: &'h str,
}

/// Which models count as close to the requested one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kinship {
    /// The requested model's vendor and family (CPUID leaf 1), when it has them.
    SameFamily,
    Any,
}

/// One candidate definition and the edits that made it, in words.
struct Candidate {
    cpu: CpuDef,
    changes: Vec<String>,
}

impl Question<'_> {
    /// The remedy for this domain on `sides` (the host first, then any
    /// migration target or other fleet host), or `None` when the domain as
    /// defined is already a custom CPU that starts under `check='full'` with
    /// nothing filtered on every one of them. The error says why no
    /// `<cpu>` makes it start when none does (an element outside `<cpu>`
    /// stops it, e.g. `<pvspinlock state='on'/>` on a host without it).
    pub(super) fn remedy(&self, sides: &[RemedyHost<'_, '_>]) -> Result<Option<Remedy>, String> {
        let Some(first) = sides.first() else {
            return Ok(None);
        };
        if self.cpu.mode == CpuMode::Custom
            && self.own_check == CpuCheck::Full
            && sides
                .iter()
                .all(|side| self.clean_start(&self.cpu, side.host))
        {
            return Ok(None);
        }
        let map = first.host.map;
        let custom = self.cpu.mode == CpuMode::Custom;
        let mut last_error = None;
        if custom {
            match self.settle(self.same_model(map), sides) {
                Ok((cpu, changes)) => {
                    let disables = changes.iter().any(|c| c.starts_with("disable `"));
                    let alternative = disables
                        .then(|| self.named_alternative(map, sides))
                        .flatten();
                    return Ok(Some(self.made(&cpu, changes, sides, alternative)));
                }
                Err(error) => last_error = Some(error),
            }
        }
        // Each kind of candidate is made only when the ones before failed.
        let candidates = std::iter::once_with(|| {
            if custom {
                self.closest_models(map, sides, Kinship::SameFamily)
            } else {
                Vec::new()
            }
        })
        .flatten()
        .chain(
            std::iter::once_with(|| {
                (!custom && sides.len() > 1).then(|| self.shared_baseline(sides))
            })
            .flatten()
            .flatten(),
        )
        .chain(std::iter::once_with(|| self.pinned_host_model(first.host)).flatten())
        .chain(std::iter::once_with(|| self.closest_models(map, sides, Kinship::Any)).flatten());
        for candidate in candidates {
            match self.settle(candidate, sides) {
                Ok((cpu, changes)) => return Ok(Some(self.made(&cpu, changes, sides, None))),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| "no candidate CPU".to_string()))
    }

    /// The remedy of a settled `cpu`.
    fn made(
        &self,
        cpu: &CpuDef,
        changes: Vec<String>,
        sides: &[RemedyHost<'_, '_>],
        alternative: Option<String>,
    ) -> Remedy {
        let mut explanation = explanation(cpu, sides);
        if let Some(alternative) = alternative {
            explanation.push_str(&format!(
                " To keep a model that needs no feature disabled instead: {alternative}."
            ));
        }
        Remedy {
            domain_xml: super::live_domain_xml(self.domain_xml, self.cpu_place, cpu),
            changes,
            explanation,
        }
    }

    /// The closest model of the requested one's vendor and family that
    /// settles on every side, as its change line says it.
    fn named_alternative(&self, map: &CpuMap, sides: &[RemedyHost<'_, '_>]) -> Option<String> {
        self.closest_models(map, sides, Kinship::SameFamily)
            .into_iter()
            .find_map(|candidate| {
                let line = candidate.changes.first()?.clone();
                let (_, changes) = self.settle(candidate, sides).ok()?;
                (!changes.iter().any(|c| c.starts_with("disable `"))).then_some(line)
            })
    }

    /// Whether `cpu` starts on `side` under its own check with nothing
    /// filtered.
    fn clean_start(&self, cpu: &CpuDef, side: &PreparedHost<'_>) -> bool {
        let environment = side.environment(&self.domain, self.libvirt_choice(side).version, side);
        let outcome = simulate_start(&environment, cpu, StartKind::New);
        outcome.starts() && outcome.build.is_some_and(|build| build.filtered.is_empty())
    }

    /// The requested definition under `check='full'`: features libvirt does
    /// not know removed, forbidden features kept as disabled.
    fn same_model(&self, map: &CpuMap) -> Candidate {
        let mut cpu = self.cpu.clone();
        let mut changes = Vec::new();
        cpu.features.retain(|feature| {
            let known = lookup_feature(map, &feature.name).is_ok();
            if !known {
                let known_to = match map.release {
                    Some(release) => format!("libvirt {release}'s CPU map"),
                    None => "the CPU map".to_string(),
                };
                changes.push(format!(
                    "remove `{}`: {known_to} has no such feature",
                    feature.name
                ));
            }
            known
        });
        if cpu.match_mode == CpuMatch::Minimum {
            cpu.match_mode = CpuMatch::Exact;
            changes.push(
                "`match='exact'`: `minimum` gives the guest whatever more the host has, so the ABI follows the host".to_string(),
            );
        }
        if cpu.fallback == Fallback::Allow && cpu.model.is_some() {
            cpu.fallback = Fallback::Forbid;
            changes.push(
                "`fallback='forbid'`: with `allow` libvirt may start another model where QEMU lacks this one".to_string(),
            );
        }
        Candidate { cpu, changes }
    }

    /// The host-model expansion of `side` as a custom CPU: what a
    /// `host-model` guest gets there, fixed so that it stays the same on
    /// every start and migration.
    fn pinned_host_model(&self, side: &PreparedHost<'_>) -> Option<Candidate> {
        let mut host_model = self.cpu.clone();
        host_model.mode = CpuMode::HostModel;
        host_model.check = Some(CpuCheck::Full);
        host_model.model = None;
        host_model.features.clear();
        host_model.migratable = None;
        let environment = side.environment(&self.domain, self.libvirt_choice(side).version, side);
        // The settle step reports the edits of <cache> and <maxphysaddr>;
        // here they only let the host-model start.
        valid_cache_and_address_bits(&mut host_model, side.physical_address_bits());
        let live = simulate_start(&environment, &host_model, StartKind::New).live_cpu?;
        let model = live.model.clone()?;
        let pinned = self.custom_with(live.model.clone(), live.features.clone(), live.vendor);
        let mut changes = vec![format!(
            "`mode='custom'` with model `{model}` and {}: the host-model expansion of this host, pinned so the guest ABI no longer follows the host",
            feature_count(&pinned)
        )];
        if self.cpu.mode == CpuMode::HostPassthrough {
            changes.push(
                "host-passthrough gives the host CPU as it is and migrates only between identical hosts; the pinned model keeps what QEMU can name".to_string(),
            );
        }
        Some(Candidate {
            cpu: pinned,
            changes,
        })
    }

    /// libvirt's baseline of the hosts' host-models (`virCPUBaseline`, as
    /// `virsh hypervisor-cpu-baseline` with migratable features only): the
    /// CPU every host can give, `vmx-*` capabilities included when every
    /// host-model lists them.
    fn shared_baseline(&self, sides: &[RemedyHost<'_, '_>]) -> Option<Candidate> {
        let map = sides.first()?.host.map;
        let host_models: Vec<CpuDef> = sides
            .iter()
            .map(|side| {
                side.host.host_model().cloned().map(|mut cpu| {
                    cpu.cpu_type = CpuType::Guest;
                    cpu
                })
            })
            .collect::<Option<_>>()?;
        let shared = baseline(map, &host_models, None, None, true).ok()?;
        let model = shared.model.clone()?;
        let cpu = self.custom_with(shared.model, shared.features, shared.vendor);
        Some(Candidate {
            changes: vec![format!(
                "`mode='custom'` with model `{model}` and {}: the baseline every host can give (libvirt's hypervisor-cpu-baseline of their host-models)",
                feature_count(&cpu)
            )],
            cpu,
        })
    }

    /// The usable models closest to the requested one, best first: usable on
    /// every side, of the requested model's vendor and family when it has
    /// them, most requested features kept, the newest on a tie.
    fn closest_models(
        &self,
        map: &CpuMap,
        sides: &[RemedyHost<'_, '_>],
        kinship: Kinship,
    ) -> Vec<Candidate> {
        let requested = model_data(map, &self.cpu, PolicySelector::All)
            .map(|data| data.features)
            .unwrap_or_default();
        let requested_model = self.cpu.model.as_deref().and_then(|m| map.model_id(m));
        let kin = |id: ModelId| match requested_model.map(|r| map.model(r)) {
            _ if kinship == Kinship::Any => true,
            None => true,
            Some(wanted) => {
                let candidate = map.model(id);
                let family = |m: &crate::data::Model| m.signatures.first().map(|s| s.family);
                (wanted.vendor.is_none() || candidate.vendor == wanted.vendor)
                    && (family(wanted).is_none() || family(candidate) == family(wanted))
            }
        };
        let mut usable: Vec<(usize, ModelId)> = sides
            .first()
            .map(|side| side.host.usable_model_names().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|name| {
                sides
                    .iter()
                    .skip(1)
                    .all(|side| side.host.usable_model_names().any(|other| other == *name))
            })
            .filter_map(|name| map.model_id(name))
            .filter(|id| Some(*id) != requested_model && kin(*id))
            .map(|id| {
                let mut kept = requested;
                kept.intersect_with(&map.model(id).features);
                (kept.len(), id)
            })
            .collect();
        // Most kept first, then the newest (the later in the map).
        crate::sort::sort_by(&mut usable, |a, b| {
            b.0.cmp(&a.0).then(b.1.index().cmp(&a.1.index()))
        });
        let wanted = requested.len();
        usable
            .into_iter()
            .take(CLOSEST_MODELS_TRIED)
            .map(|(kept, id)| {
                let name = map.model(id).name.clone();
                let mut cpu = self.custom_with(Some(name.clone()), Vec::new(), None);
                cpu.features = self
                    .cpu
                    .features
                    .iter()
                    .filter(|f| lookup_feature(map, &f.name).is_ok())
                    .cloned()
                    .collect();
                let from = match &self.cpu.model {
                    Some(old) if self.cpu.mode == CpuMode::Custom => format!("`{old}` → "),
                    _ => String::new(),
                };
                Candidate {
                    cpu,
                    changes: vec![format!(
                        "model {from}`{name}`: the closest model usable on {}, keeping {kept} of the {wanted} features asked for",
                        if sides.len() > 1 { "every host" } else { "the host" }
                    )],
                }
            })
            .collect()
    }

    /// A custom CPU with the domain's topology, cache and other settings,
    /// and `model` with `features`.
    fn custom_with(
        &self,
        model: Option<String>,
        features: Vec<crate::cpudef::CpuFeature>,
        vendor: Option<String>,
    ) -> CpuDef {
        let mut cpu = self.cpu.clone();
        cpu.cpu_type = CpuType::Guest;
        cpu.mode = CpuMode::Custom;
        cpu.match_mode = CpuMatch::Exact;
        cpu.fallback = Fallback::Forbid;
        cpu.migratable = None;
        cpu.model = model;
        cpu.vendor = vendor;
        cpu.features = features;
        cpu
    }

    /// Makes `candidate` start under `check='full'` with nothing filtered on
    /// every side by disabling explicitly what a host cannot give, or gives
    /// up on it with the error of its last start: the settled definition
    /// and every change in words.
    fn settle(
        &self,
        candidate: Candidate,
        sides: &[RemedyHost<'_, '_>],
    ) -> Result<(CpuDef, Vec<String>), String> {
        let Candidate {
            mut cpu,
            mut changes,
        } = candidate;
        cpu.check = Some(CpuCheck::Full);
        let host_bits = sides
            .iter()
            .filter_map(|side| side.host.physical_address_bits())
            .min();
        changes.extend(valid_cache_and_address_bits(&mut cpu, host_bits));
        if let Some(first) = sides.first() {
            changes.extend(self.resolve_optional(&mut cpu, first));
        }
        for _ in 0..EDIT_ROUNDS {
            let mut edited = false;
            for side in sides {
                for name in forbidden_present(&cpu, side.host) {
                    cpu.update_feature(&name, Policy::Disable);
                    changes.push(format!(
                        "disable `{name}` instead of forbidding it: {} has it, and `forbid` refuses the start",
                        side.label
                    ));
                    edited = true;
                }
                let environment = side.host.environment(
                    &self.domain,
                    self.libvirt_choice(side.host).version,
                    side.host,
                );
                let outcome = simulate_start(&environment, &cpu, StartKind::New);
                let clean = outcome.starts()
                    && outcome
                        .build
                        .as_ref()
                        .is_some_and(|b| b.filtered.is_empty());
                if clean {
                    continue;
                }
                let edits = live_edits(side.host, &outcome);
                if edits.is_empty() {
                    return Err(outcome
                        .error
                        .map_or_else(|| "QEMU filters features".to_string(), |e| e.to_string()));
                }
                // One line per policy and reason, features in the start's order.
                let mut grouped: Vec<(Policy, String, Vec<String>)> = Vec::new();
                for (name, policy, why) in edits {
                    cpu.update_feature(&name, policy);
                    match grouped
                        .iter_mut()
                        .find(|(p, w, _)| *p == policy && *w == why)
                    {
                        Some((_, _, names)) => names.push(name),
                        None => grouped.push((policy, why, vec![name])),
                    }
                }
                for (policy, why, names) in grouped {
                    let listed = format!("`{}`", names.join("`, `"));
                    let it = if names.len() == 1 { "it" } else { "them" };
                    changes.push(match policy {
                        Policy::Disable => {
                            format!("disable {listed}: {} lacks {it} ({why})", side.label)
                        }
                        _ => format!(
                            "require {listed}: QEMU gives {it} to the guest on {} ({why})",
                            side.label
                        ),
                    });
                }
                edited = true;
            }
            if !edited {
                if self.own_check != CpuCheck::Full || self.cpu.mode != CpuMode::Custom {
                    changes.push(
                        "`check='full'`: the ABI is now fixed; libvirt refuses a start or migration that would change it"
                            .to_string(),
                    );
                }
                return Ok((cpu, changes));
            }
        }
        Err("the hosts keep filtering features after every edit".to_string())
    }
}

/// Makes `<cache>` and `<maxphysaddr>` what the QEMU driver accepts for
/// `cpu`'s mode (`qemuValidateDomainDefCpu`, src/qemu/qemu_validate.c, as
/// the start checks it), emulated address bits no more than `host_bits`
/// (the fewest of the hosts'), and says each edit.
fn valid_cache_and_address_bits(cpu: &mut CpuDef, host_bits: Option<u32>) -> Vec<String> {
    let mut changes = Vec::new();
    if let Some(cache) = &mut cpu.cache {
        match cache.mode.as_str() {
            "emulate" if cache.level != Some(3) => {
                cache.level = Some(3);
                changes.push(
                    "`<cache level='3' mode='emulate'/>`: QEMU emulates only the L3 cache"
                        .to_string(),
                );
            }
            "passthrough" if !cpu.mode.is_passthrough() => {
                cpu.cache = None;
                changes.push(
                    "remove `<cache mode='passthrough'/>`: only host-passthrough and maximum CPUs pass the host's caches through".to_string(),
                );
            }
            "passthrough" if cache.level.is_some() => {
                cache.level = None;
                changes.push(
                    "`<cache mode='passthrough'/>` without a level: passthrough takes every level"
                        .to_string(),
                );
            }
            _ => {}
        }
    }
    if let Some(address) = &mut cpu.maxphysaddr {
        if address.mode == "passthrough" && address.bits.is_some() {
            address.bits = None;
            changes.push(
                "`<maxphysaddr mode='passthrough'/>` without bits: passthrough takes the host's"
                    .to_string(),
            );
        }
        if let (Some(bits), Some(host)) = (address.bits, host_bits) {
            if address.mode == "emulate" && bits > host {
                address.bits = Some(host);
                changes.push(format!(
                    "`<maxphysaddr mode='emulate' bits='{host}'/>`: the host CPU has {host} physical address bits, and QEMU cannot emulate more"
                ));
            }
        }
    }
    changes
}

/// What libvirt's live update (`virCPUx86UpdateLive`, src/cpu/cpu_x86.c)
/// would record in the definition after `outcome`'s start if `check` were
/// not `full`: the features QEMU filtered become `disable`, those it enabled
/// beyond the definition `require`. Under `check='full'` the same
/// differences refuse the start ("guest CPU doesn't match specification"),
/// so writing them before the start is what makes it pass.
fn live_edits(side: &PreparedHost<'_>, outcome: &StartOutcome) -> Vec<(String, Policy, String)> {
    let (Some(build), Some(handed)) = (&outcome.build, &outcome.cpu_for_qemu) else {
        return Vec::new();
    };
    let map = side.map;
    let filtered = side.filtered_report(build);
    let disabled: FeatureSet = build.filtered.iter().map(|f| f.feature).collect();
    let mut recorded = handed.clone();
    recorded.check = Some(CpuCheck::None);
    if update_live(map, &mut recorded, &build.enabled, &disabled).is_err() {
        return Vec::new();
    }
    recorded
        .features
        .iter()
        .filter_map(|feature| {
            let policy = feature.effective_policy();
            let before = handed.feature(&feature.name).map(|f| f.effective_policy());
            let why = match policy {
                Policy::Disable if before != Some(Policy::Disable) => filtered
                    .iter()
                    .find(|f| f.name == feature.name)
                    .map_or_else(
                        || "QEMU does not enable it".to_string(),
                        |f| f.reason.clone(),
                    ),
                Policy::Require if !matches!(before, Some(Policy::Require | Policy::Force)) => {
                    "check='full' wants every feature the guest sees listed".to_string()
                }
                _ => return None,
            };
            Some((feature.name.clone(), policy, why))
        })
        .collect()
}

impl Question<'_> {
    /// Writes each `optional` feature of `cpu` as libvirt resolves it on
    /// `side` (`virCPUUpdate`: `require` where the host has it, else
    /// `disable`), so that the guest gets the same features on every host.
    fn resolve_optional(&self, cpu: &mut CpuDef, side: &RemedyHost<'_, '_>) -> Vec<String> {
        if !cpu
            .features
            .iter()
            .any(|f| f.policy == Some(Policy::Optional))
        {
            return Vec::new();
        }
        let environment = side.host.environment(
            &self.domain,
            self.libvirt_choice(side.host).version,
            side.host,
        );
        let outcome = simulate_start(&environment, cpu, StartKind::New);
        let Some(handed) = outcome.cpu_for_qemu else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        for feature in cpu
            .features
            .iter_mut()
            .filter(|f| f.policy == Some(Policy::Optional))
        {
            let resolved = handed
                .feature(&feature.name)
                .map_or(Policy::Disable, |f| f.effective_policy());
            feature.policy = Some(resolved);
            changes.push(format!(
                "{} `{}` instead of `optional`: optional follows the host the guest starts on",
                resolved.as_str(),
                feature.name
            ));
        }
        changes
    }
}

/// The features `cpu` forbids that `side`'s full host CPU lists: libvirt's
/// `virCPUCheckForbiddenFeatures` refuses those under `partial` and `full`.
fn forbidden_present(cpu: &CpuDef, side: &PreparedHost<'_>) -> Vec<String> {
    let Some(host) = side.full_host() else {
        return Vec::new();
    };
    cpu.features
        .iter()
        .filter(|f| f.policy == Some(Policy::Forbid))
        .filter(|f| {
            host.feature(&f.name)
                .is_some_and(|h| h.policy != Some(Policy::Disable))
        })
        .map(|f| f.name.clone())
        .collect()
}

/// "N features", and how many of them are the `vmx-*` capabilities a
/// nested-virtualization guest sees (which decide whether a guest running
/// its own guests can migrate).
fn feature_count(cpu: &CpuDef) -> String {
    let vmx = cpu
        .features
        .iter()
        .filter(|f| f.name.starts_with("vmx-"))
        .count();
    match vmx {
        0 => format!("{} features", cpu.features.len()),
        _ => format!(
            "{} features ({vmx} of them `vmx-*` capabilities a nested guest sees)",
            cpu.features.len()
        ),
    }
}

/// What the remedied definition guarantees, in a sentence or two.
fn explanation(cpu: &CpuDef, sides: &[RemedyHost<'_, '_>]) -> String {
    let hosts = if sides.len() > 1 {
        format!("each of the {} hosts", sides.len())
    } else {
        "this host".to_string()
    };
    let model = cpu.model.as_deref().unwrap_or("the CPU");
    format!(
        "Checked again on {hosts}, this domain starts under check='full' with nothing filtered: the guest sees {model} with exactly the features listed at every start, and libvirt refuses a start or migration that would change them instead of dropping features silently."
    )
}
