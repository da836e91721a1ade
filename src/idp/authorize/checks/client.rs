use crate::config::{Client, GrantType, Settings};
use crate::idp::authorize::Rejection;
use crate::idp::params::Params;

/// RFC 6749 4.1.2.1: a missing or unknown client_id is shown, not redirected.
pub fn client<'a>(s: &'a Settings, p: &Params) -> Result<&'a Client, Rejection> {
    let id = p
        .one("client_id")
        .map_err(|_| Rejection::Page("The client_id parameter is repeated."))?
        .ok_or(Rejection::Page("The request has no client_id."))?;
    let client = s
        .client(id)
        .ok_or(Rejection::Page("This application is not registered."))?;
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(Rejection::Page("This application cannot sign users in."));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idp::authorize::checks::fixture::{params, settings};

    #[test]
    fn unknown_missing_or_repeated_clients_get_a_page() {
        let s = settings();
        assert!(client(&s, &params("client_id=web")).is_ok());
        for q in ["client_id=nope", "", "client_id=web&client_id=conf"] {
            assert!(
                matches!(client(&s, &params(q)), Err(Rejection::Page(_))),
                "{q}"
            );
        }
    }
}
