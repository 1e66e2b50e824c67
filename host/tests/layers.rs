//! The module graph of the host and the simulator has no cycle (ARCHITECTURE.md):
//! every module's paths (`crate::`, `super::`, `self::`, and a parent's uses of its
//! own children) are read from the sources, resolved to the modules they name, and
//! the graph's strongly connected components must all be single modules.
//!
//! The reading is lexical, not a compiler's: comments and `#[cfg(test)] mod tests`
//! are skipped, visibility qualifiers (`pub(super)`) are not paths, and a path
//! resolves to the longest module prefix that exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of the crate whose sources are under `root`, with its source.
fn modules(root: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the source folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .with_extension("");
            let mut module: Module = rel
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if module == ["main"] || module.first().is_some_and(|m| m == "bin") {
                continue;
            }
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            out.insert(module, code_of(&text));
        }
    }
    out
}

/// `text` without its test module, comments and visibility qualifiers.
fn code_of(text: &str) -> String {
    let text = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        code.push_str(line.split("//").next().unwrap_or_default());
        code.push('\n');
    }
    for qualifier in ["pub(crate)", "pub(super)", "pub(self)"] {
        code = code.replace(qualifier, "pub");
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier starting at `at`, if one does.
fn ident_at(s: &str, at: usize) -> Option<&str> {
    let len = s[at..].find(|c: char| !is_ident(c)).unwrap_or(s.len() - at);
    (len > 0).then(|| &s[at..at + len])
}

/// The paths in `code` that start with `crate`, `super`, `self` or one of `heads`,
/// as segment lists (a `use` group gives one path per item).
fn paths(code: &str, heads: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let starts_word = i == 0 || !code[..i].ends_with(|c: char| is_ident(c) || c == ':');
        let Some(word) = ident_at(code, i).filter(|_| starts_word) else {
            i += code[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let keyword = matches!(word, "crate" | "super" | "self");
        if !(keyword || heads.contains(word)) || !code[i + word.len()..].starts_with("::") {
            i += word.len();
            continue;
        }
        let mut segments = vec![word.to_owned()];
        let mut j = i + word.len();
        while code[j..].starts_with("::") {
            match ident_at(code, j + 2) {
                Some(next) => {
                    segments.push(next.to_owned());
                    j += 2 + next.len();
                }
                None => break,
            }
        }
        if code[j..].starts_with("::{") {
            let group_start = j + 3;
            let mut depth = 1;
            let mut end = group_start;
            for (k, c) in code[group_start..].char_indices() {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                if depth == 0 {
                    end = group_start + k;
                    break;
                }
            }
            let group = &code[group_start..end];
            let mut item_depth = 0;
            let mut item = String::new();
            for c in group.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => item_depth += 1,
                    '}' => item_depth -= 1,
                    ',' if item_depth == 0 => {
                        let first = item.trim().split("::").next().unwrap_or_default();
                        let first = first.split_whitespace().next().unwrap_or_default();
                        let mut path = segments.clone();
                        if !first.is_empty() && first != "self" {
                            path.push(first.trim_matches(|c| c == '{' || c == '}').to_owned());
                        }
                        out.push(path);
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            j = end;
        } else {
            out.push(segments);
        }
        i = j.max(i + 1);
    }
    out
}

/// The module `path`, written in `from`, names: its longest existing prefix.
fn resolve(from: &Module, path: &[String], known: &BTreeMap<Module, String>) -> Option<Module> {
    let mut base: Module = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("super") => {
            base = from.clone();
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some("self") => {
            base = from.clone();
            rest = &path[1..];
        }
        _ => base = from.clone(),
    }
    let full: Module = base.into_iter().chain(rest.iter().cloned()).collect();
    (0..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|m| known.contains_key(m))
}

/// Each module's imports of other modules.
fn graph(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let known = modules(root);
    let mut edges = BTreeMap::new();
    for (module, code) in &known {
        // A module's own children, named without a prefix (the root's are its
        // top-level modules); their declarations (`mod x;`) are not uses.
        let children: BTreeSet<String> = known
            .keys()
            .filter(|k| k.len() == module.len() + 1 && k.starts_with(module))
            .map(|k| k[module.len()].clone())
            .collect();
        let body: String = code
            .lines()
            .filter(|l| {
                !l.trim_start()
                    .trim_start_matches("pub ")
                    .starts_with("mod ")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut out = BTreeSet::new();
        for path in paths(&body, &children) {
            if let Some(target) = resolve(module, &path, &known)
                && &target != module
                && !target.is_empty()
            {
                out.insert(target);
            }
        }
        edges.insert(module.clone(), out);
    }
    edges
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a Module) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        for t in w.edges.get(v).into_iter().flatten() {
            if !w.index.contains_key(t) {
                visit(w, t);
                let low = w.low[v].min(w.low[t]);
                w.low.insert(v, low);
            } else if w.stack.contains(&t) {
                let low = w.low[v].min(w.index[t]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(m) = w.stack.pop() {
                component.push(m.clone());
                if m == v {
                    break;
                }
            }
            if component.len() > 1 {
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !w.index.contains_key(v) {
            visit(&mut w, v);
        }
    }
    w.found
}

fn assert_acyclic(crate_src: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_src);
    let found = cycles(&graph(&root));
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
            names.join(" <-> ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles in {crate_src}: {shown:#?}");
}

#[test]
fn the_hosts_modules_import_no_cycle() {
    assert_acyclic("src");
}

#[test]
fn the_simulators_modules_import_no_cycle() {
    assert_acyclic("../sim/src");
}

#[test]
fn a_cycle_through_a_parent_and_a_re_export_is_found() {
    let dir = std::env::temp_dir().join(format!("layers-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).expect("folder");
    std::fs::write(dir.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("lib");
    std::fs::write(dir.join("a/mod.rs"), "mod inner;\npub use inner::X;\n").expect("a");
    std::fs::write(
        dir.join("a/inner.rs"),
        "use super::super::b::Y;\npub struct X;\n",
    )
    .expect("inner");
    std::fs::write(dir.join("b.rs"), "pub struct Y(crate::a::X);\n").expect("b");
    let found = cycles(&graph(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].len(), 3, "{found:?}");
}

#[test]
fn the_runtime_and_the_stores_import_nothing_above_them() {
    let edges = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let above = |layer: &str, forbidden: &[&str]| -> Vec<String> {
        edges
            .iter()
            .filter(|(m, _)| m.first().is_some_and(|f| f == layer))
            .flat_map(|(m, to)| to.iter().map(move |t| (m, t)))
            .filter(|(_, t)| t.first().is_some_and(|f| forbidden.contains(&f.as_str())))
            .map(|(m, t)| format!("{} -> {}", m.join("::"), t.join("::")))
            .collect()
    };
    let wiring = ["apps", "cli", "dispatch", "reload", "settings", "admin"];
    assert_eq!(above("runtime", &wiring), Vec::<String>::new());
    assert_eq!(above("kv", &wiring), Vec::<String>::new());
    assert_eq!(above("stream", &wiring), Vec::<String>::new());
}
