//! Prometheus metrics: requests and latency per route, plus process memory and CPU.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::crypto::{ct_eq, sha256};
use crate::state::AppState;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// SQLite's write queue depth, read from the writer at scrape time.
    write_queue: IntGauge,
    writer: Option<std::sync::Arc<crate::store::writer::WriterStats>>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "portico_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "portico_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        let _ = registry.register(Box::new(requests.clone()));
        let _ = registry.register(Box::new(latency.clone()));
        #[cfg(target_os = "linux")]
        let _ = registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        let write_queue = IntGauge::new(
            "portico_sqlite_write_queue",
            "SQLite writes waiting for the writer",
        )
        .unwrap_or_else(|_| unreachable!("static metric definition"));
        Self {
            registry,
            requests,
            latency,
            write_queue,
            writer: None,
        }
    }

    /// Export the SQLite writer's queue depth, batch sizes and commit latency.
    pub fn with_writer(
        mut self,
        stats: Option<std::sync::Arc<crate::store::writer::WriterStats>>,
    ) -> Self {
        if let Some(w) = &stats {
            let _ = self.registry.register(Box::new(self.write_queue.clone()));
            let _ = self.registry.register(Box::new(w.batch_sizes.clone()));
            let _ = self.registry.register(Box::new(w.commit_seconds.clone()));
        }
        self.writer = stats;
        self
    }

    pub fn render(&self) -> Vec<u8> {
        if let Some(w) = &self.writer {
            let queued = w.queued.load(std::sync::atomic::Ordering::Relaxed);
            self.write_queue
                .set(i64::try_from(queued).unwrap_or(i64::MAX));
        }
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: count and time every request under its route pattern (not its raw path,
/// so label cardinality stays bounded).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    // Any token parses as a method: a fixed set of labels keeps the series bounded.
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        _ => "other",
    };
    let res = next.call(req).await?;
    let elapsed = start.elapsed();
    tracing::debug!(
        target: "portico::access",
        method,
        route = %route,
        status = res.status().as_u16(),
        ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[route.as_str(), method, res.status().as_str()])
            .inc();
        m.latency
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    Ok(res)
}

/// `/metrics`, behind `[metrics] bearer_token_sha256` when it is set (review I1: the
/// failure rates it shows help an attacker tune a spray).
pub async fn endpoint(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    state: web::Data<AppState>,
) -> HttpResponse {
    if let Some(digest) = &state.idp.settings().metrics.bearer_token_sha256 {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let ok = presented.is_some_and(|t| ct_eq(&sha256(t.as_bytes()), &digest.0));
        if !ok {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
                .content_type("text/plain")
                .body("a bearer token is required");
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}

/// `/metrics` alone on another address (an internal network, a sidecar's loopback).
pub fn serve_separately(
    addr: &str,
    metrics: web::Data<Metrics>,
    state: web::Data<AppState>,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(metrics.clone())
            .app_data(state.clone())
            .route("/metrics", web::get().to(endpoint))
    })
    .workers(1)
    .bind(addr)?
    .shutdown_timeout(1)
    .run())
}
