//! The OpenID Connect and OAuth 2.0 endpoints, one module per endpoint.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod introspect;
pub mod jwks;
pub mod logout;
pub mod revoke;
pub mod token;
pub mod userinfo;
