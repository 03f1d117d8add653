//! Hardening: every broken input of `tests/broken/` (see its README) and a few
//! generated at test time, run through `decode`, `check` and friends.
//!
//! Each run must end with exactly one `error:` line on stderr, positioned as
//! `PATH:LINE:COLUMN` when the problem has a place in the text, exit status 2,
//! no panic, and within a few seconds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::util::{fixture, guestcpu, scratch_file};

/// Longest a run on a broken input may take (debug build, loaded machine).
const QUICK: Duration = Duration::from_secs(10);

/// Where the error must point: a line and column, or nowhere in particular.
#[derive(Clone, Copy, Debug)]
enum Place {
    At(usize, usize),
    /// An engine error about the input as a whole.
    Whole,
}

/// How a broken file is used: as a host or as a domain.
#[derive(Clone, Copy, Debug)]
enum Role {
    /// Through `decode` (or `host-model`) and as `check --host`.
    Host,
    /// As `check --domain`.
    Domain,
}

fn broken(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs `args` and asserts the failure contract; `place` is checked against
/// the error line's `PATH:` prefix.
fn assert_fails_cleanly(args: &[&str], path: &str, place: Place) {
    let started = Instant::now();
    let done = guestcpu(args).run();
    let elapsed = started.elapsed();
    let error_lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    if done.status != 2
        || error_lines.len() != 1
        || done.stderr.lines().count() != 1
        || done.stderr.contains("panicked")
        || !done.stdout.is_empty()
    {
        done.fail("expected exit status 2, no stdout and exactly one `error:` line");
    }
    let line = error_lines[0];
    let ok = match place {
        Place::At(l, c) => line.starts_with(&format!("error: {path}:{l}:{c}: ")),
        Place::Whole => {
            // Either `PATH: message` or an engine message; never a position.
            let rest = line.strip_prefix("error: ").unwrap_or(line);
            let after_path = rest.strip_prefix(&format!("{path}:")).unwrap_or(rest);
            after_path
                .split(':')
                .next()
                .is_none_or(|first| first.trim().parse::<usize>().is_err())
        }
    };
    if !ok {
        done.fail(&format!("expected the error at {place:?}"));
    }
    if elapsed > QUICK {
        done.fail(&format!("took {elapsed:?}"));
    }
}

/// Every broken host and domain file, with the verbs that must refuse it.
#[test]
fn every_broken_file_is_one_positioned_error() {
    let cases: &[(&str, Role, Place)] = &[
        ("host-truncated.xml", Role::Host, Place::At(2, 3)),
        ("host-truncated-qmp.json", Role::Host, Place::At(2, 37)),
        ("host-garbage.bin", Role::Host, Place::At(1, 1)),
        ("host-empty.txt", Role::Host, Place::At(1, 1)),
        ("host-wrong-format.xml", Role::Host, Place::At(2, 1)),
        ("host-billion-laughs.xml", Role::Host, Place::At(2, 1)),
        ("host-huge-number.xml", Role::Host, Place::At(2, 44)),
        ("host-huge-number-cpuid.txt", Role::Host, Place::At(3, 25)),
        ("host-huge-number-qmp.json", Role::Host, Place::At(2, 46)),
        ("host-duplicate-feature.xml", Role::Host, Place::At(5, 3)),
        ("domain-truncated.xml", Role::Domain, Place::At(3, 18)),
        ("domain-billion-laughs.xml", Role::Domain, Place::At(2, 1)),
        (
            "domain-duplicate-feature.xml",
            Role::Domain,
            Place::At(5, 5),
        ),
        ("domain-bad-check.xml", Role::Domain, Place::At(2, 36)),
        ("domain-huge-number.xml", Role::Domain, Place::At(4, 15)),
        ("domain-wrong-type.xml", Role::Domain, Place::At(1, 9)),
    ];
    let good_host = fixture("cpudata-penryn.xml");
    let good_domain = fixture("guest-nehalem.xml");
    for (name, role, place) in cases {
        let path = broken(name);
        match role {
            Role::Host => {
                assert_fails_cleanly(&["decode", &path], &path, *place);
                assert_fails_cleanly(
                    &["check", "--domain", &good_domain, "--host", &path],
                    &path,
                    *place,
                );
            }
            Role::Domain => assert_fails_cleanly(
                &["check", "--domain", &path, "--host", &good_host],
                &path,
                *place,
            ),
        }
    }
}

/// Unknown names and conflicting data parse; the verbs that need them
/// refuse, and the check answers that the domain does not start.
#[test]
fn unknown_models_and_features_are_refused_or_do_not_start() {
    let conflicting = broken("host-conflicting-leaves.xml");
    assert_fails_cleanly(&["decode", &conflicting], &conflicting, Place::Whole);
    let output = guestcpu(&[
        "check",
        "--domain",
        &fixture("guest-nehalem.xml"),
        "--host",
        &conflicting,
    ])
    .succeeds();
    assert!(output.starts_with("Does not start"), "{output}");

    let host = broken("host-unknown-model.xml");
    assert_fails_cleanly(&["host-model", &host], &host, Place::Whole);
    assert_fails_cleanly(
        &[
            "check",
            "--domain",
            &fixture("guest-nehalem.xml"),
            "--host",
            &host,
        ],
        &host,
        Place::Whole,
    );
    let good_host = fixture("cpudata-penryn.xml");
    for (name, reason) in [
        ("domain-unknown-model.xml", "Unknown CPU model NoSuchModel"),
        (
            "domain-unknown-feature.xml",
            "unknown CPU feature: no-such-feature",
        ),
    ] {
        let domain = broken(name);
        assert_fails_cleanly(&["compare", &good_host, &domain], &domain, Place::Whole);
        let output = guestcpu(&["check", "--domain", &domain, "--host", &good_host]).succeeds();
        assert!(
            output.starts_with("Does not start") && output.contains(reason),
            "{output}"
        );
    }
}

/// Inputs too big to commit: over the size limit, and nested past any sane depth.
#[test]
fn generated_monsters_are_refused_quickly() {
    let mut oversize = b"<cpudata arch='x86'>\n".to_vec();
    let row =
        b"  <cpuid eax_in='0x00000001' ecx_in='0x00' eax='0x1' ebx='0x0' ecx='0x0' edx='0x0'/>\n";
    while oversize.len() <= 16 * 1024 * 1024 {
        oversize.extend_from_slice(row);
    }
    let path = scratch_file("broken-oversize.xml", &oversize);
    let done = guestcpu(&["decode", &path]).run();
    if done.status != 2
        || done.stderr
            != format!(
                "error: {path}: the input is larger than 16 MiB; larger inputs are refused\n"
            )
    {
        done.fail("expected the size limit");
    }

    let depth = 100_000;
    let nested = format!(
        "<cpudata>{}{}</cpudata>\n",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let path = scratch_file("broken-nested.xml", nested.as_bytes());
    let started = Instant::now();
    let done = guestcpu(&["decode", &path]).run();
    if done.status != 2
        || done.stderr.lines().count() != 1
        || !done.stderr.starts_with(&format!("error: {path}:1:"))
        || started.elapsed() > QUICK
    {
        done.fail("expected one positioned error for deep nesting");
    }
    let domain = format!(
        "<domain>{}{}</domain>\n",
        "<devices>".repeat(depth),
        "</devices>".repeat(depth)
    );
    let path = scratch_file("broken-nested-domain.xml", domain.as_bytes());
    assert_fails_cleanly(
        &[
            "check",
            "--domain",
            &path,
            "--host",
            &fixture("cpudata-penryn.xml"),
        ],
        &path,
        Place::At(1, 1 + "<domain>".len() + 9 * 255),
    );
}
