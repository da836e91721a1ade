//! portico-verify: the resource-server side of Portico. An API uses it to accept access
//! tokens (RFC 9068 JWTs) from one or more trusted OpenID Connect issuers without any of
//! the authorization-server code: discovery and JWKS cache, signature and claim checks,
//! and an actix-web extractor with scope and role guards.
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use portico_verify::{AuthError, Authenticated, Verifier};
//!
//! async fn orders(auth: Authenticated) -> Result<HttpResponse, AuthError> {
//!     auth.require_scope("orders:read")?;
//!     Ok(HttpResponse::Ok().json(serde_json::json!({ "for": auth.sub })))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let verifier = Verifier::builder()
//!     .issuer("http://127.0.0.1:8080", "https://api.example.com")
//!     .build()
//!     .map_err(std::io::Error::other)?;
//! let verifier = web::Data::new(verifier);
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(verifier.clone())
//!         .route("/orders", web::get().to(orders))
//! })
//! .bind("127.0.0.1:8081")?
//! .run()
//! .await
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithm;
mod claims;
mod error;
mod extract;
mod jwks;
mod verifier;

pub use algorithm::Algorithm;
pub use claims::Claims;
pub use error::{BuildError, DiscoveryError, VerifyError};
pub use extract::{AuthError, Authenticated};
pub use verifier::{Verifier, VerifierBuilder};
