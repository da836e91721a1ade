//! Integration tests: the real server on a random port, a real SQLite file, a real OIDC
//! client library as the relying party and headless Chromium for the pages.

mod helpers;

mod abuse;
mod browser;
mod config;
mod discovery;
mod durability;
mod login;
mod operations;
mod playground;
mod rules;
mod tokens;
