//! The OpenAPI document under api/ is what the server serves, lists exactly the router's
//! operations, and its request examples succeed.

use nabla::config::Config;
use nabla::http::ROUTES;
use serde_json::Value;

use crate::http::{router, send};

pub fn document() -> Value {
    serde_json::from_str(include_str!("../../api/openapi.json")).expect("api/openapi.json is JSON")
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = router(Config::default());
    let r = send(&app, "GET", "/openapi.json", None, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, document());
    assert_eq!(document()["openapi"], "3.1.0");
}

#[tokio::test]
async fn document_and_router_list_the_same_operations() {
    let doc = document();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut routed: Vec<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routed.sort();
    assert_eq!(documented, routed);
    // And the router really has each one: not 404, not 405.
    let app = router(Config::default());
    for (method, path) in &routed {
        let r = send(&app, method, path, Some("application/json"), "{}").await;
        assert!(
            r.status != 404 && r.status != 405,
            "{method} {path}: {}",
            r.status
        );
    }
}

#[tokio::test]
async fn every_request_example_succeeds() {
    let doc = document();
    let app = router(Config::default());
    let mut count = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let examples = &op["requestBody"]["content"]["application/json"]["examples"];
            for (name, ex) in examples.as_object().into_iter().flatten() {
                let r = send(
                    &app,
                    &method.to_uppercase(),
                    path,
                    Some("application/json"),
                    ex["value"].to_string(),
                )
                .await;
                assert_eq!(r.status, 200, "{path} example {name}: {}", r.body);
                count += 1;
            }
        }
    }
    assert!(count >= 6, "{count} examples");
}
