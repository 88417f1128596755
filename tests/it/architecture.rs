//! The boundaries ARCHITECTURE.md states, checked on the source: the engine knows nothing
//! of HTTP or of the contract's codes, and the machine-code generator does not reach into
//! the interpreter.

use std::path::Path;

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("readable");
            out.push((path.display().to_string(), text));
        }
    }
    out
}

fn engine() -> Vec<(String, String)> {
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine"))
}

#[test]
fn the_engine_speaks_of_its_own_errors_not_of_the_contracts_codes() {
    // The contract's codes, as the committed OpenAPI document lists them.
    let doc = crate::openapi::document();
    let codes: Vec<&str> = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .expect("the Problem schema lists its codes")
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(codes.len() >= 14, "{codes:?}");
    for (path, text) in engine() {
        for code in &codes {
            assert!(
                !text.contains(&format!("\"{code}\"")),
                "{path} names the code {code}"
            );
        }
    }
}

#[test]
fn the_engine_knows_nothing_of_http_json_or_the_runtime() {
    for (path, text) in engine() {
        for krate in ["axum", "tokio", "hyper", "serde", "tower"] {
            assert!(
                !text.contains(&format!("use {krate}")) && !text.contains(&format!("{krate}::")),
                "{path} uses {krate}"
            );
        }
    }
}

#[test]
fn machine_code_and_the_tape_do_not_import_the_interpreter_or_each_other_in_a_cycle() {
    for (path, text) in engine() {
        if path.contains("/native/") {
            assert!(
                !text.contains("tape::eval"),
                "{path} imports the interpreter"
            );
        }
        if path.contains("/tape/") || path.contains("/op.rs") {
            assert!(!text.contains("native"), "{path} knows of machine code");
        }
    }
}
