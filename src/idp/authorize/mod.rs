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
use super::{transaction, upstream, ErrorCode, Idp, OAuthError, Refusal};
use crate::config::{Client, Settings};
use crate::domain::{ClientId, ConnectionName};
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

/// The browser that asked: its server-minted id, the hashes of the SSO session cookies
/// it sent for the client's connections (connection, hash), and its address.
pub struct Browser<'a> {
    pub id: &'a str,
    pub sessions: Vec<(String, String)>,
    pub ip: Option<IpAddr>,
}

/// A live session that may sign the browser in: which, and whose.
struct Found {
    session: store::sessions::Session,
    user: store::users::User,
    hash: String,
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
    /// An upstream provider the login must go to cannot be reached (503, branded).
    Unavailable { client: Option<ClientId> },
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
    if client.all_connections().next().is_none() {
        let message = "This application has no user store.";
        return AuthorizeOutcome::Page {
            message,
            client: Some(client.client_id.clone()),
        };
    }
    // `connection=NAME` (Auth0's parameter): only that one of the client's connections.
    let only = match auth.extra.get("connection") {
        None => None,
        Some(name) => match client.all_connections().find(|c| c.as_str() == name) {
            Some(c) => Some(c.clone()),
            None => {
                let e = OAuthError::invalid_request(
                    "connection is not one of this client's connections",
                );
                let to = error_location(s, &auth.redirect_uri, auth.state.as_deref(), &e);
                return AuthorizeOutcome::Redirect(to);
            }
        },
    };
    let found = match live_session(idp, s, client, &browser, only.as_ref(), now).await {
        Ok(f) => f,
        Err(e) => return AuthorizeOutcome::Failed(e.into()),
    };
    match found {
        Some(f) if !auth.prompt.login && auth.accepts_auth_time(f.session.auth_time, now) => {
            single_sign_on(idp, s, &auth, client, f, browser.ip, now).await
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
        _ => interactive(idp, s, client, auth, only, &browser, now).await,
    }
}

/// The first live session the browser holds in the client's connections (the database
/// one first), of a user who may sign in without a form now.
async fn live_session(
    idp: &Idp,
    s: &Settings,
    client: &Client,
    browser: &Browser<'_>,
    only: Option<&ConnectionName>,
    now: i64,
) -> Result<Option<Found>, store::StoreError> {
    for conn in client
        .all_connections()
        .filter(|c| only.is_none_or(|o| o == *c))
    {
        let Some((_, hash)) = browser.sessions.iter().find(|(c, _)| c == conn.as_str()) else {
            continue;
        };
        let Some((session, user)) = session_user(idp, hash.clone(), conn.to_string(), now).await?
        else {
            continue;
        };
        // A user who must still confirm their address, or a blocked one (the block ended
        // their sessions; this is belt and braces), is no sign-on.
        let waits = s
            .connection(conn)
            .is_some_and(|c| verification::must_wait(c, &user));
        if !waits && !user.blocked {
            return Ok(Some(Found {
                session,
                user,
                hash: hash.clone(),
            }));
        }
    }
    Ok(None)
}

/// A code by the session alone: charged to the session's SSO budget; the first login
/// after an invitation carries it (event.invitation).
async fn single_sign_on(
    idp: &Idp,
    s: &Settings,
    auth: &AuthRequest,
    client: &Client,
    f: Found,
    ip: Option<IpAddr>,
    now: i64,
) -> AuthorizeOutcome {
    if idp.limits.sso.charge(session_key(&f.hash), now).is_err() {
        let e = OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "too many sign-ins with this session; try again in a minute",
        );
        let to = error_location(s, &auth.redirect_uri, auth.state.as_deref(), &e);
        return AuthorizeOutcome::Redirect(to);
    }
    let invitation = match &f.session.invitation {
        Some((id, signup)) => Some((
            *signup,
            AcceptedInvitation {
                id: id.clone(),
                roles: invitation_roles(idp, id).await,
                session_hash: Some(f.hash.clone()),
            },
        )),
        None => None,
    };
    let how = Completion {
        signup: invitation.as_ref().is_some_and(|(signup, _)| *signup),
        ip,
        session: SessionChange::Existing(f.session.auth_time),
        rehash: None,
        tx_id: None,
        replaces: None,
        invitation: invitation.map(|(_, i)| i),
        upstream: None,
    };
    match login::complete(idp, auth, client, f.user, how, now).await {
        Ok(LoginOutcome::Completed { redirect, .. } | LoginOutcome::Denied { redirect }) => {
            AuthorizeOutcome::Redirect(redirect)
        }
        Ok(LoginOutcome::AlreadyCompleted) => AuthorizeOutcome::Failed(Refusal::AlreadyCompleted),
        Err(e) => AuthorizeOutcome::Failed(e.into()),
    }
}

/// The user must sign in: park the request, then the hosted page, or straight to the
/// upstream (`connection=` names one, or the client has no password form and one upstream).
async fn interactive(
    idp: &Idp,
    s: &Settings,
    client: &Client,
    auth: AuthRequest,
    only: Option<ConnectionName>,
    browser: &Browser<'_>,
    now: i64,
) -> AuthorizeOutcome {
    let straight = match (&only, &client.connection, client.upstreams.as_slice()) {
        (Some(o), _, _) if client.upstreams.contains(o) => Some(o.clone()),
        (None, None, [one]) => Some(one.clone()),
        _ => None,
    };
    let (tx_id, page) =
        match transaction::park(idp, client, auth, browser.id, browser.ip, now).await {
            Ok(v) => v,
            Err(e) => return AuthorizeOutcome::Failed(e.into()),
        };
    let Some(conn) = straight.and_then(|c| s.connection(&c)) else {
        return AuthorizeOutcome::Login(page);
    };
    match upstream::start::start(idp, conn, &tx_id, browser.id, now).await {
        Ok(url) => AuthorizeOutcome::Redirect(url),
        Err(e) => {
            tracing::warn!(connection = %conn.name, error = %e, "upstream unavailable");
            AuthorizeOutcome::Unavailable {
                client: Some(client.client_id.clone()),
            }
        }
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
