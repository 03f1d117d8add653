//! A line-based diff (longest common subsequence) between the domain's own
//! `<cpu>` and the XML the engine produces from it, for the result panels'
//! "show diff against input" toggle.
//!
//! Pure: no browser APIs, unit-tested natively. The output is plain text lines
//! tagged with how they changed; the components render them as text nodes.

/// How one line of a diff relates the two texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineChange {
    /// In both texts.
    Same,
    /// Only in the new text.
    Added,
    /// Only in the old text.
    Removed,
}

impl LineChange {
    /// The marker in front of the line: ` `, `+` or `-`.
    pub fn marker(self) -> char {
        match self {
            LineChange::Same => ' ',
            LineChange::Added => '+',
            LineChange::Removed => '-',
        }
    }

    /// The CSS class the line is rendered with.
    pub fn class(self) -> &'static str {
        match self {
            LineChange::Same => "diff-same",
            LineChange::Added => "diff-added",
            LineChange::Removed => "diff-removed",
        }
    }
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub change: LineChange,
    pub text: String,
}

/// Above this many cells (old lines × new lines, after the common prefix and
/// suffix are set aside) the table would cost too much memory for a page; the
/// differing middle is then shown as removed-then-added instead.
const MAX_TABLE_CELLS: usize = 4_000_000;

/// The lines of `new` against those of `old`: a shortest edit script from the
/// longest common subsequence, removals before additions where both occur.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let common_prefix = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let common_suffix = old_lines[common_prefix..]
        .iter()
        .rev()
        .zip(new_lines[common_prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_middle = &old_lines[common_prefix..old_lines.len() - common_suffix];
    let new_middle = &new_lines[common_prefix..new_lines.len() - common_suffix];

    let line = |change: LineChange, text: &str| DiffLine {
        change,
        text: text.to_string(),
    };
    let mut diff: Vec<DiffLine> = old_lines[..common_prefix]
        .iter()
        .map(|text| line(LineChange::Same, text))
        .collect();
    if old_middle.len().saturating_mul(new_middle.len()) > MAX_TABLE_CELLS {
        diff.extend(
            old_middle
                .iter()
                .map(|text| line(LineChange::Removed, text)),
        );
        diff.extend(new_middle.iter().map(|text| line(LineChange::Added, text)));
    } else {
        diff.extend(lcs_diff(old_middle, new_middle));
    }
    diff.extend(
        old_lines[old_lines.len() - common_suffix..]
            .iter()
            .map(|text| line(LineChange::Same, text)),
    );
    diff
}

/// The classic dynamic-programming diff: `table[i][j]` is the length of the
/// longest common subsequence of `old[i..]` and `new[j..]`.
fn lcs_diff(old: &[&str], new: &[&str]) -> Vec<DiffLine> {
    let width = new.len() + 1;
    let mut table = vec![0u32; (old.len() + 1) * width];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            table[i * width + j] = if old[i] == new[j] {
                table[(i + 1) * width + j + 1] + 1
            } else {
                table[(i + 1) * width + j].max(table[i * width + j + 1])
            };
        }
    }
    let mut diff = Vec::with_capacity(old.len() + new.len());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let (change, text) = if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
            (LineChange::Same, old[i - 1])
        } else if i < old.len()
            && (j == new.len() || table[(i + 1) * width + j] >= table[i * width + j + 1])
        {
            i += 1;
            (LineChange::Removed, old[i - 1])
        } else {
            j += 1;
            (LineChange::Added, new[j - 1])
        };
        diff.push(DiffLine {
            change,
            text: text.to_string(),
        });
    }
    diff
}

/// The `<cpu>` element of a domain XML (a whole `<domain>` or a bare `<cpu>`)
/// at byte range `cpu` (where the domain's parse found it), as written, with the
/// indentation of its first line removed from every line so it lines up with
/// the engine's unindented `<cpu>`.
pub fn input_cpu_xml(domain_xml: &str, (start, end): (usize, usize)) -> Option<String> {
    let element = domain_xml.get(start..end)?;
    let line_start = domain_xml
        .get(..start)?
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    let indent = domain_xml.get(line_start..start)?;
    let indent = if indent.trim().is_empty() { indent } else { "" };
    let mut dedented = String::with_capacity(element.len() + 1);
    for (index, line) in element.lines().enumerate() {
        let line = if index == 0 {
            line
        } else {
            line.strip_prefix(indent).unwrap_or(line)
        };
        dedented.push_str(line);
        dedented.push('\n');
    }
    Some(dedented)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(diff: &[DiffLine]) -> Vec<String> {
        diff.iter()
            .map(|line| format!("{}{}", line.change.marker(), line.text))
            .collect()
    }

    #[test]
    fn equal_texts_have_only_unchanged_lines() {
        let diff = line_diff("a\nb\n", "a\nb\n");
        assert_eq!(render(&diff), [" a", " b"]);
    }

    #[test]
    fn an_inserted_and_a_removed_line_are_marked() {
        let diff = line_diff("a\nb\nc\n", "a\nc\nd\n");
        assert_eq!(render(&diff), [" a", "-b", " c", "+d"]);
    }

    #[test]
    fn a_changed_line_is_removed_then_added() {
        let diff = line_diff(
            "<cpu mode='host-model'/>\n",
            "<cpu mode='custom'>\n</cpu>\n",
        );
        assert_eq!(
            render(&diff),
            [
                "-<cpu mode='host-model'/>",
                "+<cpu mode='custom'>",
                "+</cpu>"
            ]
        );
    }

    #[test]
    fn the_longest_common_subsequence_is_kept() {
        let diff = line_diff("x\na\nb\ny\nc\n", "a\nz\nb\nc\n");
        let same: Vec<&str> = diff
            .iter()
            .filter(|line| line.change == LineChange::Same)
            .map(|line| line.text.as_str())
            .collect();
        assert_eq!(same, ["a", "b", "c"]);
        assert_eq!(diff.len(), 6, "{:?}", render(&diff));
    }

    #[test]
    fn empty_sides_are_all_added_or_all_removed() {
        assert_eq!(render(&line_diff("", "a\nb")), ["+a", "+b"]);
        assert_eq!(render(&line_diff("a\nb", "")), ["-a", "-b"]);
        assert!(line_diff("", "").is_empty());
    }

    #[test]
    fn a_huge_middle_falls_back_to_removed_then_added() {
        let old: String = (0..2100).map(|n| format!("old {n}\n")).collect();
        let new: String = (0..2100).map(|n| format!("new {n}\n")).collect();
        let diff = line_diff(&format!("head\n{old}tail\n"), &format!("head\n{new}tail\n"));
        assert_eq!(diff.len(), 4202);
        assert_eq!(diff[0].change, LineChange::Same);
        assert_eq!(diff[1].change, LineChange::Removed);
        assert_eq!(diff[2101].change, LineChange::Added);
        assert_eq!(diff[4201].change, LineChange::Same);
    }

    /// The input's `<cpu>` as the page finds it: through the domain's parse.
    fn input_cpu(domain_xml: &str) -> Option<String> {
        let parsed = crate::engine::read_domain(domain_xml).ok()?;
        input_cpu_xml(domain_xml, parsed.cpu_range()?)
    }

    #[test]
    fn the_input_cpu_is_cut_out_of_a_domain_and_dedented() {
        let domain = "<domain type='kvm'>\n  <name>a</name>\n  <cpu mode='custom'>\n    \
                      <model>Haswell</model>\n  </cpu>\n</domain>\n";
        assert_eq!(
            input_cpu(domain).as_deref(),
            Some("<cpu mode='custom'>\n  <model>Haswell</model>\n</cpu>\n")
        );
    }

    #[test]
    fn a_bare_cpu_is_taken_whole_and_a_cpuless_domain_has_none() {
        assert_eq!(
            input_cpu("<cpu mode='host-model'/>").as_deref(),
            Some("<cpu mode='host-model'/>\n")
        );
        assert_eq!(input_cpu("<domain><name>a</name></domain>"), None);
        assert_eq!(input_cpu("<domain><cpu"), None);
    }
}
