//! Operations endpoints served by every instance: `/health` (liveness, no I/O), `/ready` (database
//! and blob store answer) and `/metrics` (Prometheus), plus the middleware that feeds the metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::error::one_line;

/// A readiness check that takes longer than this counts as failed: a load balancer probing every
/// few seconds must not pile up waiting probes.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /health`: the process is up and serving HTTP.
pub async fn health() -> &'static str {
    "ok"
}

/// `GET /ready`: 200 `ready` when the database answers `SELECT 1` and the blob store answers a
/// cheap request; 503 with one line per failed dependency otherwise.
pub async fn ready(State(app): State<Arc<App>>) -> Response {
    let (db, blobs) = tokio::join!(
        tokio::time::timeout(READY_TIMEOUT, app.store.ping()),
        tokio::time::timeout(READY_TIMEOUT, app.blobs.ping()),
    );
    let mut failed = Vec::new();
    match db {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failed.push(format!("database: {}", one_line(&e))),
        Err(_) => failed.push(format!(
            "database: no answer within {}s",
            READY_TIMEOUT.as_secs()
        )),
    }
    match blobs {
        Ok(Ok(())) => {}
        Ok(Err(e)) => failed.push(format!("storage: {}", one_line(&e))),
        Err(_) => failed.push(format!(
            "storage: no answer within {}s",
            READY_TIMEOUT.as_secs()
        )),
    }
    if failed.is_empty() {
        "ready".into_response()
    } else {
        for f in &failed {
            tracing::warn!("not ready: {f}");
        }
        let mut body = failed.join("\n");
        body.push('\n');
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut text = app.metrics.render();
            crate::mirror::metrics::render_cache(&app.index_cache, &mut text);
            if let Some(m) = &app.mirror {
                m.metrics.render(&mut text);
            }
            text
        },
    )
        .into_response()
}

/// Counts every request by route template, method and status, and times publishes.
pub async fn track(
    State((app, route)): State<(Arc<App>, &'static str)>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    app.metrics.request_started();
    // If the client goes away the handler future is dropped: the guard still records it.
    let mut guard = Finish {
        app: &app,
        route,
        method,
        start,
        status: 499,
    };
    let resp = next.run(req).await;
    guard.status = resp.status().as_u16();
    drop(guard);
    resp
}

/// Records the request when dropped, so cancelled requests leave the in-flight gauge too.
struct Finish<'a> {
    app: &'a App,
    route: &'static str,
    method: String,
    start: Instant,
    status: u16,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.app.metrics.request_finished(
            self.route,
            &self.method,
            self.status,
            self.start.elapsed(),
        );
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::config::Config;

    /// One `GET` over a fresh connection; (status, body).
    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        let status = raw[9..12].parse().unwrap();
        let body = raw.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_ready_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.listen = "127.0.0.1:0".parse().unwrap();
        let server = crate::start(config).await.unwrap();
        let addr = server.addr;

        assert_eq!(get(addr, "/health").await, (200, "ok".to_owned()));
        assert_eq!(get(addr, "/ready").await, (200, "ready".to_owned()));
        assert_eq!(get(addr, "/index/3/f/foo").await.0, 404);
        assert_eq!(get(addr, "/no/such/route").await.0, 404);

        let (status, text) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        for line in [
            "gantry_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1",
            "gantry_http_requests_total{route=\"/ready\",method=\"GET\",status=\"200\"} 1",
            "gantry_http_requests_total{route=\"/index/{*path}\",method=\"GET\",status=\"404\"} 1",
            "gantry_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
            "gantry_publish_duration_seconds_count 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }

        // Losing the blob directory makes the instance unready, and the answer says why.
        std::fs::remove_dir_all(dir.path().join("data/blobs")).unwrap();
        let (status, body) = get(addr, "/ready").await;
        assert_eq!(status, 503);
        assert!(body.starts_with("storage: "), "{body}");
        assert!(!body.contains("database"), "{body}");
        server.stop().await.unwrap();
    }
}
