//! The JWK Set (RFC 7517): public members only, served from prebuilt bytes.

use actix_web::{http::header, web, HttpResponse};

use crate::startup::AppState;

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        // Short enough that a rotated key reaches verifiers well before it signs.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.keys.current().jwks())
}
