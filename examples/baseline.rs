//! The load benchmark's baseline: a minimal axum server doing the same JSON round trip as
//! nabla's `/v1/gradient` for the sheet's 4a, with the gradient written by hand. Run it
//! with `cargo run --release --example baseline -- 127.0.0.1:18081`.

use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize)]
struct Req {
    #[allow(dead_code)]
    expression: String,
    variables: Vec<String>,
    point: Map<String, Value>,
}

async fn gradient(Json(req): Json<Req>) -> Json<Value> {
    let get = |k: &str| req.point.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let (x, y, z) = (get("x"), get("y"), get("z"));
    let y3 = y * y * y;
    let u = x * x * y3 * z;
    let s = 1.0 / (1.0 + (-u).exp());
    let value = 0.5 * x * x + y * z
        - if u > 0.0 {
            u + (-u).exp().ln_1p()
        } else {
            u.exp().ln_1p()
        };
    Json(json!({
        "variables": req.variables,
        "value": value,
        "gradient": {"x": x - 2.0 * x * y3 * z * s, "y": z - 3.0 * x * x * y * y * z * s, "z": y - x * x * y3 * s},
    }))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(
        listener,
        Router::new().route("/v1/gradient", post(gradient)),
    )
    .await
}
