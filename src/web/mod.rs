//! The shared HTTP edge: page rendering and its error type, OAuth errors as JSON, cookies
//! and the client address, redirects, security headers, CORS, metrics, static files and
//! the body deadline. Endpoint folders (oidc/, login/, demo/) build on this; this never
//! imports them.

pub mod cookies;
pub mod cors;
pub mod deadline;
pub mod headers;
pub mod metrics;
pub mod oauth;
pub mod page;
pub mod redirect;
pub mod static_files;
