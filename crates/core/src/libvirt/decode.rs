//! Decode: from CPU data to a model plus features (libvirt's `x86Decode`).
//!
//! The map's models are tried from last to first; each candidate lists the
//! features the data has beyond the model (`require`) and the model features the
//! data lacks (`disable`), and the best-scoring candidate wins. The quirks that
//! libvirt's expected outputs depend on are kept on purpose and marked QUIRK.

use super::{CpuSignals, HypervisorModel};
use crate::cpudef::{CpuDef, CpuFeature, CpuType, Fallback, Policy};
use crate::cpuid::{CpuidData, Signature};
use crate::data::{CpuMap, FeatureId, Model, ModelId};
use crate::error::CpuError;

/// What constrains a decode besides the data.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions<'a> {
    /// Models the hypervisor supports, with their blockers; `None` allows all.
    pub allowed: Option<&'a [HypervisorModel]>,
    /// Models to prefer (baseline's input models); empty means none.
    pub preferred: &'a [String],
    /// Drop features that block migration from the result.
    pub migratable: bool,
}

/// A candidate's feature list, with the policies decode gave it.
type CandidateFeatures = Vec<(FeatureId, Policy)>;

struct Candidate {
    model: ModelId,
    features: CandidateFeatures,
}

/// Decodes `data` into `target` (whose type and fallback matter), replacing its
/// model, vendor and feature list.
pub fn decode(
    map: &CpuMap,
    target: &mut CpuDef,
    data: &CpuSignals,
    options: DecodeOptions<'_>,
) -> Result<(), CpuError> {
    let mut features = data.features;
    let signature = data.signature;
    if is_tsx_broken_haswell(map, data) {
        for name in ["hle", "rtm"] {
            if let Some(id) = map.feature_id(name) {
                features.remove(id);
            }
        }
    }
    let for_host = target.cpu_type == CpuType::Host;
    // The features a candidate may list: the release's own map features.
    let listable: crate::FeatureSet = map.map_features().map(|(id, _)| id).collect();

    let mut best: Option<Candidate> = None;
    // One list is filled per model; a losing candidate's list is reused.
    let mut candidate_features = CandidateFeatures::new();
    let allowed = options
        .allowed
        .map(|allowed| allowed_by_model(map, allowed));
    for (id, model) in map.models().rev() {
        let mut hypervisor_entry = None;
        if let Some(allowed) = &allowed {
            match allowed[id.index()] {
                Some(entry) => hypervisor_entry = Some(entry),
                None => {
                    let only_preferred =
                        options.preferred.len() == 1 && options.preferred[0] == model.name;
                    if only_preferred && target.fallback != Fallback::Allow {
                        return Err(CpuError::unsupported(format!(
                            "CPU model {} is not supported by hypervisor",
                            model.name
                        )));
                    }
                    continue;
                }
            }
        }
        if let (Some(vendor), Some(model_vendor)) = (data.vendor, model.vendor) {
            if vendor != model_vendor {
                continue;
            }
        }

        // libvirt's x86DecodeUseCandidate refuses a model not meant for
        // this decode before looking at its features.
        let decodable = if for_host {
            model.decode_host
        } else {
            model.decode_guest
        };
        if !decodable {
            continue;
        }
        candidate_list(
            map,
            &listable,
            model,
            &features,
            hypervisor_entry,
            for_host,
            &mut candidate_features,
        );
        match judge(
            model,
            &candidate_features,
            best.as_ref(),
            map,
            signature,
            for_host,
            options.preferred,
        ) {
            Verdict::Worse => {}
            Verdict::Better => {
                let previous = best.replace(Candidate {
                    model: id,
                    features: std::mem::take(&mut candidate_features),
                });
                if let Some(previous) = previous {
                    candidate_features = previous.features;
                }
            }
            Verdict::Best => {
                best = Some(Candidate {
                    model: id,
                    features: candidate_features,
                });
                break;
            }
        }
    }

    let Some(winner) = best else {
        return Err(CpuError::unsupported(
            "Cannot find suitable CPU model for given data",
        ));
    };
    let stored_policy = |policy: Policy| if for_host { None } else { Some(policy) };
    target.model = Some(map.model(winner.model).name.clone());
    target.features = winner
        .features
        .into_iter()
        .filter(|(id, _)| !options.migratable || map.feature(*id).migratable)
        .map(|(id, policy)| CpuFeature {
            name: map.feature(id).name.clone(),
            policy: stored_policy(policy),
        })
        .collect();
    if let Some(vendor) = data.vendor {
        target.vendor = Some(map.vendor(vendor).name.clone());
    }
    target.signature = Some((signature.family, signature.model, signature.stepping));
    Ok(())
}

/// The hypervisor's entry for each map model, by model id: the first of
/// `allowed` with its name ([`super::find_hypervisor_model`]'s), found once rather
/// than searched for every candidate.
fn allowed_by_model<'a>(
    map: &CpuMap,
    allowed: &'a [HypervisorModel],
) -> Vec<Option<&'a HypervisorModel>> {
    let mut by_model = vec![None; map.models().count()];
    for entry in allowed {
        if let Some(id) = map.model_id(&entry.name) {
            by_model[id.index()].get_or_insert(entry);
        }
    }
    by_model
}

/// QUIRK: libvirt drops `hle` and `rtm` from Intel Haswell signatures whose TSX
/// was disabled by microcode (6/60, 6/69, 6/70, and 6/63 below stepping 4).
fn is_tsx_broken_haswell(map: &CpuMap, data: &CpuSignals) -> bool {
    let intel = map.vendor_id("Intel");
    let Signature {
        family,
        model,
        stepping,
    } = data.signature;
    data.vendor.is_some()
        && data.vendor == intel
        && family == 6
        && (matches!(model, 60 | 69 | 70) || (model == 63 && stepping < 4))
}

/// The candidate's list: extras as `require`, missing or blocked model features
/// as `disable` (both in map order), then for guests the model's removed
/// features; written over `list`.
fn candidate_list(
    map: &CpuMap,
    listable: &crate::FeatureSet,
    model: &Model,
    data: &crate::FeatureSet,
    hypervisor_entry: Option<&HypervisorModel>,
    for_host: bool,
    list: &mut CandidateFeatures,
) {
    let extra = data.difference(&model.features);
    let mut missing = model.features.difference(data);
    if let Some(entry) = hypervisor_entry {
        let blocked = entry.blockers.known_features(map).difference(&extra);
        for id in blocked.iter().filter(|id| !map.feature(*id).internal) {
            missing.insert(id);
        }
    }
    list.clear();
    // In the release's map order; map features come first.
    let map_order = |set: &crate::FeatureSet, policy: Policy, list: &mut CandidateFeatures| {
        map.each_in_map_order(&set.intersection(listable), |id| list.push((id, policy)));
    };
    map_order(&extra, Policy::Require, list);
    map_order(&missing, Policy::Disable, list);
    if !for_host {
        for removed in &model.removed {
            if !list.iter().any(|(id, _)| id == removed) {
                list.push((*removed, Policy::Disable));
            }
        }
    }
}

enum Verdict {
    Worse,
    Better,
    /// Take this candidate and stop looking.
    Best,
}

/// libvirt's `x86DecodeUseCandidate`.
fn judge(
    model: &Model,
    candidate: &CandidateFeatures,
    best: Option<&Candidate>,
    map: &CpuMap,
    signature: Signature,
    for_host: bool,
    preferred: &[String],
) -> Verdict {
    if for_host
        && candidate
            .iter()
            .any(|(_, policy)| *policy == Policy::Disable)
    {
        return Verdict::Worse;
    }
    let is_preferred = preferred.contains(&model.name);
    if is_preferred && preferred.len() == 1 {
        return Verdict::Best;
    }
    let Some(best) = best else {
        return Verdict::Better;
    };
    if !signature.is_zero() {
        let best_matches = map.model(best.model).signature_matches(signature);
        let candidate_matches = model.signature_matches(signature);
        if best_matches && !candidate_matches {
            return Verdict::Worse;
        }
        if !best_matches && candidate_matches {
            return Verdict::Better;
        }
    }
    let (candidate_score, candidate_disabled) = score(candidate, for_host);
    let (best_score, best_disabled) = score(&best.features, for_host);
    let better = candidate_score < best_score
        || (candidate_score == best_score && candidate_disabled < best_disabled)
        || (is_preferred && candidate_disabled < best_disabled);
    if better {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

/// QUIRK: libvirt's loop bound shrinks as disabled features are counted, so only
/// the first `ceil(m/2)` of `m` trailing disabled features add a penalty.
fn score(features: &CandidateFeatures, for_host: bool) -> (usize, usize) {
    if for_host {
        return (features.len(), 0);
    }
    let mut limit = features.len();
    let (mut disabled, mut penalty, mut i) = (0, 2, 0);
    while i < limit {
        if features[i].1 == Policy::Disable {
            limit -= 1;
            disabled += penalty;
            penalty += 1;
        }
        i += 1;
    }
    (limit + disabled, disabled)
}

/// Puts the features of a decoded guest CPU (a host-model another program
/// printed, such as `virsh domcapabilities`, which newer releases print by
/// name) back in the order decode makes them (`x86DataToCPU`): the required
/// ones in map order, then the disabled ones in map order, then the model's
/// removed features in the model's order (`virCPUx86DisableRemovedFeatures`).
/// Features the map does not know keep their place at the end.
pub fn order_as_decoded(map: &CpuMap, cpu: &mut CpuDef) {
    let removed: &[FeatureId] = cpu
        .model
        .as_deref()
        .and_then(|name| map.model_id(name))
        .map_or(&[], |id| map.model(id).removed.as_slice());
    let rank = |feature: &CpuFeature| -> (u8, usize) {
        let Some(id) = map.feature_id(&feature.name) else {
            return (3, 0);
        };
        match feature.policy {
            Some(Policy::Disable) => match removed.iter().position(|r| *r == id) {
                Some(position) => (2, position),
                None => (1, map.map_order_rank(id)),
            },
            _ => (0, map.map_order_rank(id)),
        }
    };
    crate::sort::sort_by_key(&mut cpu.features, |feature| rank(feature));
}

/// The host CPU libvirt reports for raw CPUID data (`-host.xml`).
pub fn host_cpu_from_cpuid(map: &CpuMap, data: &CpuidData) -> Result<CpuDef, CpuError> {
    let mut def = CpuDef::new(CpuType::Host);
    def.arch = Some("x86_64".to_string());
    decode(
        map,
        &mut def,
        &CpuSignals::from_cpuid(map, data),
        DecodeOptions::default(),
    )?;
    Ok(def)
}

/// The host-model guest CPU libvirt builds from raw data (`-guest.xml`), with
/// the hypervisor's model list when one is known.
pub fn guest_cpu_from_signals(
    map: &CpuMap,
    data: &CpuSignals,
    allowed: Option<&[HypervisorModel]>,
) -> Result<CpuDef, CpuError> {
    let mut def = CpuDef::new(CpuType::Guest);
    def.fallback = Fallback::Forbid;
    decode(
        map,
        &mut def,
        data,
        DecodeOptions {
            allowed,
            ..DecodeOptions::default()
        },
    )?;
    def.fallback = Fallback::Forbid;
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_model_printed_by_name_gets_decodes_order_back() {
        let map = CpuMap::embedded();
        let mut cpu = CpuDef::parse(
            "<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client</model>\
             <feature policy='disable' name='mpx'/><feature policy='disable' name='hle'/>\
             <feature policy='require' name='vme'/><feature policy='require' name='hypervisor'/>\
             <feature policy='require' name='x2apic'/></cpu>",
        )
        .expect("valid cpu");
        order_as_decoded(map, &mut cpu);
        let names: Vec<&str> = cpu.features.iter().map(|f| f.name.as_str()).collect();
        // 11.3's map lists CPUID.1:ECX (x2apic, hypervisor) before EDX (vme);
        // mpx is Skylake-Client's removed feature, appended last.
        assert_eq!(names, ["x2apic", "hypervisor", "vme", "hle", "mpx"]);
    }

    #[test]
    fn score_counts_half_of_the_disabled_features() {
        let f = |i| FeatureId::from_index(i);
        let mut list: CandidateFeatures = (0..14).map(|i| (f(i), Policy::Require)).collect();
        list.push((f(20), Policy::Disable));
        list.push((f(21), Policy::Disable));
        // Opteron_G3 on Opteron-2350: 14 required + 2 disabled scores 17.
        assert_eq!(score(&list, false), (17, 2));
        let mut phenom: CandidateFeatures = (0..16).map(|i| (f(i), Policy::Require)).collect();
        phenom.push((f(30), Policy::Disable));
        assert_eq!(score(&phenom, false), (18, 2));
    }
}
