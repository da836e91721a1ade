//! The typed claims of a verified access token (RFC 9068 section 2.2) and the
//! authorization guards over them (`require_scope`, `require_role`).
//!
//! A [`Claims`] value only ever comes out of [`crate::Verifier::verify`], so holding one
//! means the signature, issuer, audience and lifetime were checked.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::extract::AuthError;

/// The claims of a verified access token.
///
/// Registered and Portico claims are typed fields; everything else (custom claims added
/// by rules, `acr`, `amr`, ...) is kept in [`Claims::extra`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    /// Issuer: the configured issuer whose key verified the token.
    pub iss: String,
    /// Subject: the user (`usr_...`) or, for client credentials, the client.
    pub sub: String,
    /// Audiences; always contains the audience this verifier expects.
    pub aud: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Not before, seconds since the Unix epoch, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// When the user authenticated, when present (RFC 9068 section 2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Token identifier, for audit logs and replay bookkeeping.
    pub jti: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes (RFC 9068 section 2.2.3), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Roles (RFC 9068 section 2.2.3.1 / RFC 7643); empty when the claim is absent.
    pub roles: Vec<String>,
    /// Every other claim, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    /// Splits a verified payload into typed claims. Missing or mistyped required claims
    /// are refused rather than defaulted: an access token without `sub` or `client_id`
    /// is not one (RFC 9068 section 2.2).
    pub(crate) fn from_payload(mut map: Map<String, Value>) -> Result<Claims, VerifyError> {
        let iss = take_string(&mut map, "iss")?;
        let sub = take_string(&mut map, "sub")?;
        let aud = match map.remove("aud") {
            Some(Value::String(one)) => vec![one],
            Some(Value::Array(values)) => values
                .into_iter()
                .map(|value| match value {
                    Value::String(one) => Ok(one),
                    _ => Err(VerifyError::InvalidClaim("aud")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(VerifyError::InvalidClaim("aud")),
        };
        let exp = take_numeric_date(&mut map, "exp")?.ok_or(VerifyError::InvalidClaim("exp"))?;
        let iat = take_numeric_date(&mut map, "iat")?.ok_or(VerifyError::InvalidClaim("iat"))?;
        let nbf = take_numeric_date(&mut map, "nbf")?;
        let auth_time = take_numeric_date(&mut map, "auth_time")?;
        let jti = take_string(&mut map, "jti")?;
        let client_id = take_string(&mut map, "client_id")?;
        let scope = match map.remove("scope") {
            None | Some(Value::Null) => None,
            Some(Value::String(scope)) => Some(scope),
            Some(_) => return Err(VerifyError::InvalidClaim("scope")),
        };
        let roles = match map.remove("roles") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(values)) => values
                .into_iter()
                .map(|value| match value {
                    Value::String(role) => Ok(role),
                    _ => Err(VerifyError::InvalidClaim("roles")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(VerifyError::InvalidClaim("roles")),
        };
        Ok(Claims {
            iss,
            sub,
            aud,
            exp,
            iat,
            nbf,
            auth_time,
            jti,
            client_id,
            scope,
            roles,
            extra: map,
        })
    }

    /// The granted scopes, in token order.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split_ascii_whitespace()
    }

    /// Whether `scope` was granted (exact, case-sensitive match: RFC 6749 section 3.3).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|granted| granted == scope)
    }

    /// Whether the token carries `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    /// Whether the token was issued for this audience.
    pub fn has_audience(&self, audience: &str) -> bool {
        self.aud.iter().any(|aud| aud == audience)
    }

    /// A claim not among the typed fields, e.g. a custom claim added by a rule.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// Guard: `Err` renders as 403 with
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`
    /// (RFC 6750 section 3.1), so `claims.require_scope("orders:read")?` in a handler
    /// returning `Result<_, AuthError>` is the whole check.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope {
                required: scope.to_owned(),
            })
        }
    }

    /// Guard: `Err` renders as 403 with `{"error":"insufficient_role",...}`.
    pub fn require_role(&self, role: &str) -> Result<(), AuthError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(AuthError::InsufficientRole {
                required: role.to_owned(),
            })
        }
    }
}

fn take_string(map: &mut Map<String, Value>, name: &'static str) -> Result<String, VerifyError> {
    match map.remove(name) {
        Some(Value::String(value)) => Ok(value),
        _ => Err(VerifyError::InvalidClaim(name)),
    }
}

/// NumericDate is "a JSON numeric value" and may have a fraction (RFC 7519 section 2);
/// fractions are dropped, and out-of-range values saturate rather than wrap.
fn take_numeric_date(
    map: &mut Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, VerifyError> {
    match map.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            if let Some(seconds) = number.as_i64() {
                Ok(Some(seconds))
            } else if let Some(seconds) = number.as_f64().filter(|s| s.is_finite()) {
                // `as` saturates for floats, which is the intent for absurd dates.
                Ok(Some(seconds.floor() as i64))
            } else {
                Err(VerifyError::InvalidClaim(name))
            }
        }
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}
