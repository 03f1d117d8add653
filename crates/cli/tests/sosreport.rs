//! `guestcpu sosreport` on the sosreports recorded on real stacks
//! (`tests/sosreport/`, `cargo xtask record-sosreport`): folders and
//! archives read alike, a truncated archive read up to its break, several
//! reports given the fleet view, every output format.

use crate::util::{guestcpu, scratch_file};

fn report(name: &str) -> String {
    format!(
        "{}/../../tests/sosreport/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The `.tar.xz` recorded for `stack`, decompressed.
fn tar_of(stack: &str) -> Vec<u8> {
    let compressed = std::fs::read(report(&format!("{stack}.tar.xz"))).expect("archive");
    let mut tar = Vec::new();
    std::io::Read::read_to_end(
        &mut xz2::read::XzDecoder::new(compressed.as_slice()),
        &mut tar,
    )
    .expect("xz");
    tar
}

#[test]
fn a_folder_and_its_archives_give_the_same_report() {
    let folder = guestcpu(&["sosreport", &report("trixie")]).succeeds();
    let archive = guestcpu(&["sosreport", &report("trixie.tar.xz")]).succeeds();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, &tar_of("trixie")).expect("gzip");
    let gz_path = scratch_file("trixie.tar.gz", &gzip.finish().expect("gzip"));
    let tar_path = scratch_file("trixie.tar", &tar_of("trixie"));
    let strip_name = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    for other in [
        archive,
        guestcpu(&["sosreport", &gz_path]).succeeds(),
        guestcpu(&["sosreport", &tar_path]).succeeds(),
    ] {
        assert_eq!(strip_name(&other), strip_name(&folder));
    }
    assert!(
        folder.starts_with(&format!(
            "== sosreport {}\nlibvirt 11.3.0, QEMU 10.0.13 (virsh -r version)\n",
            report("trixie")
        )),
        "{folder}"
    );
    // Conroe's start showed KVM lacks pni and ssse3, host-model's what else
    // KVM hides: with that joined in, the 4 running domains are confirmed;
    // from the host files alone, 2.
    assert_eq!(
        folder.matches("confirmed by the last start").count(),
        4,
        "{folder}"
    );
    assert!(!folder.contains("the last start differs:"), "{folder}");
    assert!(
        folder.contains("\nevidence: this host's KVM does not offer `pni`: QEMU warned when starting domain gc-custom-conroe-none (predicted from CPUID: offered)\n"),
        "{folder}"
    );
    // The host-model domain's start shows pni and ssse3 too, and alone
    // what else KVM hides: its check names those.
    assert!(
        !folder.contains("known only from this start: KVM does not offer pni"),
        "{folder}"
    );
    assert!(
        folder.contains("\n  known only from this start: KVM does not offer pclmuldq, fma, "),
        "{folder}"
    );
    let alone = guestcpu(&["sosreport", "--without-start-evidence", &report("trixie")]).succeeds();
    assert_eq!(
        (
            alone.matches("confirmed by the last start").count(),
            alone.matches("the last start differs:").count(),
            alone.matches("\nevidence: ").count()
        ),
        (2, 2, 0),
        "{alone}"
    );
    assert!(
        folder.contains("gc-custom-haswell-full (shut off, check='full')"),
        "{folder}"
    );
}

#[test]
fn a_truncated_archive_is_read_up_to_its_break() {
    let tar = tar_of("bookworm");
    let xz = std::fs::read(report("bookworm.tar.xz")).expect("archive");
    for (name, bytes) in [
        ("truncated.tar", &tar[..tar.len() / 3]),
        ("truncated.tar.xz", &xz[..xz.len() * 3 / 4]),
    ] {
        let path = scratch_file(name, bytes);
        let output = guestcpu(&["sosreport", &path]).succeeds();
        let breaks: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with("missing: the archive breaks after "))
            .collect();
        assert_eq!(breaks.len(), 1, "{name}: {output}");
        assert!(
            breaks[0].ends_with(": the files after the break are missing"),
            "{output}"
        );
        // What came before the break is still read: the definitions.
        assert!(
            output.contains("\ngc-custom-486-partial ("),
            "{name}: {output}"
        );
    }
}

#[test]
fn something_else_than_a_report_is_an_error() {
    let path = scratch_file("notes.txt", b"hello\n");
    guestcpu(&["sosreport", &path]).fails_with(&format!(
        "error: {path}: not an sosreport: give its folder or its .tar.xz, .tar.gz or .tar archive"
    ));
}

#[test]
fn two_reports_get_the_fleet_view() {
    let output = guestcpu(&["sosreport", &report("bookworm.tar.xz"), &report("trixie")]).succeeds();
    let fleet = output
        .split("== fleet of 2 reports (0 without a usable host)\n")
        .nth(1)
        .expect(&output);
    assert!(
        fleet.starts_with("baseline CPU every host runs: "),
        "{fleet}"
    );
    assert!(
        fleet.contains(&format!(
            "gc-custom-486-partial (defined in {})\n  starts on {}, the migration source\n",
            report("bookworm.tar.xz"),
            report("bookworm.tar.xz")
        )),
        "{fleet}"
    );
}

#[test]
fn csv_and_json_list_every_domain() {
    let csv = guestcpu(&["sosreport", "--format", "csv", &report("bookworm")]).succeeds();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "report,domain,state,check,own_verdict,none,partial,full,filtered,qemu_cpu_arg,last_start"
    );
    assert_eq!(lines.len(), 8, "{csv}");
    assert!(
        lines.iter().any(|line| line.ends_with(
            ",gc-custom-486-partial,running,partial,starts,starts,starts,FAILS,,486,confirmed"
        ) && line.starts_with(&report("bookworm"))),
        "{csv}"
    );
    let json = guestcpu(&["sosreport", "--format", "json", &report("bookworm")]).succeeds();
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        value["reports"][0]["domains"].as_array().map(Vec::len),
        Some(7)
    );
    assert_eq!(value["reports"][0]["libvirt"], "9.0.0");
    assert!(value["fleet"].is_null());
}

#[test]
fn capture_writes_a_bundle_whose_every_part_says_how_or_why_not() {
    let done = guestcpu(&[
        "capture",
        "--qemu",
        "/nonexistent/qemu",
        "--connect",
        "test:///nonexistent",
    ])
    .run();
    // Standard error lists each part and how it was obtained.
    assert_eq!(done.status, 0, "{}", done.stderr);
    assert!(
        done.stderr
            .contains("qmp              missing: /nonexistent/qemu: "),
        "{}",
        done.stderr
    );
    let bundle = done.stdout;
    assert!(
        bundle.starts_with("{\n  \"guestcpu-capture\": 1,\n"),
        "{bundle}"
    );
    let value: serde_json::Value = serde_json::from_str(&bundle).expect("JSON");
    let parts = value["parts"].as_array().expect("parts");
    for part in parts {
        let obtained = part["how"].is_string() && part["text"].is_string();
        let missing = part["how"].is_null() && part["missing"].is_string();
        assert!(obtained != missing, "{part}");
    }
    let qmp = parts
        .iter()
        .find(|part| part["name"] == "qmp")
        .expect("qmp part");
    assert!(
        qmp["missing"]
            .as_str()
            .is_some_and(|why| why.starts_with("/nonexistent/qemu: ")),
        "{qmp}"
    );
}

#[test]
fn every_verb_takes_the_committed_bundle_as_a_host() {
    let bundle = format!(
        "{}/../../tests/capture/bookworm.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let decoded = guestcpu(&["decode", &bundle]).succeeds();
    assert!(
        decoded.contains("<model>Broadwell-noTSX-IBRS</model>"),
        "{decoded}"
    );
    let domain = format!(
        "{}/../../tests/real/domains/custom-486-require-sse4.2.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = guestcpu(&[
        "check", "--json", "--qemu", "7.2", "--domain", &domain, "--host", &bundle,
    ])
    .succeeds();
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(report["settings"]["libvirt_version"], "9.0");
    assert_eq!(report["filtered"][0]["name"], "sse4.2");
}

/// A bundle's `virsh version` (libvirt 9.0.0, QEMU 7.2.22 on bookworm) sets
/// the versions a check models when none is asked for, and the report says
/// they were inferred and from what; an option still wins.
#[test]
fn a_bundles_virsh_version_sets_the_default_releases() {
    let bundle = format!(
        "{}/../../tests/capture/bookworm.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let domain = format!(
        "{}/../../tests/real/domains/custom-486-require-sse4.2.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let check = ["check", "--domain", &domain, "--host", &bundle];
    let json = guestcpu(&[&check[..], &["--json"]].concat()).succeeds();
    let report: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let settings = &report["settings"];
    assert_eq!(
        (
            &settings["libvirt_version"],
            &settings["libvirt_version_source"],
            &settings["qemu_version"],
            &settings["qemu_version_source"],
        ),
        (
            &"9.0".into(),
            &"inferred".into(),
            &"7.2".into(),
            &"inferred".into()
        )
    );
    let text = guestcpu(&check).succeeds();
    assert!(
        text.contains(" QEMU 7.2 (inferred) libvirt 9.0 (inferred)\n"),
        "{text}"
    );
    assert!(
        text.contains("note: QEMU 7.2 (inferred: the capture bundle's virsh version)\n"),
        "{text}"
    );
    assert!(
        text.contains("note: libvirt 9.0 (inferred: the capture bundle's virsh version)\n"),
        "{text}"
    );

    // The bundle's own stack is what an upgrade preview starts from:
    // bookworm's libvirt 9.0 does not know `Haswell-v2`, trixie's 11.3 does.
    let haswell_v2 = format!(
        "{}/../../tests/real/domains/custom-haswell-v2-partial.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let preview = guestcpu(&[
        "check",
        "--domain",
        &haswell_v2,
        "--host",
        &bundle,
        "--upgrade-to",
        "11.3:10.0",
    ])
    .succeeds();
    assert!(
        preview.contains(
            "\n  verdict (check='partial', the domain's own):\n    \
             before: does not start: internal error: Unknown CPU model Haswell-v2\n    \
             after:  starts; the guest gets exactly the CPU defined\n"
        ),
        "{preview}"
    );

    let asked = guestcpu(
        &[
            &check[..],
            &["--json", "--qemu", "10.0", "--libvirt", "11.3"],
        ]
        .concat(),
    )
    .succeeds();
    let report: serde_json::Value = serde_json::from_str(&asked).expect("JSON");
    assert_eq!(report["settings"]["qemu_version"], "10.0");
    assert_eq!(report["settings"]["qemu_version_source"], "option");
    assert_eq!(report["settings"]["libvirt_version"], "11.3");
    assert_eq!(report["settings"]["libvirt_version_source"], "option");
}
