//! The engine's import graph: no module imports one of a higher layer, no
//! two modules import each other, however indirectly, only the parse
//! boundary imports the host input parsers (`dump`), and the rules read a
//! host's facts, never the host input they came from.
//!
//! The layers are written once, in `docs/architecture.md` ("What each module
//! may import"); this test reads them there, lists every `use crate::…`,
//! `super::…` and inline `crate::…` path of each file in `crates/core/src`
//! (test code left out: a test may build its input with any module) and
//! resolves it to the file that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A module's path below the crate root, e.g. `["qemu", "accel"]`.
type ModulePath = Vec<String>;

#[test]
fn imports_go_down_the_layers_and_never_round_in_a_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc =
        fs::read_to_string(root.join("../../docs/architecture.md")).expect("docs/architecture.md");
    let layers = read_layers(&doc);
    let files = module_files(&root.join("src"));
    let edges = import_edges(&files);

    let mut violations = Vec::new();
    for (from, to) in &edges {
        let (Some(&from_layer), Some(&to_layer)) = (
            layer_of(&layers, from).as_ref(),
            layer_of(&layers, to).as_ref(),
        ) else {
            violations.push(format!(
                "{} or {} is in no layer of docs/architecture.md",
                from.join("::"),
                to.join("::")
            ));
            continue;
        };
        if from[0] != to[0] && from_layer <= to_layer {
            violations.push(format!(
                "{} (layer {from_layer}) imports {} (layer {to_layer})",
                from.join("::"),
                to.join("::")
            ));
        }
    }
    // The parse boundary: only the modules the document names read host
    // inputs through `dump`; the rest work on the facts it built.
    let boundary = read_parse_boundary(&doc);
    for (from, to) in &edges {
        if to[0] == "dump" && from[0] != "dump" && !boundary.contains(&from[0]) {
            violations.push(format!(
                "{} imports {}, though only {} may",
                from.join("::"),
                to.join("::"),
                boundary.join(", ")
            ));
        }
    }
    // The rules read a host's facts (`HostFacts`), which the check made
    // once from the input; they never name the input itself.
    let (rules, input_type) = read_facts_rule(&doc);
    for (module, (_, text)) in &files {
        if !rules.contains(&module[0]) {
            continue;
        }
        if paths_named(text)
            .iter()
            .any(|path| path.last() == Some(&input_type))
        {
            violations.push(format!(
                "{} names {input_type}, though {} read a host only as its facts",
                module.join("::"),
                rules.join(", ")
            ));
        }
    }
    // A folder's `mod.rs` is its face: it declares its files, re-exports
    // them and dispatches to them, and they may use what it defines; those
    // downward edges close no cycle worth reporting.
    let without_face_edges: BTreeSet<_> = edges
        .iter()
        .filter(|(from, to)| !(to.len() == from.len() + 1 && to.starts_with(from)))
        .cloned()
        .collect();
    for cycle in cycles(&without_face_edges) {
        violations.push(format!("import cycle: {}", cycle.join(" → ")));
    }
    assert!(
        violations.is_empty(),
        "the import graph breaks docs/architecture.md's layers:\n{}",
        violations.join("\n")
    );
    // The graph is not empty: the reader found the imports it judges.
    assert!(edges.len() > 100, "only {} imports found", edges.len());
}

/// The layer of each top-level module, from the table under "What each
/// module may import": rows `| N | `a`, `b` |`.
fn read_layers(doc: &str) -> BTreeMap<String, usize> {
    let section = doc
        .split("## What each module may import")
        .nth(1)
        .expect("docs/architecture.md has a section \"What each module may import\"");
    let mut layers = BTreeMap::new();
    for line in section.lines().take_while(|line| !line.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|cell| cell.parse::<usize>().ok()) else {
            continue;
        };
        for name in cells[2].split(',') {
            let name = name.trim().trim_matches('`');
            assert!(
                layers.insert(name.to_string(), layer).is_none(),
                "{name} is in two layers"
            );
        }
    }
    assert!(!layers.is_empty(), "the layer table is empty");
    layers
}

/// The modules that may import `dump`, from the section's sentence "Only
/// the parse boundary, `a` and `b`, imports `dump`".
fn read_parse_boundary(doc: &str) -> Vec<String> {
    let sentence = doc
        .split("Only the parse boundary,")
        .nth(1)
        .and_then(|rest| rest.split("imports `dump`").next())
        .expect("docs/architecture.md names the parse boundary: \"Only the parse boundary, … imports `dump`\"");
    let names = backticked(sentence);
    assert!(!names.is_empty(), "the parse boundary names no module");
    names
}

/// The rule modules and the type they never name, from the section's
/// sentence "The rules, `a` and `b`, read a host as `Facts`, never as
/// `Input`".
fn read_facts_rule(doc: &str) -> (Vec<String>, String) {
    let sentence = doc
        .split("The rules,")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("docs/architecture.md names the rules that read host facts: \"The rules, … read a host as `…`, never as `…`\"");
    let (modules, types) = sentence
        .split_once("read a host as")
        .expect("the sentence says what the rules read a host as");
    let rules = backticked(modules);
    let input_type = backticked(types.split("never as").nth(1).unwrap_or_default());
    assert!(!rules.is_empty(), "the rules sentence names no module");
    let [input_type] = input_type.as_slice() else {
        panic!("the rules sentence names no one type they never read: {input_type:?}");
    };
    (rules, input_type.clone())
}

/// The names a span of the document writes between backticks, in order.
fn backticked(span: &str) -> Vec<String> {
    span.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn layer_of(layers: &BTreeMap<String, usize>, module: &ModulePath) -> Option<usize> {
    layers.get(&module[0]).copied()
}

/// Every module file, by module path, with its text minus comments and
/// `#[cfg(test)]` items. `lib.rs` (the root) only declares and re-exports.
fn module_files(src: &Path) -> BTreeMap<ModulePath, (bool, String)> {
    let mut files = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).expect("src folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("below src")
                .with_extension("");
            let mut module: ModulePath = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            let is_folder = module.last().is_some_and(|name| name == "mod");
            if is_folder {
                module.pop();
            }
            if module == ["lib"] {
                continue;
            }
            let text = fs::read_to_string(&path).expect("source file");
            files.insert(module, (is_folder, without_tests_and_comments(&text)));
        }
    }
    files
}

/// `text` without line comments and without the item after each
/// `#[cfg(test)]` (a `mod x;` line, or a braced item).
fn without_tests_and_comments(text: &str) -> String {
    let mut kept = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            let mut depth = 0i32;
            let mut opened = false;
            for item_line in lines.by_ref() {
                depth += item_line.matches('{').count() as i32;
                depth -= item_line.matches('}').count() as i32;
                opened |= item_line.contains('{');
                if (!opened && item_line.trim_end().ends_with(';')) || (opened && depth == 0) {
                    break;
                }
            }
            continue;
        }
        let code = line.find("//").map_or(line, |at| &line[..at]);
        kept.push_str(code);
        kept.push('\n');
    }
    kept
}

/// Every (importer, imported) pair of distinct module files.
fn import_edges(
    files: &BTreeMap<ModulePath, (bool, String)>,
) -> BTreeSet<(ModulePath, ModulePath)> {
    let mut edges = BTreeSet::new();
    for (module, (is_folder, text)) in files {
        for path in paths_named(text) {
            let absolute: ModulePath = match path[0].as_str() {
                "crate" => path[1..].to_vec(),
                "super" => {
                    let mut base = module.clone();
                    if !is_folder {
                        base.pop();
                    }
                    let supers = path.iter().take_while(|part| *part == "super").count();
                    for _ in 1..supers {
                        base.pop();
                    }
                    base.extend_from_slice(&path[supers..]);
                    base
                }
                "self" => module.iter().chain(&path[1..]).cloned().collect(),
                // A folder's `mod.rs` names its children without a prefix.
                first if *is_folder && files.contains_key(&child(module, first)) => {
                    module.iter().chain(&path).cloned().collect()
                }
                _ => continue,
            };
            let defining = (1..=absolute.len())
                .rev()
                .map(|length| absolute[..length].to_vec())
                .find(|prefix| files.contains_key(prefix));
            if let Some(defining) = defining.filter(|defining| defining != module) {
                edges.insert((module.clone(), defining));
            }
        }
    }
    edges
}

fn child(module: &ModulePath, name: &str) -> ModulePath {
    module.iter().cloned().chain([name.to_string()]).collect()
}

/// The paths a file names: each `use` tree expanded, and every inline path
/// starting with `crate::`, `super::` or `self::`.
fn paths_named(text: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = text;
    while let Some(at) = find_word(rest, "use") {
        let tree = &rest[at + 3..];
        let end = tree.find(';').unwrap_or(tree.len());
        let tokens = tokens(&tree[..end]);
        let mut position = 0;
        expand_use_tree(&tokens, &mut position, Vec::new(), &mut paths);
        rest = &tree[end..];
    }
    let all = tokens(text);
    for (index, token) in all.iter().enumerate() {
        let starts_path = matches!(token.as_str(), "crate" | "super" | "self")
            && all.get(index + 1).is_some_and(|next| next == "::")
            && (index == 0 || all[index - 1] != "::");
        if !starts_path {
            continue;
        }
        let mut path = vec![token.clone()];
        let mut next = index + 1;
        while all.get(next).is_some_and(|t| t == "::")
            && all.get(next + 1).is_some_and(|t| is_ident(t))
        {
            path.push(all[next + 1].clone());
            next += 2;
        }
        paths.push(path);
    }
    paths
}

/// Where `word` first stands alone in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let standalone = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if standalone(before) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Identifiers, `::`, and the single characters a use tree holds.
fn tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = start + c.len_utf8();
            while let Some(&(at, next)) = chars.peek() {
                if !(next.is_alphanumeric() || next == '_') {
                    break;
                }
                end = at + next.len_utf8();
                chars.next();
            }
            tokens.push(text[start..end].to_string());
        } else if c == ':' && chars.peek().is_some_and(|&(_, next)| next == ':') {
            chars.next();
            tokens.push("::".to_string());
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// Expands one use tree (`a::{b, c::{d as e}}`) into its full paths.
fn expand_use_tree(
    tokens: &[String],
    position: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    let mut path = prefix;
    while let Some(token) = tokens.get(*position) {
        match token.as_str() {
            "{" => {
                *position += 1;
                while tokens.get(*position).is_some_and(|t| t != "}") {
                    expand_use_tree(tokens, position, path.clone(), out);
                    if tokens.get(*position).is_some_and(|t| t == ",") {
                        *position += 1;
                    }
                }
                *position += 1;
                return;
            }
            "," | "}" => break,
            "::" | "*" => *position += 1,
            "as" => *position += 2,
            _ => {
                path.push(token.clone());
                *position += 1;
            }
        }
    }
    if !path.is_empty() {
        out.push(path);
    }
}

/// Every set of modules that import each other (strongly connected
/// components of more than one module), each as a readable loop.
fn cycles(edges: &BTreeSet<(ModulePath, ModulePath)>) -> Vec<Vec<String>> {
    let mut targets: BTreeMap<&ModulePath, Vec<&ModulePath>> = BTreeMap::new();
    for (from, to) in edges {
        targets.entry(from).or_default().push(to);
    }
    let reaches = |start: &ModulePath| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(module) = stack.pop() {
            for &next in targets.get(module).into_iter().flatten() {
                if seen.insert(next) {
                    stack.push(next);
                }
            }
        }
        seen
    };
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut placed = BTreeSet::new();
    for module in targets.keys() {
        if placed.contains(module) {
            continue;
        }
        let forward = reaches(module);
        if !forward.contains(module) {
            continue;
        }
        let component: Vec<String> = forward
            .iter()
            .filter(|other| reaches(other).contains(module))
            .map(|other| {
                placed.insert(*other);
                other.join("::")
            })
            .collect();
        found.push(component);
    }
    found
}
