//! `guestcpu batch` over a folder of fixtures and broken files: every format
//! of output, unreadable files listed with their position, never fatal.

use crate::util::{fixture, guestcpu, scratch_file};

/// A folder named `name` with two readable hosts (one in a subfolder) and
/// one broken file.
fn cluster_folder(name: &str) -> String {
    let read = |fixture_name: &str| std::fs::read(fixture(fixture_name)).expect("fixture");
    let folder = format!("{}/{name}", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(format!("{folder}/sub")).expect("scratch folder");
    std::fs::write(format!("{folder}/a-penryn.xml"), read("cpudata-penryn.xml")).expect("write");
    std::fs::write(format!("{folder}/sub/b-qmp.json"), read("qmp-replies.json")).expect("write");
    std::fs::write(format!("{folder}/sub/c-broken.xml"), "<cpudata>\n  <cpuid").expect("write");
    folder
}

#[test]
fn batch_table_lists_hosts_errors_and_the_cluster() {
    let folder = cluster_folder("batch-table");
    let output = guestcpu(&["batch", &folder]).succeeds();
    assert!(
        output.starts_with("host "),
        "the table comes first:\n{output}"
    );
    assert!(output.contains("a-penryn.xml"), "{output}");
    assert!(
        output.contains(&format!("error: {folder}/sub/c-broken.xml:2:3: ")),
        "{output}"
    );
    assert!(output.contains("cluster: 3 hosts, 2 readable"), "{output}");
    assert!(
        output.contains("<model fallback='forbid'>Penryn</model>"),
        "{output}"
    );
    assert!(
        output.contains("models usable everywhere (1): Penryn"),
        "{output}"
    );
}

#[test]
fn batch_with_a_domain_gives_verdicts_and_migration() {
    let folder = cluster_folder("batch-domain");
    let output = guestcpu(&[
        "batch",
        &folder,
        "--domain",
        &fixture("guest-penryn-minimum.xml"),
        "--format",
        "csv",
    ])
    .succeeds();
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines[0],
        "host,status,format,vendor,host_cpu_model,host_model,x86_64_level,usable_models,check,none,partial,full,migrates,filtered,error"
    );
    assert_eq!(lines.len(), 4, "{output}");
    assert!(
        lines[1].contains("a-penryn.xml,ok,")
            && lines[1].contains(",partial,starts,starts,starts,source,"),
        "{output}"
    );
    assert!(lines[3].contains(",error,"), "{output}");

    let json = guestcpu(&[
        "batch",
        &folder,
        "--domain",
        &fixture("guest-penryn-minimum.xml"),
        "--format",
        "json",
    ])
    .succeeds();
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(value["hosts"].as_array().map(Vec::len), Some(3));
    assert_eq!(value["hosts"][2]["status"], "failed");
    assert_eq!(value["hosts"][2]["offset"], 12);
    assert_eq!(
        value["cluster"]["domain"]["migration_source"],
        format!("{folder}/a-penryn.xml")
    );
}

#[test]
fn batch_refuses_a_broken_domain_once() {
    let folder = cluster_folder("batch-broken-domain");
    guestcpu(&["batch", &folder, "--domain", "-"])
        .stdin("<domain>\n<cpu>")
        .fails_with("error: <stdin>:2:6: expected `</cpu>`, found end of input");
}

/// The source is stated with why, the table never contradicts it, and the
/// summary leads with the best common model and a domain for every host.
#[test]
fn batch_names_its_migration_source_and_remedies_the_fleet() {
    let folder = cluster_folder("batch-source");
    let domain = fixture("guest-nehalem.xml");
    let output = guestcpu(&["batch", &folder, "--domain", &domain]).succeeds();
    // Nehalem starts on neither host under its default check='partial'.
    assert!(
        output.contains("migration source: none (none: the domain starts on no host)"),
        "{output}"
    );
    assert!(
        !output.contains(" source "),
        "no host is marked the source:\n{output}"
    );
    let summary = output.split("\ncluster: ").nth(1).expect("a summary");
    assert!(
        summary.lines().nth(1) == Some("best model on every host: Penryn"),
        "{output}"
    );
    assert!(output.contains("\nFix for every host:\n"), "{output}");
    assert!(
        output.contains("remedied domain:\n  <cpu mode='custom' match='exact' check='full'>"),
        "{output}"
    );

    let source = format!("{folder}/sub/b-qmp.json");
    let named = guestcpu(&[
        "batch",
        &folder,
        "--domain",
        &fixture("guest-penryn-minimum.xml"),
        "--source",
        &source,
    ])
    .succeeds();
    assert!(
        named.contains(&format!("migration source: {source} (named with --source)")),
        "{named}"
    );
    let source_row = named
        .lines()
        .find(|line| line.starts_with(&source))
        .expect("the source's row");
    assert!(source_row.contains(" source"), "{named}");
    guestcpu(&[
        "batch",
        &folder,
        "--domain",
        &domain,
        "--source",
        &fixture("guest-nehalem.xml"),
    ])
    .fails_with(&format!(
        "error: --source {} is not one of the hosts examined",
        fixture("guest-nehalem.xml")
    ));
}

/// `--upgrade-to` checks the domain on every host again under the second
/// stack: libvirt 9.0 refuses the `-vN` name `Penryn-v1` that 11.3 starts on
/// the CPUID host; on the QMP host (a QEMU answer listing two definitions,
/// without `Penryn-v1`) it stays refused, for another reason.
#[test]
fn batch_previews_an_upgrade_on_every_host() {
    let folder = cluster_folder("batch-upgrade");
    let domain = scratch_file(
        "domain-penryn-v1-batch-upgrade.xml",
        b"<domain type='kvm'><name>t</name><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\
          <cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Penryn-v1</model></cpu></domain>\n",
    );
    let args = [
        "batch",
        &folder,
        "--domain",
        &domain,
        "--libvirt",
        "9.0",
        "--qemu",
        "7.2",
        "--upgrade-to",
        "11.3:10.0",
    ];
    let table = guestcpu(&args).succeeds();
    let row = |name: &str| {
        table
            .lines()
            .find(|line| line.starts_with(&format!("{folder}/{name}")))
            .unwrap_or_else(|| panic!("a row for {name}:\n{table}"))
            .to_string()
    };
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|header| header.ends_with("  filtered  upgrade")),
        "{table}"
    );
    assert!(row("a-penryn.xml").ends_with(" FAILS->starts"), "{table}");
    assert!(row("sub/b-qmp.json").ends_with(" 3 changes"), "{table}");
    assert!(
        table.contains(
            "\nupgrade from libvirt 9.0, QEMU 7.2 to libvirt 11.3, QEMU 10.0: \
             the verdict changes on 1 of 2 hosts, something changes on 2\n"
        ),
        "{table}"
    );
    assert!(
        table.contains(&format!(
            "  {folder}/a-penryn.xml:\n    verdict (check='none'):\n      \
             before: does not start: internal error: Unknown CPU model Penryn-v1\n      \
             after:  starts; the guest gets exactly the CPU defined\n"
        )),
        "{table}"
    );
    assert!(
        table.contains("    -cpu:\n      before: none\n      after:  Penryn-v1\n"),
        "{table}"
    );

    let csv = guestcpu(&[&args[..], &["--format", "csv"]].concat()).succeeds();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].ends_with(
            ",filtered,upgrade_verdict,upgrade_filtered,upgrade_cpu,upgrade_changes,error"
        ),
        "{csv}"
    );
    assert!(
        lines[1].ends_with(
            ",FAILS,FAILS,FAILS,-,,starts,,Penryn-v1,\"verdict (check='none'); \
             verdict (check='partial', the domain's own); verdict (check='full'); \
             guest CPU model; guest CPU features only one side has; -cpu\","
        ),
        "{csv}"
    );
    assert!(
        lines[3].starts_with(&format!("{folder}/sub/c-broken.xml,error,,,,,,,,,,,,,,,,,")),
        "{csv}"
    );

    let json = guestcpu(&[&args[..], &["--format", "json"]].concat()).succeeds();
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(
        value["upgrade"],
        serde_json::json!({
            "stack_before": "libvirt 9.0, QEMU 7.2",
            "stack_after": "libvirt 11.3, QEMU 10.0",
            "hosts": 2,
            "hosts_changing_verdict": 1,
            "hosts_changing": 2,
        })
    );
    let upgrade = &value["hosts"][0]["upgrade"];
    assert_eq!(upgrade["verdict_before"]["starts"], false);
    assert_eq!(upgrade["verdict_after"]["starts"], true);
    assert_eq!(upgrade["qemu_cpu_arg_after"], "Penryn-v1");
    assert_eq!(upgrade["changes"].as_array().map(Vec::len), Some(6));
    assert!(value["hosts"][2].get("upgrade").is_none(), "{json}");

    // Without --upgrade-to nothing of it is printed; without --domain it is refused.
    let plain = guestcpu(&args[..8]).succeeds();
    assert!(
        plain
            .lines()
            .next()
            .is_some_and(|header| header.ends_with("  filtered")),
        "{plain}"
    );
    assert!(!plain.contains("\nupgrade from"), "{plain}");
    let refused = guestcpu(&["batch", &folder, "--upgrade-to", "11.3:10.0"]).run();
    assert_eq!(refused.status, 2);
}
