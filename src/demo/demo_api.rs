//! The sample "Orders API": a resource server that trusts Portico's access tokens through
//! `portico_verify`, to show one API serving every login door with role-based routes.
//!
//! Mount with `.configure(demo_api::configure)` (the server puts it under `/demo-api/`,
//! `examples/orders_api.rs` at the root) next to a `web::Data<portico_verify::Verifier>`.

use actix_web::{web, HttpResponse};
use portico_verify::{AuthError, Authenticated};
use serde_json::json;

/// Registers `GET /me`, `GET /partner/reports` and `GET /customer/orders`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me", web::get().to(me))
        .route("/partner/reports", web::get().to(partner_reports))
        .route("/customer/orders", web::get().to(customer_orders));
}

/// Any valid token: who the API thinks is calling.
async fn me(auth: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": auth.sub,
        "roles": auth.roles,
        "client_id": auth.client_id,
        "scope": auth.scope,
        "aud": auth.aud,
        "iss": auth.iss,
    }))
}

/// Partners only: sample sales figures.
async fn partner_reports(auth: Authenticated) -> Result<HttpResponse, AuthError> {
    auth.require_role("partner")?;
    Ok(HttpResponse::Ok().json(json!({
        "partner": auth.sub,
        "period": "2026-Q4",
        "reports": [
            { "id": "rep_1001", "title": "Orders by region", "orders": 1284, "revenue_eur": 48210.50 },
            { "id": "rep_1002", "title": "Returns", "orders": 37, "revenue_eur": -1190.00 },
            { "id": "rep_1003", "title": "Top products", "orders": 512, "revenue_eur": 20455.75 },
        ],
    })))
}

/// Customers only: the caller's sample orders.
async fn customer_orders(auth: Authenticated) -> Result<HttpResponse, AuthError> {
    auth.require_role("customer")?;
    Ok(HttpResponse::Ok().json(json!({
        "customer": auth.sub,
        "orders": [
            { "id": "ord_5001", "status": "delivered", "total_eur": 59.90, "items": 2 },
            { "id": "ord_5002", "status": "shipped", "total_eur": 129.00, "items": 1 },
            { "id": "ord_5003", "status": "processing", "total_eur": 18.45, "items": 3 },
        ],
    })))
}
