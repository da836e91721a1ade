//! The `api` object given to scripts: roles, claims and denial, recorded as effects.

use std::sync::{Arc, Mutex};

use rhai::{Dynamic, EvalAltResult};

use super::PROTECTED_CLAIMS;

/// What `api.deny` throws to unwind the script; `run` recognises it as a denial.
const DENY_MARKER: &str = "\u{0}portico-deny";

pub(super) type RhaiResult = Result<(), Box<EvalAltResult>>;

pub(super) fn rule_error(msg: String) -> Box<EvalAltResult> {
    msg.into()
}

#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) roles: Vec<String>,
    pub(super) access: serde_json::Map<String, serde_json::Value>,
    pub(super) id: serde_json::Map<String, serde_json::Value>,
    pub(super) denied: Option<String>,
}

/// The `api` object given to scripts. Cloning shares the effects.
#[derive(Clone)]
pub struct RuleApi(pub(super) Arc<Mutex<Effects>>);

impl RuleApi {
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut Effects) -> T) -> T {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub(super) fn add_role(api: &mut RuleApi, role: &str) -> RhaiResult {
        if !crate::domain::valid_role(role) {
            return Err(rule_error(format!("invalid role name \"{role}\"")));
        }
        api.with(|e| {
            if !e.roles.iter().any(|r| r == role) {
                e.roles.push(role.to_owned());
            }
        });
        Ok(())
    }

    pub(super) fn remove_role(api: &mut RuleApi, role: &str) -> RhaiResult {
        api.with(|e| e.roles.retain(|r| r != role));
        Ok(())
    }

    pub(super) fn claim(
        name: &str,
        value: Dynamic,
    ) -> Result<serde_json::Value, Box<EvalAltResult>> {
        if PROTECTED_CLAIMS.contains(&name) {
            return Err(rule_error(format!(
                "claim \"{name}\" is registered and cannot be set by a rule"
            )));
        }
        if name.is_empty() || name.len() > 128 {
            return Err(rule_error("claim names must be 1-128 characters".into()));
        }
        rhai::serde::from_dynamic::<serde_json::Value>(&value)
            .map_err(|e| rule_error(format!("claim \"{name}\": value cannot become JSON: {e}")))
    }

    pub(super) fn set_access_claim(api: &mut RuleApi, name: &str, value: Dynamic) -> RhaiResult {
        let v = Self::claim(name, value)?;
        api.with(|e| e.access.insert(name.to_owned(), v));
        Ok(())
    }

    pub(super) fn set_id_claim(api: &mut RuleApi, name: &str, value: Dynamic) -> RhaiResult {
        let v = Self::claim(name, value)?;
        api.with(|e| e.id.insert(name.to_owned(), v));
        Ok(())
    }

    pub(super) fn deny(api: &mut RuleApi, reason: &str) -> RhaiResult {
        let reason: String = reason.chars().take(200).collect();
        api.with(|e| e.denied = Some(reason));
        // Unwind the script at once; `run` recognises the marker as a denial.
        Err(rule_error(DENY_MARKER.into()))
    }
}
