//! The `prompt` parameter (OIDC Core 3.1.2.1).

use serde::{Deserialize, Serialize};

/// What the client allows the server to ask: `none` (no interaction at all) or `login`
/// (authenticate again even with a session).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
}

impl Prompt {
    /// A space-separated list; `none` stands alone. Other values (consent,
    /// select_account) are accepted and mean nothing here: every client is first-party.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let values: Vec<&str> = s.split(' ').filter(|v| !v.is_empty()).collect();
        let none = values.contains(&"none");
        if none && values.len() > 1 {
            return Err("prompt=none cannot be combined with other values");
        }
        Ok(Self {
            none,
            login: values.contains(&"login"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_stands_alone() {
        assert_eq!(Prompt::parse("").unwrap(), Prompt::default());
        assert!(Prompt::parse("none").unwrap().none);
        assert!(Prompt::parse("login consent").unwrap().login);
        assert!(Prompt::parse("none login").is_err());
    }
}
