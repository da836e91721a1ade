//! Integration tests: the real server on a random port, a real SQLite file, a real OIDC
//! client library as the relying party and headless Chromium for the pages. One file
//! per subject; `helpers` holds the one way to start a server (`TestApp::builder()`).

mod helpers;

mod abuse;
mod admin;
mod authorize;
mod browser;
mod config;
mod discovery;
mod durability;
mod edge;
mod housekeeping;
mod invitations;
mod login;
mod logout;
mod mail;
mod mail_browser;
mod operations;
mod playground;
mod reload;
mod replicas;
mod rules;
mod smtp;
mod tokens;
mod upstream;
