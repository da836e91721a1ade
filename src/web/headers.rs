//! Security headers on every response: no framing, no sniffing, no referrer, no caching,
//! and a Content-Security-Policy without inline script or style (HSTS on https).

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

/// No inline script or style anywhere; nothing may frame the pages.
pub const CSP: &str = "default-src 'none'; style-src 'self' https:; img-src 'self' https: data:; \
                       font-src 'self' https:; frame-ancestors 'none'; base-uri 'none'";

pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::CACHE_CONTROL, "no-store"));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"))
    } else {
        headers
    }
}
