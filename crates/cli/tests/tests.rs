//! The `guestcpu` binary, run on fixtures the project made itself
//! (`tests/fixtures/`, each file's first comment or name says what it is).
//!
//! One test per verb checks the whole output against its file in
//! `tests/expected/` (`UPDATE_EXPECT=1` writes them anew); the error tests
//! check the exact `error:` line, its `PATH:LINE:COLUMN` position and exit
//! status 2. The golden corpus (`golden.rs`) runs the verbs over every
//! domain and host the repository holds.

mod batch;
mod broken;
mod golden;
mod sosreport;
mod util;

use util::{assert_text, expected, fixture, guestcpu, scratch_file};

#[test]
fn decode_prints_the_host_cpu_of_a_cpudata_dump() {
    let output = guestcpu(&["decode", &fixture("cpudata-penryn.xml")]).succeeds();
    expected("decode_prints_the_host_cpu_of_a_cpudata_dump.txt").assert_eq(&output);
}

#[test]
fn decode_of_a_cpu_definition_is_the_definition() {
    let output = guestcpu(&["decode", "-"])
        .stdin(std::fs::read(fixture("host-penryn.xml")).expect("fixture"))
        .succeeds();
    assert_text(
        &output,
        &std::fs::read_to_string(fixture("host-penryn.xml"))
            .expect("fixture")
            .replace(
                "sockets='1' cores='2'",
                "sockets='1' dies='1' clusters='1' cores='2'",
            ),
    );
}

#[test]
fn host_model_of_a_raw_dump_is_the_guest_decode() {
    let output = guestcpu(&["host-model", &fixture("cpudata-penryn.xml")]).succeeds();
    expected("host_model_of_a_raw_dump_is_the_guest_decode.txt").assert_eq(&output);
}

#[test]
fn host_model_of_qmp_replies_follows_qemu() {
    let output = guestcpu(&["host-model", &fixture("qmp-replies.json")]).succeeds();
    expected("host_model_of_qmp_replies_follows_qemu.txt").assert_eq(&output);
}

#[test]
fn compare_answers_like_virsh_cpu_compare() {
    let host = fixture("host-penryn.xml");
    let output = guestcpu(&["compare", &host, &fixture("guest-optional.xml")]).succeeds();
    expected("compare_answers_like_virsh_cpu_compare.txt").assert_eq(&output);
    let output = guestcpu(&["compare", &host, &fixture("guest-nehalem.xml")]).exits_with(1);
    expected("compare_answers_like_virsh_cpu_compare-2.txt").assert_eq(&output);
    let output = guestcpu(&["compare", &host, &fixture("guest-strict.xml")]).exits_with(1);
    expected("compare_answers_like_virsh_cpu_compare-3.txt").assert_eq(&output);
}

#[test]
fn compare_json_keeps_result_first() {
    let host = fixture("host-penryn.xml");
    let output =
        guestcpu(&["compare", "--json", &host, &fixture("guest-nehalem.xml")]).exits_with(1);
    expected("compare_json_keeps_result_first.txt").assert_eq(&output);
    let output = guestcpu(&["compare", &host, "--json", &fixture("guest-optional.xml")]).succeeds();
    expected("compare_json_keeps_result_first-2.txt").assert_eq(&output);
}

#[test]
fn compare_reads_a_guest_from_a_whole_domain() {
    let output = guestcpu(&[
        "compare",
        &fixture("host-penryn.xml"),
        &fixture("guest-penryn-minimum.xml"),
    ])
    .succeeds();
    expected("compare_reads_a_guest_from_a_whole_domain.txt").assert_eq(&output);
}

#[test]
fn update_turns_minimum_into_the_migratable_host() {
    let output = guestcpu(&[
        "update",
        &fixture("host-penryn.xml"),
        &fixture("guest-penryn-minimum.xml"),
    ])
    .succeeds();
    // invtsc is gone: the update uses the host's migratable copy.
    expected("update_turns_minimum_into_the_migratable_host.txt").assert_eq(&output);
}

#[test]
fn guest_cpu_resolves_optional_features_and_translates() {
    let host = fixture("host-penryn.xml");
    let guest = fixture("guest-optional.xml");
    let output = guestcpu(&["guest-cpu", &host, &guest]).succeeds();
    expected("guest_cpu_resolves_optional_features_and_translates.txt").assert_eq(&output);
    let output = guestcpu(&["guest-cpu", &host, &guest, "--models", "core2duo,qemu64"]).succeeds();
    expected("guest_cpu_resolves_optional_features_and_translates-2.txt").assert_eq(&output);
}

#[test]
fn guest_cpu_refuses_what_compare_refuses() {
    guestcpu(&[
        "guest-cpu",
        &fixture("host-penryn.xml"),
        &fixture("guest-nehalem.xml"),
    ])
    .fails_with(
        "error: the CPU is incompatible with host CPU: Host CPU does not provide required features: sse4.2, popcnt",
    );
    guestcpu(&[
        "guest-cpu",
        &fixture("host-penryn.xml"),
        "-",
        "--models",
        "qemu64",
    ])
    .stdin("<cpu><model fallback='forbid'>Penryn</model></cpu>")
    .fails_with(
        "error: unsupported configuration: CPU model Penryn is not supported by hypervisor",
    );
}

#[test]
fn baseline_of_a_cpu_test_file() {
    let output = guestcpu(&["baseline", &fixture("baseline-two.xml")]).succeeds();
    expected("baseline_of_a_cpu_test_file.txt").assert_eq(&output);
    let output = guestcpu(&[
        "baseline",
        "--migratable",
        "--expand-features",
        &fixture("baseline-two.xml"),
    ])
    .succeeds();
    assert!(
        output.starts_with(
            "<cpu mode='custom' match='exact'>
  <model fallback='allow'>Nehalem</model>
  <vendor>Intel</vendor>
  <feature policy='require' name='apic'/>
"
        ),
        "{output}"
    );
    assert!(output.contains("name='vmx'"), "{output}");
    assert!(!output.contains("invtsc"), "{output}");
}

#[test]
fn baseline_mixes_cpu_files_and_dumps() {
    let output = guestcpu(&[
        "baseline",
        &fixture("host-penryn.xml"),
        &fixture("cpudata-penryn.xml"),
    ])
    .succeeds();
    expected("baseline_mixes_cpu_files_and_dumps.txt").assert_eq(&output);
}

#[test]
fn baseline_reports_libvirts_error() {
    guestcpu(&["baseline", "-"])
        .stdin(
            "<cpuTest>
  <cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor></cpu>
  <cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor></cpu>
</cpuTest>",
        )
        .fails_with("error: operation failed: CPU vendors do not match");
}

#[test]
fn has_feature_answers_yes_or_no() {
    let host = fixture("host-penryn.xml");
    expected("has_feature_answers_yes_or_no.txt")
        .assert_eq(&guestcpu(&["has-feature", &host, "sse4.1"]).succeeds());
    expected("has_feature_answers_yes_or_no-2.txt")
        .assert_eq(&guestcpu(&["has-feature", &host, "vmx"]).succeeds());
    expected("has_feature_answers_yes_or_no-3.txt")
        .assert_eq(&guestcpu(&["has-feature", &host, "avx"]).succeeds());
    guestcpu(&["has-feature", &host, "foo"])
        .fails_with("error: internal error: unknown CPU feature foo");
}

#[test]
fn update_live_records_what_qemu_did() {
    let output = guestcpu(&[
        "update-live",
        &fixture("guest-live.xml"),
        "--enabled",
        &fixture("live-enabled.xml"),
        "--disabled",
        &fixture("live-disabled.xml"),
    ])
    .succeeds();
    expected("update_live_records_what_qemu_did.txt").assert_eq(&output);
}

#[test]
fn malformed_xml_is_reported_at_its_position() {
    guestcpu(&["compare", &fixture("host-penryn.xml"), "-"])
        .stdin("<cpu>\n  <model>x</modl>\n</cpu>")
        .fails_with(
            "error: <stdin>:2:11: malformed XML: ill-formed document: expected `</model>`, but `</modl>` was found",
        );
    let truncated = scratch_file("truncated.xml", b"<cpu>\n  <model>Penryn</model>\n");
    guestcpu(&["decode", &truncated]).fails_with(&format!(
        "error: {truncated}:3:1: expected `</cpu>`, found end of input"
    ));
}

#[test]
fn invalid_cpu_definitions_are_reported_at_the_element() {
    guestcpu(&["compare", &fixture("host-penryn.xml"), "-"])
        .stdin("\n<cpu>\n  <feature name='vmx'/>\n</cpu>\n")
        .fails_with(
            "error: <stdin>:2:1: XML error: Non-empty feature list specified without CPU model",
        );
}

#[test]
fn unrecognised_dumps_list_the_accepted_formats() {
    guestcpu(&["decode", "-"]).stdin("\nhello\nworld\n").fails_with(
        "error: <stdin>:2:1: unrecognised host input; expected one of: `cpuid -1r` or `cpuid -r`, `kcpuid -r`, libvirt `<cpudata>` XML, QMP replies of `query-cpu-model-expansion` (JSON), `virsh capabilities`, `virsh domcapabilities`, `/proc/cpuinfo`",
    );
    guestcpu(&["decode", "-"])
        .stdin("<cpudata arch='x86'>\n  <cpuid eax_in='0x1' ecx_in='0x00' eax='zz'/>\n</cpudata>")
        .fails_with(
            "error: <stdin>:2:37: attribute `eax`: expected a number like `0x1f` or `31`, found `zz`",
        );
}

#[test]
fn invalid_utf8_is_reported_where_it_starts() {
    let path = scratch_file(
        "latin1.xml",
        b"<cpu>\n  <model>Penryn\xff</model>\n</cpu>\n",
    );
    guestcpu(&["decode", &path])
        .fails_with(&format!("error: {path}:2:16: the input is not valid UTF-8"));
}

#[test]
fn binary_files_are_named_as_such() {
    let path = scratch_file("guest.gz", b"\x1f\x8b\x08\x00\x00\x00");
    guestcpu(&["decode", &path]).fails_with(&format!(
        "error: {path}:1:1: this is a gzip archive, not text; guestcpu reads domain XML and host dumps as text"
    ));
}

#[test]
fn non_x86_domains_are_refused_with_their_arch() {
    let domain = scratch_file(
        "s390x.xml",
        b"<domain type='kvm'>\n  <os><type arch='s390x' machine='s390-ccw-virtio'>hvm</type></os>\n</domain>\n",
    );
    let host = scratch_file(
        "host.xml",
        b"<cpu>\n  <arch>x86_64</arch>\n  <model>Haswell</model>\n  <vendor>Intel</vendor>\n</cpu>\n",
    );
    guestcpu(&["check", "--domain", &domain, "--host", &host]).fails_with(&format!(
        "error: {domain}:2:13: guestcpu checks x86 guests only; this domain is s390x"
    ));
}

#[test]
fn non_x86_hosts_are_refused_with_their_arch() {
    let host = scratch_file(
        "power9.xml",
        b"<cpu>\n  <arch>ppc64</arch>\n  <model>POWER9</model>\n</cpu>\n",
    );
    guestcpu(&["decode", &host]).fails_with(&format!(
        "error: {host}:2:3: the host architecture is `ppc64`; only x86 (`x86_64`, `i686`) is supported"
    ));
}

#[test]
fn oversized_inputs_are_refused() {
    let path = scratch_file("huge.txt", &vec![b' '; 16 * 1024 * 1024 + 1]);
    guestcpu(&["decode", &path]).fails_with(&format!(
        "error: {path}: the input is larger than 16 MiB; larger inputs are refused"
    ));
}

#[test]
fn unreadable_files_and_stdin_twice_are_errors() {
    guestcpu(&["decode", "/nonexistent/guestcpu-host.xml"]).fails_with(
        "error: /nonexistent/guestcpu-host.xml: cannot read: No such file or directory (os error 2)",
    );
    guestcpu(&["compare", "-", "-"])
        .stdin(std::fs::read(fixture("host-penryn.xml")).expect("fixture"))
        .fails_with("error: `-` (standard input) can be given only once");
}

#[test]
fn engine_errors_are_one_line() {
    guestcpu(&["compare", &fixture("host-penryn.xml"), "-"])
        .stdin("<cpu><model>Bogus</model></cpu>")
        .fails_with("error: internal error: Unknown CPU model Bogus");
}

#[test]
fn usage_errors_are_one_line_with_status_2() {
    guestcpu(&["compare", &fixture("host-penryn.xml")])
        .fails_with("error: the following required arguments were not provided: <GUEST>");
    guestcpu(&["frobnicate"]).fails_with("error: unrecognized subcommand 'frobnicate'");
}

#[test]
fn help_documents_the_exit_statuses() {
    let output = guestcpu(&["--help"]).succeeds();
    assert!(output.contains("Exit status: 0 success"), "{output}");
    assert!(output.contains("1 compare found the"), "{output}");
}

#[test]
fn check_joins_a_raw_dump_with_qemus_replies_and_says_what_each_gave() {
    let raw = fixture("cpudata-penryn.xml");
    let qmp = fixture("qmp-replies.json");
    let output = guestcpu(&[
        "check",
        "--domain",
        &fixture("guest-nehalem.xml"),
        "--host",
        &raw,
        "--host",
        &qmp,
    ])
    .run();
    assert!(
        output.stdout.contains(&format!(
            "note: joined from {raw} (libvirt cpudata XML): raw CPUID"
        )),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains(&format!(
            "note: joined from {qmp} (QMP replies (model expansion + 2 CPU definitions)): QEMU's answer"
        )),
        "{}",
        output.stdout
    );
    let models = guestcpu(&["models", &raw, &qmp]).run();
    assert_eq!(models.status, 0, "{}", models.stderr);
    assert!(
        models.stdout.starts_with("# QEMU's own answer"),
        "{}",
        models.stdout
    );
    assert!(
        models.stderr.contains("note: joined from"),
        "{}",
        models.stderr
    );
    guestcpu(&["models", &raw, &raw]).fails_with(&format!(
        "error: {raw} and {raw} both give raw CPUID: the host CPU and libvirt's full host; one host takes one of each"
    ));
}

/// A `-vN` model name is unknown to libvirt 9.0's map and known to 11.3's;
/// the report says which libvirt was modelled and why.
#[test]
fn check_models_the_libvirt_version_asked_for() {
    let domain = scratch_file(
        "domain-penryn-v1.xml",
        b"<domain type='kvm'><name>t</name><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\
          <cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Penryn-v1</model></cpu></domain>\n",
    );
    let host = fixture("cpudata-penryn.xml");
    let run = |libvirt: Option<&str>| {
        let mut args = vec!["check", "--domain", &domain, "--host", &host, "--json"];
        if let Some(version) = libvirt {
            args.extend(["--libvirt", version]);
        }
        guestcpu(&args).succeeds()
    };
    let old = run(Some("9.0"));
    assert!(
        old.contains("\"message\": \"internal error: Unknown CPU model Penryn-v1\""),
        "{old}"
    );
    assert!(old.contains("\"libvirt_version\": \"9.0\""), "{old}");
    assert!(
        old.contains("\"libvirt_version_source\": \"option\""),
        "{old}"
    );
    let current = run(Some("11.3.0"));
    assert!(!current.contains("Unknown CPU model"), "{current}");
    let newest = run(None);
    assert!(newest.contains("\"libvirt_version\": \"12.9\""), "{newest}");
    assert!(
        newest.contains("\"libvirt_version_source\": \"newest\""),
        "{newest}"
    );
    let between = run(Some("10.5"));
    assert!(
        between.contains("no CPU map of this release is embedded, libvirt 9.0's is used"),
        "{between}"
    );
    let done = guestcpu(&[
        "check",
        "--domain",
        &domain,
        "--host",
        &host,
        "--libvirt",
        "nine",
    ])
    .run();
    assert_eq!(done.status, 2);
    expected("check_models_the_libvirt_version_asked_for.txt").assert_eq(&done.stderr);
}

#[test]
fn guestcpu_alone_prints_its_usage() {
    let done = guestcpu(&[]).run();
    assert_eq!(done.status, 2, "{}", done.stderr);
    assert!(
        done.stderr.contains("Usage: guestcpu <COMMAND>"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("  fix "), "{}", done.stderr);
}

/// The text leads with one headline, says each verdict once, shows the fix
/// and leaves out a live XML equal to the input unless asked for.
#[test]
fn check_text_leads_with_the_headline_and_shows_the_fix() {
    let host = fixture("cpudata-penryn.xml");
    let domain = fixture("guest-nehalem.xml");
    let output = guestcpu(&["check", "--domain", &domain, "--host", &host]).succeeds();
    let first = output.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "Does not start: the CPU is incompatible with host CPU: Host CPU does not provide required features: sse4.2, popcnt"
    );
    assert!(!output.contains("DOES NOT START"), "{output}");
    assert!(output.contains("\nFix (`guestcpu fix`"), "{output}");
    assert!(
        output.contains("  - disable `sse4.2`, `popcnt`: the host lacks them"),
        "{output}"
    );
    assert!(output.contains("hint: QEMU 11.1 is a guess"), "{output}");

    // A domain whose live XML is its own text shows it only on request.
    let fix = guestcpu(&["fix", "--domain", &domain, "--host", &host]).run();
    let fixed = scratch_file("fixed-nehalem.xml", fix.stdout.as_bytes());
    let again = guestcpu(&["check", "--domain", &fixed, "--host", &host]).succeeds();
    assert!(
        again.starts_with(
            "Starts with exactly the CPU defined — check='full' keeps the guest ABI fixed\n"
        ),
        "{again}"
    );
    assert!(!again.contains("live XML after start"), "{again}");
    assert!(!again.contains("\nFix "), "{again}");
    let shown = guestcpu(&["check", "--domain", &fixed, "--host", &host, "--show-live"]).succeeds();
    assert!(shown.contains("live XML after start"), "{shown}");
}

/// `fix` prints the remedied domain, its changes on standard error; a domain
/// that needs none comes back unchanged.
#[test]
fn fix_prints_the_remedied_domain_and_says_why() {
    let host = fixture("cpudata-penryn.xml");
    let done = guestcpu(&[
        "fix",
        "--domain",
        &fixture("guest-nehalem.xml"),
        "--host",
        &host,
    ])
    .run();
    assert_eq!(done.status, 0, "{}", done.stderr);
    expected("fix_prints_the_remedied_domain_and_says_why.txt").assert_eq(&done.stdout);
    assert!(
        done.stderr
            .starts_with("- `fallback='forbid'`: with `allow` libvirt may start another model"),
        "{}",
        done.stderr
    );
    let fixed = scratch_file("fixed-once.xml", done.stdout.as_bytes());
    let again = guestcpu(&["fix", "--domain", &fixed, "--host", &host]).run();
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(again.stdout, done.stdout);
    assert!(again.stderr.starts_with("unchanged: "), "{}", again.stderr);

    // With --to, the remedy starts on both hosts.
    let json = guestcpu(&[
        "check",
        "--json",
        "--domain",
        &fixture("guest-nehalem.xml"),
        "--host",
        &host,
        "--to",
        &fixture("qmp-replies.json"),
    ])
    .succeeds();
    assert!(
        json.contains("\"remedy\": {\n    \"domain_xml\": "),
        "{json}"
    );
    assert!(
        json.starts_with("{\n  \"headline\": \"Does not start"),
        "{json}"
    );
}

/// A real `/proc/cpuinfo` (the first processor of a KVM guest on a family 6
/// model 207 Xeon): Linux's `tsc_deadline_timer`, `ibrs`/`ibpb`/`stibp`,
/// `ssbd`, `ibrs_enhanced` and `tsxldtrk` name libvirt features under other
/// names, and without them the host decoded as `Westmere-v1`.
#[test]
fn decode_maps_linux_flag_names_of_a_real_proc_cpuinfo() {
    let host = fixture("proc-cpuinfo-xeon-family6-model207-vm.txt");
    let output = guestcpu(&["decode", &host]).succeeds();
    assert!(
        output.contains("<model>Cascadelake-Server-v3</model>"),
        "{output}"
    );
    for feature in [
        "tsc-deadline",
        "spec-ctrl",
        "stibp",
        "ssbd",
        "ibrs-all",
        "tsx-ldtrk",
    ] {
        let answer = guestcpu(&["has-feature", &host, feature]).succeeds();
        assert_eq!(answer, "yes\n", "{feature}");
    }
    // AMD's speculation controls are not an Intel host's.
    for feature in ["ibpb", "amd-stibp", "amd-ssbd"] {
        let answer = guestcpu(&["has-feature", &host, feature]).succeeds();
        assert_eq!(answer, "no\n", "{feature}");
    }
}

/// `--upgrade-to` checks again with the second stack and lists what changes:
/// libvirt 9.0 refuses a `-vN` name that 11.3 knows.
#[test]
fn check_previews_an_upgrade() {
    let domain = scratch_file(
        "domain-penryn-v1-upgrade.xml",
        b"<domain type='kvm'><name>t</name><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\
          <cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>Penryn-v1</model></cpu></domain>\n",
    );
    let host = fixture("cpudata-penryn.xml");
    let args = [
        "check",
        "--domain",
        &domain,
        "--host",
        &host,
        "--libvirt",
        "9.0",
        "--qemu",
        "7.2",
        "--upgrade-to",
        "11.3:10.0",
    ];
    let output = guestcpu(&args).succeeds();
    assert!(
        output.contains("after the upgrade to libvirt 11.3 and QEMU 10.0:"),
        "{output}"
    );
    assert!(
        output.contains("    before: does not start: internal error: Unknown CPU model Penryn-v1"),
        "{output}"
    );
    let json = guestcpu(&[&args[..], &["--json"]].concat()).succeeds();
    assert!(json.contains("\"changes\": ["), "{json}");
    assert!(json.contains("\"before\": {"), "{json}");
    let done = guestcpu(&[&args[..10], &["11.3"]].concat()).run();
    assert_eq!(done.status, 2);
    expected("check_previews_an_upgrade.txt").assert_eq(&done.stderr);
}

/// A dump taken inside a VM (hypervisor bit, neither vmx nor svm) is pointed
/// out; a physical host's is not.
#[test]
fn check_says_when_the_dump_comes_from_inside_a_vm() {
    let domain = fixture("guest-nehalem.xml");
    let vm = fixture("proc-cpuinfo-xeon-family6-model207-vm.txt");
    let note = "note: the dump comes from inside a virtual machine (the hypervisor bit is set, neither vmx nor svm)";
    let output = guestcpu(&["check", "--domain", &domain, "--host", &vm]).succeeds();
    assert!(output.contains(note), "{output}");
    let host = fixture("cpudata-penryn.xml");
    let output = guestcpu(&["check", "--domain", &domain, "--host", &host]).succeeds();
    assert!(!output.contains(note), "{output}");
}
