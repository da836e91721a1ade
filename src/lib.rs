//! Portico: a self-hosted OpenID Connect / OAuth 2.0 authorization server.
//! One issuer, many branded login doors, one API that trusts them all.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod cors;
pub mod crypto;
pub mod deadline;
pub mod demo_api;
pub mod domain;
pub mod error;
pub mod login;
pub mod metrics;
pub mod oidc;
pub mod params;
pub mod playground;
pub mod rules;
pub mod secrets;
pub mod startup;
pub mod static_files;
pub mod store;
pub mod tokens;
