//! Which API a token is for (RFC 8707 2): shared by /authorize and /token.

/// Why a requested audience is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceError {
    /// `resource` and `audience` both given, naming different APIs.
    Conflicting,
    /// Not a configured API.
    Unknown,
    /// A configured API this client may not ask for (its `apis`).
    NotAllowed,
}

impl AudienceError {
    pub fn description(self) -> &'static str {
        match self {
            Self::Conflicting => "resource and audience name different APIs",
            Self::Unknown => "the requested resource is not a known API",
            Self::NotAllowed => "this client may not get tokens for the requested resource",
        }
    }
}

/// `resource` (RFC 8707) or Auth0-style `audience`; without either the client's default.
/// `known`: is this a configured API; `allowed`: the client's `apis`.
pub fn resolve_audience(
    resource: Option<&str>,
    audience: Option<&str>,
    default: Option<&str>,
    allowed: &[String],
    known: impl Fn(&str) -> bool,
) -> Result<Option<String>, AudienceError> {
    let wanted = match (resource, audience) {
        (Some(r), Some(a)) if r != a => return Err(AudienceError::Conflicting),
        (Some(r), _) => Some(r),
        (None, a) => a,
    };
    match wanted {
        None => Ok(default.map(str::to_owned)),
        Some(a) if !known(a) => Err(AudienceError::Unknown),
        Some(a) if allowed.iter().any(|x| x == a) => Ok(Some(a.to_owned())),
        Some(_) => Err(AudienceError::NotAllowed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_asked_for_or_the_default_and_always_allowed() {
        let allowed = vec!["https://a".to_owned()];
        let known = |a: &str| a == "https://a" || a == "https://b";
        let r = |res, aud| resolve_audience(res, aud, Some("https://a"), &allowed, known);
        assert_eq!(r(None, None), Ok(Some("https://a".into())));
        assert_eq!(r(Some("https://a"), None), Ok(Some("https://a".into())));
        assert_eq!(r(None, Some("https://a")), Ok(Some("https://a".into())));
        assert_eq!(r(Some("https://b"), None), Err(AudienceError::NotAllowed));
        assert_eq!(r(Some("https://c"), None), Err(AudienceError::Unknown));
        assert_eq!(
            r(Some("https://a"), Some("https://b")),
            Err(AudienceError::Conflicting)
        );
    }
}
