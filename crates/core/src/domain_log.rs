//! libvirt's QEMU domain logs (`/var/log/libvirt/qemu/NAME.log`): what one
//! start of the domain wrote there, the `-cpu` argument QEMU was given and
//! QEMU's messages. Read by the sosreport reader and by the real-stack
//! recorder (`cargo xtask record-real`), on text only.

/// What one start wrote to a libvirt domain log (`/var/log/libvirt/qemu/NAME.log`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartLog {
    /// The word after `-cpu` on QEMU's command line.
    pub cpu_arg: Option<String>,
    /// QEMU's lines containing `warning:`, time stamp and program name removed.
    pub warnings: Vec<String>,
    /// QEMU's other lines but its note of being killed by a signal (its fatal
    /// errors when it died), prefixes removed.
    pub other_qemu_lines: Vec<String>,
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
    pub fn parse(log: &str) -> StartLog {
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
pub fn shell_words(line: &str) -> Vec<String> {
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

impl StartLog {
    /// The last start in a whole log: the text from the last "starting up"
    /// line on (`None` when the log holds no start).
    pub fn last_start(log: &str) -> Option<&str> {
        let mark = log.rfind(START_MARK)?;
        let line_start = log[..mark].rfind('\n').map_or(0, |newline| newline + 1);
        Some(&log[line_start..])
    }
}

/// What QEMU's warning about a feature it filtered says
/// (`mark_unavailable_features`, target/i386/cpu.c): which accelerator
/// could not give it, or that a feature it depends on was off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilteredBy {
    /// "host doesn't support requested feature": an accelerator that uses
    /// the host's CPUID (`accel_uses_host_cpuid`: KVM, HVF) does not offer it.
    Host,
    /// "TCG doesn't support requested feature".
    Tcg,
    /// "This feature depends on other features that were not requested"
    /// (`x86_cpu_expand_features`): not a verdict on the host.
    Dependency,
}

impl FilteredBy {
    /// The warning's text up to the feature word, as QEMU 7.2 to 11.1 print it.
    const PREFIXES: [(&'static str, FilteredBy); 3] = [
        (
            "warning: host doesn't support requested feature: ",
            FilteredBy::Host,
        ),
        (
            "warning: TCG doesn't support requested feature: ",
            FilteredBy::Tcg,
        ),
        (
            "warning: This feature depends on other features that were not requested: ",
            FilteredBy::Dependency,
        ),
    ];
}

/// A warning of QEMU's about one feature it filtered, read from a log line
/// without its time stamp and program name ([`StartLog::warnings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureWarning<'l> {
    pub by: FilteredBy,
    /// QEMU's name of the feature (`sse4.2`, `lahf_lm`); `None` for a bit
    /// QEMU has no name for.
    pub qemu_name: Option<&'l str>,
}

impl<'l> FeatureWarning<'l> {
    /// Reads one warning line; `None` for any other line. The feature word
    /// is QEMU's `feature_word_description` (target/i386/cpu.c):
    /// `CPUID.01H:ECX` and `MSR(10AH)` up to QEMU 10.0,
    /// `CPUID[eax=01h].ECX` and `MSR(10Ah)` from 10.1; then `.NAME` when the
    /// bit has a name, and ` [bit N]`. Names may hold dots (`sse4.2`).
    pub fn parse(line: &'l str) -> Option<FeatureWarning<'l>> {
        let (rest, by) = FilteredBy::PREFIXES
            .iter()
            .find_map(|(prefix, by)| Some((line.strip_prefix(prefix)?, *by)))?;
        let location = rest.rsplit_once(" [bit ")?.0;
        // The register follows the last `:` (`CPUID.01H:ECX`) or `]`
        // (`CPUID[eax=01h].ECX`); an MSR word has neither (`MSR(10AH)`).
        let word_end = location.rfind([':', ']']).map_or(0, |at| at + 1);
        let after_word = location[word_end..].trim_start_matches('.');
        let name = if word_end == 0 {
            // `MSR(10AH).NAME`
            after_word.split_once(").").map(|(_, name)| name)
        } else {
            // `ECX.NAME`
            after_word.split_once('.').map(|(_, name)| name)
        };
        Some(FeatureWarning {
            by,
            qemu_name: name.filter(|name| !name.is_empty()),
        })
    }
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
    fn quoted_words_are_unquoted() {
        assert_eq!(
            shell_words("-cpu 'Haswell,a=on' -x 'it'\\''s' plain"),
            ["-cpu", "Haswell,a=on", "-x", "it's", "plain"]
        );
    }

    #[test]
    fn the_last_start_of_a_log_is_found() {
        let log = format!("{STARTED_LOG}{STARTED_LOG}");
        let last = StartLog::last_start(&log).expect("a start");
        assert_eq!(last, STARTED_LOG);
        assert_eq!(StartLog::last_start("no start here\n"), None);
    }

    #[test]
    fn feature_warnings_of_qemu_7_2_to_11_1_name_their_feature() {
        let host = |line: &'static str| {
            let warning = FeatureWarning::parse(line).expect("a feature warning");
            (warning.by, warning.qemu_name)
        };
        assert_eq!(
            host("warning: host doesn't support requested feature: CPUID.01H:ECX.sse4.2 [bit 20]"),
            (FilteredBy::Host, Some("sse4.2"))
        );
        assert_eq!(
            host("warning: host doesn't support requested feature: CPUID[eax=07h,ecx=00h].EBX.adx [bit 19]"),
            (FilteredBy::Host, Some("adx"))
        );
        assert_eq!(
            host("warning: This feature depends on other features that were not requested: MSR(10Ah).tsx-ctrl [bit 7]"),
            (FilteredBy::Dependency, Some("tsx-ctrl"))
        );
        assert_eq!(
            host("warning: TCG doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]"),
            (FilteredBy::Tcg, Some("svm"))
        );
        assert_eq!(
            host("warning: host doesn't support requested feature: CPUID.07H:EDX [bit 3]"),
            (FilteredBy::Host, None)
        );
        assert_eq!(FeatureWarning::parse("warning: something else"), None);
    }
}
