//! `[[api]]`: the resource servers and their scopes.

use serde::Deserialize;

use super::checker::Checker;
use super::Api;
use crate::domain::OIDC_SCOPES;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApi {
    audience: String,
    name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table) -> Vec<Api> {
    let mut apis: Vec<Api> = Vec::new();
    for (label, ra) in c.entries::<RawApi>(root, "api", "audience", &[]) {
        if ra.audience.trim().is_empty() || ra.audience.contains(char::is_whitespace) {
            c.add(&label, "audience must be a non-empty string without spaces");
            continue;
        }
        if apis.iter().any(|a| a.audience == ra.audience) {
            c.add(
                &label,
                format!("duplicate api audience \"{}\"", ra.audience),
            );
            continue;
        }
        for s in &ra.scopes {
            if s.is_empty()
                || s.contains(char::is_whitespace)
                || s.contains('"')
                || s.contains('\\')
            {
                c.add(
                    &label,
                    format!("scope \"{s}\" must be a non-empty token without spaces"),
                );
            }
            if OIDC_SCOPES.contains(&s.as_str()) {
                c.add(
                    &label,
                    format!("scope \"{s}\" is reserved by OpenID Connect"),
                );
            }
        }
        apis.push(Api {
            name: ra.name.unwrap_or_else(|| ra.audience.clone()),
            audience: ra.audience,
            scopes: ra.scopes,
        });
    }

    apis
}
