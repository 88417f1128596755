//! The examples of the API reference (`docs/api.md`) and of the README are real: each
//! `curl … -d '…'` shown is sent to the service, and its answer must be the one shown.

use nabla::config::Config;
use serde_json::Value;

use crate::http::{router, send};

/// The examples of `text`: (path, body, the answer shown).
fn examples(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("$ curl -s") else {
            continue;
        };
        let Some(at) = rest.find("localhost:8080") else {
            continue;
        };
        let path: String = rest[at + "localhost:8080".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let Some(body_at) = rest.find(" -d '") else {
            continue;
        };
        let body = rest[body_at + 5..]
            .trim_end()
            .trim_end_matches('\'')
            .to_string();
        // The answer: the first JSON line after the command (headers come before it).
        let answer = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
            .find(|l| l.starts_with('{'))
            .map(|l| l.to_string());
        if let Some(answer) = answer {
            out.push((path, body, answer));
        }
    }
    out
}

async fn check(file: &str) {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .expect("readable");
    let examples = examples(&text);
    assert!(!examples.is_empty(), "{file} has no examples");
    for (path, body, shown) in examples {
        // A fresh service for each, as a reader's first request would meet it.
        let app = router(Config::default());
        let reply = send(&app, "POST", &path, Some("application/json"), body.clone()).await;
        let shown: Value =
            serde_json::from_str(&shown).unwrap_or_else(|e| panic!("{file}: {shown}: {e}"));
        assert_eq!(reply.body, shown, "{file}: POST {path} {body}");
    }
}

#[tokio::test]
async fn the_api_references_examples_are_what_the_service_answers() {
    check("docs/api.md").await;
}

#[tokio::test]
async fn the_readmes_examples_are_what_the_service_answers() {
    check("README.md").await;
}
