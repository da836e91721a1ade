//! Newtypes that parse at the edge: once a value has one of these types it is valid.
//! One type per file; nothing here knows HTTP, the store or the configuration.

mod audience;
mod audit_kind;
mod claims;
mod email;
mod ids;
mod ip;
mod issuer;
mod password;
mod password_policy;
mod pkce;
mod prompt;
mod redirect_uri;
mod role;
mod scope;
mod signing_alg;

pub use audience::{resolve_audience, AudienceError};
pub use audit_kind::AuditKind;
pub use claims::{AccessClaims, IdClaims};
pub use email::{is_hidden_char, Email};
pub use ids::{ClientId, ConnectionName};
pub use ip::normalise_ip;
pub use issuer::{is_loopback_url, Issuer};
pub use password::Password;
pub use password_policy::{
    normalize as normalize_password, PasswordPolicy, PasswordProblem, MAX_PASSWORD_BYTES,
};
pub use pkce::{CodeChallenge, CodeVerifier};
pub use prompt::Prompt;
pub use redirect_uri::{append_params, RedirectUri};
pub use role::valid_role;
pub use scope::{Scopes, OIDC_SCOPES};
pub use signing_alg::SigningAlg;

/// A string newtype with `as_str`, `Display`, `AsRef<str>` and transparent serde.
macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use string_newtype;
