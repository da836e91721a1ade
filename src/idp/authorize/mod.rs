//! The authorization endpoint's decisions (RFC 6749 3.1, 4.1.1; OIDC Core 3.1.2). The
//! request goes through a list of small named checks (`checks/`, one file each), then an
//! existing session of the client's connection completes it, `prompt=none` refuses it,
//! or it is parked for the hosted page. The client and redirect_uri are established
//! first: until both are trusted an error is shown on a page, never redirected
//! (RFC 6749 4.1.2.1).

mod checks;

use std::net::IpAddr;

use super::account::verification;
use super::auth_request::{error_location, AuthRequest};
pub use checks::target_audience;

use super::login::{self, AcceptedInvitation, Completion, LoginOutcome, SessionChange};
use super::params::Params;
use super::{transaction, ErrorCode, Idp, OAuthError, Refusal};
use crate::config::Settings;
use crate::domain::ClientId;
use crate::store;

/// Why a request is refused, and how the refusal reaches the user.
#[derive(Debug)]
pub enum Rejection {
    /// Client or redirect_uri not trusted: an error page (HTTP 400), never a redirect.
    Page(&'static str),
    /// Back to the client's (trusted) redirect_uri, with the error (RFC 6749 4.1.2.1).
    Redirect(String),
}

/// Run every check in order.
pub fn validate(s: &Settings, p: &Params) -> Result<AuthRequest, Rejection> {
    let client = checks::client(s, p)?;
    let redirect_uri = checks::redirect_uri(client, p)?;
    // From here on the redirect_uri is trusted: errors go back to it with the state.
    let state = p
        .one("state")
        .ok()
        .flatten()
        .map(|v| v.chars().take(2048).collect::<String>());
    let back =
        |e: OAuthError| Rejection::Redirect(error_location(s, &redirect_uri, state.as_deref(), &e));
    checks::no_repeated_parameters(p).map_err(back)?;
    checks::response_type(p).map_err(back)?;
    checks::response_mode(p).map_err(back)?;
    checks::no_request_objects(p).map_err(back)?;
    checks::lengths(p).map_err(back)?;
    let code_challenge = checks::pkce(client, p).map_err(back)?;
    let audience = checks::audience(s, client, p).map_err(back)?;
    let scope = checks::scope(s, p, audience.as_deref()).map_err(back)?;
    let prompt = checks::prompt(p).map_err(back)?;
    let max_age = checks::max_age(p).map_err(back)?;
    let one = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        nonce: one("nonce"),
        scope,
        code_challenge,
        audience,
        prompt,
        max_age,
        login_hint: one("login_hint"),
        screen_hint_signup: one("screen_hint").as_deref() == Some("signup"),
        extra: checks::extra(p),
    })
}

/// The browser that asked: its server-minted id, the hash of its SSO session cookie for
/// the client's connection (if it sent one), and its address.
pub struct Browser<'a> {
    pub id: &'a str,
    pub session: Option<String>,
    pub ip: Option<IpAddr>,
}

/// The SSO budget's key for a session: the first half of its (hex SHA-256) hash.
fn session_key(hash: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (k, b) in key.iter_mut().zip(hash.as_bytes()) {
        *k = *b;
    }
    key
}

/// The roles an invitation gave (empty if it is gone).
async fn invitation_roles(idp: &Idp, id: &str) -> Vec<String> {
    let id = id.to_owned();
    idp.store
        .read(move |db| store::invitations::get(db, &id))
        .await
        .ok()
        .flatten()
        .map(|i| i.roles)
        .unwrap_or_default()
}

/// The live session with this hash in `connection`, and its user.
async fn session_user(
    idp: &Idp,
    hash: String,
    connection: String,
    now: i64,
) -> Result<Option<(store::sessions::Session, store::users::User)>, store::StoreError> {
    idp.store
        .read(move |db| {
            let Some(sess) = store::sessions::get(db, &hash, &connection, now)? else {
                return Ok(None);
            };
            Ok(store::users::get(db, &sess.user_id)?.map(|u| (sess, u)))
        })
        .await
}

/// What /authorize answers.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// An error page: the message, in the client's brand when it is known.
    Page {
        message: &'static str,
        client: Option<ClientId>,
    },
    /// To the client: a code (single sign-on) or an error.
    Redirect(String),
    /// To the hosted login (or sign-up) page of the parked transaction.
    Login(String),
    /// The store failed, or the login was already completed.
    Failed(Refusal),
}

pub async fn authorize(idp: &Idp, p: &Params, browser: Browser<'_>, now: i64) -> AuthorizeOutcome {
    let s = &idp.settings();
    let auth = match validate(s, p) {
        Ok(a) => a,
        Err(Rejection::Page(message)) => {
            return AuthorizeOutcome::Page {
                message,
                client: None,
            }
        }
        Err(Rejection::Redirect(to)) => return AuthorizeOutcome::Redirect(to),
    };
    let Some(client) = s.client(auth.client_id.as_str()) else {
        let message = "This application is not registered.";
        return AuthorizeOutcome::Page {
            message,
            client: None,
        };
    };
    let Some(connection) = client.connection.clone() else {
        let message = "This application has no user store.";
        return AuthorizeOutcome::Page {
            message,
            client: Some(client.client_id.clone()),
        };
    };
    // Single sign-on: a live session of this client's connection, fresh enough.
    let session_key = browser.session.as_deref().map(session_key);
    let session_hash = browser.session.clone();
    let existing = match browser.session {
        Some(hash) => match session_user(idp, hash, connection.to_string(), now).await {
            Ok(v) => v,
            Err(e) => return AuthorizeOutcome::Failed(e.into()),
        },
        None => None,
    };
    // A session of a user who must still confirm their address is no sign-on.
    let waits = |u: &store::users::User| {
        s.connection(&connection)
            .is_some_and(|c| verification::must_wait(c, u))
    };
    // Nor is a session of a blocked user (the block ended them; this is belt and braces).
    let existing = existing.filter(|(_, u)| !waits(u) && !u.blocked);
    match existing {
        Some((sess, user)) if !auth.prompt.login && auth.accepts_auth_time(sess.auth_time, now) => {
            if let Some(Err(_)) = session_key.map(|k| idp.limits.sso.charge(k, now)) {
                let e = OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many sign-ins with this session; try again in a minute",
                );
                let to = error_location(s, &auth.redirect_uri, auth.state.as_deref(), &e);
                return AuthorizeOutcome::Redirect(to);
            }
            // The first login after accepting an invitation carries it (event.invitation).
            let invitation = match (&sess.invitation, session_hash) {
                (Some((id, signup)), Some(h)) => {
                    let roles = invitation_roles(idp, id).await;
                    Some((
                        *signup,
                        AcceptedInvitation {
                            id: id.clone(),
                            roles,
                            session_hash: h,
                        },
                    ))
                }
                _ => None,
            };
            let how = Completion {
                signup: invitation.as_ref().is_some_and(|(signup, _)| *signup),
                ip: browser.ip,
                session: SessionChange::Existing(sess.auth_time),
                rehash: None,
                tx_id: None,
                replaces: None,
                invitation: invitation.map(|(_, i)| i),
            };
            match login::complete(idp, &auth, client, user, how, now).await {
                Ok(
                    LoginOutcome::Completed { redirect, .. } | LoginOutcome::Denied { redirect },
                ) => AuthorizeOutcome::Redirect(redirect),
                Ok(LoginOutcome::AlreadyCompleted) => {
                    AuthorizeOutcome::Failed(Refusal::AlreadyCompleted)
                }
                Err(e) => AuthorizeOutcome::Failed(e.into()),
            }
        }
        _ if auth.prompt.none => {
            // OIDC Core 3.1.2.6: no usable session and no interaction allowed.
            let e = OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in");
            AuthorizeOutcome::Redirect(error_location(
                s,
                &auth.redirect_uri,
                auth.state.as_deref(),
                &e,
            ))
        }
        _ => match transaction::park(idp, client, auth, browser.id, browser.ip, now).await {
            Ok(page) => AuthorizeOutcome::Login(page),
            Err(e) => AuthorizeOutcome::Failed(e.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::checks::fixture::{params, settings};
    use super::*;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn request(extra: &str) -> Params {
        params(&format!(
            "client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
        ))
    }

    fn redirected(r: Result<AuthRequest, Rejection>) -> String {
        match r {
            Err(Rejection::Redirect(to)) => {
                crate::idp::params::Params::parse(to.split_once('?').unwrap().1.as_bytes())
                    .unwrap()
                    .one("error")
                    .unwrap()
                    .unwrap()
                    .to_owned()
            }
            other => panic!("expected a redirected error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_request_passes_every_check() {
        let a = validate(&settings(), &request("&state=xyz&nonce=n&foo=bar")).unwrap();
        assert_eq!(a.redirect_uri.as_str(), "https://app.test/cb");
        assert_eq!(a.state.as_deref(), Some("xyz"));
        assert_eq!(a.extra["foo"], "bar");
        assert!(
            !a.extra.contains_key("state"),
            "kept once, as a typed field"
        );
        let q = a.rule_query();
        assert_eq!((q["foo"].as_str(), q["state"].as_str()), ("bar", "xyz"));
        assert_eq!(q["code_challenge_method"], "S256");
    }

    #[test]
    fn unknown_client_gets_a_page_not_a_redirect() {
        let p =
            params("client_id=nope&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code");
        assert!(matches!(validate(&settings(), &p), Err(Rejection::Page(_))));
    }

    #[test]
    fn errors_after_the_redirect_uri_go_back_with_state_and_iss() {
        let r = validate(&settings(), &request("&state=s1&scope=email"));
        let Err(Rejection::Redirect(to)) = r else {
            panic!("{r:?}")
        };
        assert!(
            to.starts_with("https://app.test/cb?error=invalid_request"),
            "{to}"
        );
        assert!(
            to.contains("state=s1") && to.contains("iss=https%3A%2F%2Fid.test"),
            "{to}"
        );
        assert_eq!(
            redirected(validate(&settings(), &request("&max_age=-1"))),
            "invalid_request"
        );
    }

    #[test]
    fn clients_get_only_their_apis_and_only_those_apis_scopes() {
        assert_eq!(
            redirected(validate(
                &settings(),
                &request("&resource=https%3A%2F%2Fadmin.test")
            )),
            "invalid_target"
        );
        let p = params(&format!("client_id=web&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid+admin:all+orders:read&code_challenge={CHALLENGE}&code_challenge_method=S256"));
        assert_eq!(
            validate(&settings(), &p).unwrap().scope.to_string(),
            "openid orders:read"
        );
    }

    #[test]
    fn confidential_clients_may_skip_pkce() {
        let p =
            params("client_id=conf&redirect_uri=https%3A%2F%2Fconf.test%2Fcb&response_type=code");
        assert!(validate(&settings(), &p).is_ok());
    }

    #[test]
    fn request_objects_are_refused() {
        assert_eq!(
            redirected(validate(&settings(), &request("&request=eyJ"))),
            "request_not_supported"
        );
    }
}
