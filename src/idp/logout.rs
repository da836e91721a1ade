//! RP-Initiated Logout 1.0 as a decision: which client and return address the request
//! names, whether the user must confirm (section 2: unless an id_token_hint names the user
//! of every session it ends), and which sessions end. Every session the browser holds
//! ends, in every connection (review L3); a logout that ends nothing writes nothing
//! (review M4).

use super::params::Params;
use super::Idp;
use crate::config::{Client, Settings};
use crate::crypto::{ct_eq, token_hash};
use crate::domain::{AuditKind, ClientId};
use crate::store::{self, audit, StoreError};

pub struct LogoutRequest<'a> {
    pub params: &'a Params,
    /// Hashes of the SSO session cookies the browser sent, whatever their connection.
    pub sessions: Vec<String>,
    /// The browser's server-minted id, if it has one.
    pub browser: Option<&'a str>,
    /// The request is a POST (only a POST can carry the confirmation).
    pub post: bool,
}

#[derive(Debug)]
pub enum LogoutDecision {
    /// An error page.
    Refused {
        message: &'static str,
        client: Option<ClientId>,
    },
    /// Ask the user first; the page posts back with `confirm_token` of the browser.
    Confirm {
        client: Option<ClientId>,
        post_logout_redirect_uri: Option<String>,
        state: Option<String>,
    },
    /// The sessions ended; back to the client, or the "logged out" page.
    Done {
        client: Option<ClientId>,
        redirect: Option<String>,
    },
}

/// The confirmation a browser's logout form carries: derived from its id, which a
/// cross-site request can neither read nor send (SameSite=Lax, HttpOnly).
pub fn confirm_token(browser: &str) -> String {
    token_hash(&format!("logout:{browser}"))
}

/// The client, the hinted user and the return address the request names.
struct Target<'s> {
    client: Option<&'s Client>,
    hinted: bool,
    hinted_sub: Option<String>,
    redirect: Option<String>,
}

fn refused(message: &'static str, client: Option<&Client>) -> LogoutDecision {
    LogoutDecision::Refused {
        message,
        client: client.map(|c| c.client_id.clone()),
    }
}

fn target<'s>(idp: &Idp, s: &'s Settings, p: &Params) -> Result<Target<'s>, LogoutDecision> {
    let one = |n: &str| p.one(n).ok().flatten().map(str::to_owned);
    let names = [
        "id_token_hint",
        "post_logout_redirect_uri",
        "state",
        "client_id",
    ];
    if names.iter().any(|n| p.is_repeated(n)) {
        return Err(refused("A logout parameter is repeated.", None));
    }
    // The hint names the client (its aud) and must be an ID token we issued.
    let mut t = Target {
        client: None,
        hinted: false,
        hinted_sub: None,
        redirect: None,
    };
    if let Some(hint) = one("id_token_hint") {
        let claims = idp
            .keys
            .current()
            .verify_id_token(&hint, s.issuer.as_str())
            .map_err(|_| {
                refused(
                    "The id_token_hint is not a valid ID token from this server.",
                    None,
                )
            })?;
        t.client = s.client(&claims.aud);
        t.hinted = true;
        t.hinted_sub = Some(claims.sub);
    }
    if let Some(cid) = one("client_id") {
        match (t.client, s.client(&cid)) {
            (Some(c), _) if c.client_id.as_str() != cid => {
                return Err(refused("client_id does not match the id_token_hint.", None))
            }
            (None, Some(c)) => t.client = Some(c),
            (None, None) => return Err(refused("This application is not registered.", None)),
            _ => {}
        }
    }
    if let Some(uri) = one("post_logout_redirect_uri") {
        match t.client {
            Some(c)
                if c.post_logout_redirect_uris
                    .iter()
                    .any(|r| r.as_str() == uri) =>
            {
                t.redirect = Some(uri);
            }
            Some(c) => {
                return Err(refused(
                    "The post_logout_redirect_uri is not registered for this application.",
                    Some(c),
                ))
            }
            None => {
                return Err(refused(
                    "post_logout_redirect_uri needs an id_token_hint or client_id.",
                    None,
                ))
            }
        }
    }
    Ok(t)
}

pub async fn decide(
    idp: &Idp,
    req: LogoutRequest<'_>,
    now: i64,
) -> Result<LogoutDecision, StoreError> {
    let s = &idp.settings();
    let t = match target(idp, s, req.params) {
        Ok(t) => t,
        Err(refusal) => return Ok(refusal),
    };
    let state = req.params.one("state").ok().flatten().map(str::to_owned);
    // A hint skips the question only when it names the user of the sessions it ends:
    // otherwise an attacker's own ID token would sign a victim out (section 2).
    let hint_matches = match (&t.hinted_sub, req.sessions.is_empty()) {
        (_, true) => t.hinted,
        (None, false) => false,
        (Some(sub), false) => {
            let (hashes, sub) = (req.sessions.clone(), sub.clone());
            idp.store
                .read(move |db| {
                    for h in &hashes {
                        if store::sessions::user_of(db, h)?.is_some_and(|u| u != sub) {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
                .await?
        }
    };
    let confirmed = req.post
        && match (req.browser, req.params.one("confirm").ok().flatten()) {
            (Some(b), Some(c)) => ct_eq(confirm_token(b).as_bytes(), c.as_bytes()),
            _ => false,
        };
    let client = t.client.map(|c| c.client_id.clone());
    if !hint_matches && !confirmed {
        return Ok(LogoutDecision::Confirm {
            client,
            post_logout_redirect_uri: t.redirect,
            state,
        });
    }
    end_sessions(idp, req.sessions, t.hinted_sub, client.clone(), now).await?;
    let redirect = t.redirect.map(|uri| match &state {
        Some(st) => crate::domain::RedirectUri::parse(&uri)
            .map(|r| r.with_params(&[("state", st.as_str())]))
            .unwrap_or(uri),
        None => uri,
    });
    Ok(LogoutDecision::Done { client, redirect })
}

async fn end_sessions(
    idp: &Idp,
    sessions: Vec<String>,
    hinted_sub: Option<String>,
    client: Option<ClientId>,
    now: i64,
) -> Result<(), StoreError> {
    if sessions.is_empty() {
        return Ok(());
    }
    idp.store
        .write(move |db| {
            for h in &sessions {
                store::sessions::delete(db, h)?;
            }
            let ev = audit::Event {
                user_id: hinted_sub.as_deref(),
                client_id: client.as_ref().map(ClientId::as_str),
                ..audit::Event::new(AuditKind::Logout)
            };
            audit::record(db, &ev, now)
        })
        .await
}
