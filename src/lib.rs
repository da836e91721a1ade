//! Portico: a self-hosted OpenID Connect / OAuth 2.0 authorization server.
//! One issuer, many branded login doors, one API that trusts them all.
//! The layers, from the bottom: domain, store/tokens/rules/secrets, config, idp (the
//! protocol core, no HTTP), web (the shared HTTP edge), oidc/login/demo (endpoints),
//! state and startup. ARCHITECTURE.md has the map.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod idp;
pub mod login;
pub mod mail;
pub mod oidc;
pub mod rules;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod store;
pub mod tokens;
pub mod web;
