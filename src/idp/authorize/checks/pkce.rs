use crate::config::Client;
use crate::domain::CodeChallenge;
use crate::idp::params::Params;
use crate::idp::OAuthError;

/// RFC 7636 4.3 and RFC 9700 2.1.1: S256 only (`plain` refused); required of public
/// clients, accepted from confidential ones.
pub fn pkce(client: &Client, p: &Params) -> Result<Option<CodeChallenge>, OAuthError> {
    let challenge = p.one("code_challenge")?;
    let method = p.one("code_challenge_method")?;
    match (challenge, method) {
        (None, None) if client.is_public() => Err(OAuthError::invalid_request(
            "code_challenge (PKCE, S256) is required for public clients",
        )),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        // RFC 7636 4.3: a missing method means plain, which we refuse.
        (Some(_), None) | (Some(_), Some("plain")) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256 (plain is not allowed)",
        )),
        (Some(c), Some("S256")) => CodeChallenge::parse_s256(c)
            .map(Some)
            .map_err(OAuthError::invalid_request),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "code_challenge_method must be S256",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::{params, settings};

    const C: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn public_clients_need_s256_and_plain_is_refused() {
        let s = settings();
        let (web, conf) = (s.client("web").unwrap(), s.client("conf").unwrap());
        let ok = format!("code_challenge={C}&code_challenge_method=S256");
        assert!(pkce(web, &params(&ok)).unwrap().is_some());
        assert!(pkce(web, &params("")).is_err());
        assert!(pkce(conf, &params("")).unwrap().is_none());
        for bad in [
            format!("code_challenge={C}&code_challenge_method=plain"),
            format!("code_challenge={C}"),
            "code_challenge_method=S256".to_owned(),
            "code_challenge=short&code_challenge_method=S256".to_owned(),
        ] {
            assert!(pkce(web, &params(&bad)).is_err(), "{bad}");
        }
    }
}
