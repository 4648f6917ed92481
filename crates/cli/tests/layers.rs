//! What the code's shape promises, checked on the sources as a grep would:
//! the modules of each library crate depend on each other one way (no
//! cycle of `crate::` paths), only the binary builds a tokio runtime, and
//! no public function of a library returns `Result<_, String>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each library crate's top-level modules (`src/*.rs`), their text
/// without comments and without their tests.
fn libraries() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for krate in std::fs::read_dir(crates()).unwrap() {
        let src = krate.unwrap().path().join("src");
        if !src.join("lib.rs").exists() {
            continue;
        }
        let name = src.parent().unwrap().file_name().unwrap();
        let mut modules = BTreeMap::new();
        for file in std::fs::read_dir(&src).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let module = path.file_stem().unwrap().to_string_lossy().into_owned();
            modules.insert(module, code);
        }
        out.insert(name.to_string_lossy().into_owned(), modules);
    }
    assert!(out.len() >= 8, "the library crates: {:?}", out.keys());
    out
}

/// The modules `code` names through `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    code.match_indices("crate::")
        .filter(|(i, _)| {
            // `crate::x`, not `some_crate::x`.
            !code[..*i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, _)| {
            code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// A cycle through `from`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        let at = path.last().unwrap().clone();
        for next in graph.get(&at).into_iter().flatten() {
            if let Some(i) = path.iter().position(|p| p == next) {
                let mut found = path[i..].to_vec();
                found.push(next.clone());
                return Some(found);
            }
            if done.insert(next.clone()) {
                path.push(next.clone());
                if let Some(c) = walk(graph, path, done) {
                    return Some(c);
                }
                path.pop();
            }
        }
        None
    }
    walk(graph, &mut vec![from.to_owned()], &mut BTreeSet::new())
}

#[test]
fn no_module_cycles_in_a_library() {
    for (krate, modules) in libraries() {
        let graph: BTreeMap<String, BTreeSet<String>> = modules
            .iter()
            .filter(|(m, _)| m.as_str() != "lib")
            .map(|(m, code)| {
                let deps = uses(code)
                    .into_iter()
                    .filter(|d| d != m && d != "lib" && modules.contains_key(d))
                    .collect();
                (m.clone(), deps)
            })
            .collect();
        for m in graph.keys() {
            if let Some(c) = cycle(&graph, m) {
                panic!("crates/{krate}: modules in a cycle: {}", c.join(" -> "));
            }
        }
    }
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(cycle(&graph, "a").unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(
        uses("use crate::scan::Place; my_crate::no; crate::a"),
        BTreeSet::from(["scan".to_owned(), "a".to_owned()])
    );
}

#[test]
fn only_the_binary_builds_a_runtime() {
    for (krate, modules) in libraries() {
        for (m, code) in modules {
            for builder in ["Runtime::new", "runtime::Builder", "new_current_thread"] {
                assert!(
                    !code.contains(builder),
                    "crates/{krate}/src/{m}.rs builds a runtime ({builder})"
                );
            }
        }
    }
}

#[test]
fn no_public_function_returns_a_string_error() {
    for (krate, modules) in libraries() {
        for (m, code) in modules {
            for (i, _) in code
                .match_indices("pub fn ")
                .chain(code.match_indices("pub async fn "))
            {
                let signature = &code[i..code[i..].find(['{', ';']).map_or(code.len(), |e| i + e)];
                let flat: String = signature.split_whitespace().collect::<Vec<_>>().join(" ");
                let returns = flat.split("->").nth(1).unwrap_or_default().trim();
                // `Result<BTreeMap<String, String>>` is a map with the
                // crate's error; `Result<T, String>` is what is refused.
                assert!(
                    !(returns.contains("Result<") && returns.ends_with(", String>")),
                    "crates/{krate}/src/{m}.rs: {flat}"
                );
            }
        }
    }
}
