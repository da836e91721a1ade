//! Identifiers chosen by operators: client ids and connection names.

use super::string_newtype;

/// Letters, digits, `-`, `_`, `.` and `:`: safe in logs, URLs and templates.
fn is_identifier(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

string_newtype!(
    /// A registered client's identifier.
    ClientId
);
string_newtype!(
    /// The name of a user store.
    ConnectionName
);

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_identifier(s, 128) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be 1-128 characters of letters, digits, '-', '_', '.' or ':'".into())
        }
    }
}

impl ConnectionName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if is_identifier(s, 64) {
            Ok(Self(s.to_owned()))
        } else {
            Err("must be 1-64 characters of letters, digits, '-', '_', '.' or ':'".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_and_bounded() {
        assert!(ClientId::parse("customers-web").is_ok());
        assert!(ClientId::parse("a b").is_err());
        assert!(ClientId::parse("").is_err());
        assert!(ConnectionName::parse(&"x".repeat(65)).is_err());
        assert!(ConnectionName::parse("partners-db").is_ok());
    }
}
