//! The JWK Set (RFC 7517): public members only, served from prebuilt bytes.

use actix_web::{http::header, web, HttpResponse};

use crate::state::AppState;

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        // A rotated key is published tokens::PUBLISH_AHEAD (7 min) before it signs: longer
        // than this cache, so verifiers know it when the first token signed with it arrives.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.idp.keys.current().jwks())
}
