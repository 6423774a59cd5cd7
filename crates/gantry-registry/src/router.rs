//! The HTTP routes: every handler by path, each wrapped in the request timeout and the metrics
//! middleware.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, any, delete, get, put};
use tower_http::timeout::{TimeoutBody, TimeoutLayer};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::config::REQUEST_TIMEOUT_SECS;
use crate::{api, index, ops};

pub fn router(app: Arc<App>) -> Router {
    let r =
        |path: &'static str, methods: MethodRouter<Arc<App>>| (path, tracked(&app, path, methods));
    let routes = [
        r("/index/config.json", get(index::config_json)),
        r("/index/{*path}", get(index::index_file)),
        r("/api/v1/crates/new", put(api::publish)),
        r("/api/v1/crates", get(api::search)),
        r("/api/v1/crates/{name}/{version}/yank", delete(api::yank)),
        r("/api/v1/crates/{name}/{version}/unyank", put(api::unyank)),
        r(
            "/api/v1/crates/{name}/{version}/download",
            get(api::download),
        ),
        r(
            "/api/v1/crates/{name}/owners",
            get(api::owners_list)
                .put(api::owners_add)
                .delete(api::owners_remove),
        ),
        r("/me", get(api::me)),
        r("/health", get(ops::health)),
        r("/ready", get(ops::ready)),
        r("/metrics", get(ops::metrics)),
    ];
    let mut router = Router::new();
    for (path, methods) in routes {
        router = router.route(path, methods);
    }
    if app.mirror.is_some() {
        for (path, methods) in crate::mirror::handlers::routes() {
            router = router.route(path, tracked(&app, path, methods));
        }
    }
    router
        .fallback_service(
            tracked(
                &app,
                crate::metrics::UNMATCHED_ROUTE,
                any(|| async { StatusCode::NOT_FOUND }),
            )
            .with_state(app.clone()),
        )
        // Publish reads its body itself with its own limit; other JSON bodies are small.
        .layer(DefaultBodyLimit::max(64 * 1024))
        // A body that stops arriving ends its request (408) instead of holding it open.
        .layer(axum::middleware::map_request_with_state(
            app.config.limits.body_idle_timeout,
            body_idle_timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Makes a request body fail with [`tower_http::timeout::TimeoutError`] once no data arrived for
/// `limit` (`api::publish` answers that with 408).
async fn body_idle_timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: axum::extract::Request,
) -> axum::extract::Request {
    req.map(|body| axum::body::Body::new(TimeoutBody::new(limit, body)))
}

/// Wraps one route's handlers in the request timeout and, outside it, the metrics middleware,
/// which thereby knows the route template and also sees the timeout's 408.
fn tracked(
    app: &Arc<App>,
    route: &'static str,
    methods: MethodRouter<Arc<App>>,
) -> MethodRouter<Arc<App>> {
    methods
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(REQUEST_TIMEOUT_SECS),
        ))
        .layer(axum::middleware::from_fn_with_state(
            (app.clone(), route),
            ops::track,
        ))
}
