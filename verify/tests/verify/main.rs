//! Integration tests of portico-verify against a fake issuer served on 127.0.0.1.

mod checks;
mod extractor;
mod multi_issuer;
mod rotation;
mod support;
