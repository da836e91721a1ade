//! OpenID Provider Metadata (OIDC Discovery 1.0 3) and RFC 8414 metadata, built once.

use actix_web::{http::header, web, HttpResponse};
use serde_json::json;

use crate::config::{GrantType, Settings};
use crate::state::AppState;

/// The metadata document: every URL derived from the issuer, only what works advertised.
pub fn document(s: &Settings) -> bytes::Bytes {
    let i = &s.issuer;
    let mut grants: Vec<&str> = Vec::new();
    for g in [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ] {
        if s.clients.iter().any(|c| c.allows(g)) || g == GrantType::AuthorizationCode {
            grants.push(g.as_str());
        }
    }
    let doc = json!({
        "issuer": i.as_str(),
        "authorization_endpoint": i.join("/authorize"),
        "token_endpoint": i.join("/token"),
        "userinfo_endpoint": i.join("/userinfo"),
        "jwks_uri": i.join("/.well-known/jwks.json"),
        "revocation_endpoint": i.join("/revoke"),
        "introspection_endpoint": i.join("/introspect"),
        "end_session_endpoint": i.join("/logout"),
        "scopes_supported": s.supported_scopes(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [s.tokens.signing_alg.as_str()],
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
            "email", "email_verified", "roles", "client_id", "scope", "jti"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "access_token_signing_alg_values_supported": [s.tokens.signing_alg.as_str()],
    });
    serde_json::to_vec(&doc).unwrap_or_default().into()
}

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(bytes::Bytes::clone(&state.discovery.load()))
}
