//! The checks of an authorization request, one per file, each citing its clause.

mod audience;
mod client;
mod lengths;
mod max_age;
mod pkce;
mod prompt;
mod redirect_uri;
mod repeated;
mod request_objects;
mod response_mode;
mod response_type;
mod scope;

pub use audience::{audience, target as target_audience};
pub use client::client;
pub use lengths::{extra, lengths};
pub use max_age::max_age;
pub use pkce::pkce;
pub use prompt::prompt;
pub use redirect_uri::redirect_uri;
pub use repeated::no_repeated_parameters;
pub use request_objects::no_request_objects;
pub use response_mode::response_mode;
pub use response_type::response_type;
pub use scope::scope;

/// A client and settings for the checks' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::config::{self, Settings};
    use crate::idp::params::Params;

    pub fn settings() -> Settings {
        config::parse(
            r#"
issuer = "https://id.test"
[[connection]]
name = "db"
[[api]]
audience = "https://api.test"
scopes = ["orders:read"]
[[api]]
audience = "https://admin.test"
scopes = ["admin:all"]
[[client]]
client_id = "web"
type = "public"
redirect_uris = ["https://app.test/cb"]
connection = "db"
audience = "https://api.test"
[[client]]
client_id = "conf"
type = "confidential"
client_secret = "0123456789abcdef0123"
redirect_uris = ["https://conf.test/cb"]
connection = "db"
"#,
            std::path::Path::new("t.toml"),
            &[],
        )
        .unwrap()
    }

    pub fn params(q: &str) -> Params {
        Params::parse(q.as_bytes()).unwrap()
    }
}
