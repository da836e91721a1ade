//! Role names as stored on users and put in the `roles` claim.

/// 1-64 letters, digits or `-_.:/`.
pub fn valid_role(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_plain_names() {
        assert!(valid_role("partner") && valid_role("org:acme/admin"));
        assert!(!valid_role("has space") && !valid_role(""));
    }
}
