//! Counting and logging every request: a tower layer written out, not `from_fn`, because
//! it is on every request's path and `from_fn` clones the inner service and boxes a
//! future per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use tower::{Layer, Service};

use super::{AppState, ROUTES};

/// The layer: wraps each route in [`Recorded`].
#[derive(Clone)]
pub struct RecordLayer(pub AppState);

impl<S> Layer<S> for RecordLayer {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            state: self.0.clone(),
        }
    }
}

/// A route whose requests are counted in the metrics and logged.
#[derive(Clone)]
pub struct Recorded<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Recorded<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The route's pattern as one of ROUTES' static strings: labels without allocating,
        // and no label per unknown path a client invents.
        let matched = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        let route = ROUTES
            .iter()
            .position(|(_, p)| Some(*p) == matched)
            .unwrap_or(ROUTES.len());
        // The method and path are copied only when a line will be logged.
        let logged =
            tracing::enabled!(tracing::Level::INFO) || tracing::enabled!(tracing::Level::ERROR);
        let line = logged.then(|| (req.method().clone(), req.uri().path().to_owned()));
        RecordFuture {
            inner: self.inner.call(req),
            state: Some(self.state.clone()),
            route,
            line,
            start: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner route's future, and what recording its answer needs.
    pub struct RecordFuture<F> {
        #[pin]
        inner: F,
        state: Option<AppState>,
        route: usize,
        line: Option<(Method, String)>,
        start: Instant,
    }
}

impl<F, E> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some(state)) = (&result, this.state.take()) {
            let status = response.status().as_u16();
            let elapsed = this.start.elapsed();
            state.metrics.record_request(*this.route, status, elapsed);
            if let Some((method, path)) = this.line.take() {
                let micros = elapsed.as_micros() as u64;
                if status >= 500 {
                    tracing::error!(%method, %path, status, micros, "request");
                } else {
                    tracing::info!(%method, %path, status, micros, "request");
                }
            }
        }
        Poll::Ready(result)
    }
}
