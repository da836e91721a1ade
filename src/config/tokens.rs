//! `[tokens]`: the signing algorithm and every lifetime.

use serde::Deserialize;

use super::checker::Checker;
use super::{TokenSettings, MAX_TTL};
use crate::domain::SigningAlg;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTokens {
    signing_alg: Option<String>,
    access_token_ttl_secs: Option<i64>,
    id_token_ttl_secs: Option<i64>,
    refresh_token_ttl_secs: Option<i64>,
    code_ttl_secs: Option<i64>,
    max_refresh_families: Option<i64>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> TokenSettings {
    let raw_tokens: RawTokens = c.section(root, "tokens");
    let signing_alg = match raw_tokens.signing_alg.as_deref() {
        None => SigningAlg::Es256,
        Some(s) => SigningAlg::parse(s).unwrap_or_else(|| {
            c.add(
                "tokens",
                format!("signing_alg \"{s}\" is not one of ES256, RS256, EdDSA"),
            );
            SigningAlg::Es256
        }),
    };
    let mut ttl = |key: &str, v: Option<i64>, default: i64| {
        let v = v.unwrap_or(default);
        if v <= 0 || v > MAX_TTL {
            c.add(
                "tokens",
                format!("{key} must be between 1 and {MAX_TTL} seconds (10 years)"),
            );
            return default;
        }
        v
    };
    let tokens = TokenSettings {
        signing_alg,
        access_token_ttl: ttl(
            "access_token_ttl_secs",
            raw_tokens.access_token_ttl_secs,
            900,
        ),
        id_token_ttl: ttl("id_token_ttl_secs", raw_tokens.id_token_ttl_secs, 3600),
        refresh_token_ttl: ttl(
            "refresh_token_ttl_secs",
            raw_tokens.refresh_token_ttl_secs,
            2_592_000,
        ),
        code_ttl: ttl("code_ttl_secs", raw_tokens.code_ttl_secs, 60),
        max_refresh_families: raw_tokens.max_refresh_families.unwrap_or(20),
    };
    if !(1..=1_000_000).contains(&tokens.max_refresh_families) {
        c.add(
            "tokens",
            "max_refresh_families must be between 1 and 1000000",
        );
    }
    if tokens.code_ttl > 600 {
        c.add(
            "tokens",
            "code_ttl_secs must be at most 600 (RFC 6749 4.1.2)",
        );
    }

    tokens
}
