//! The login transaction's two ends: `park` keeps a validated authorization request
//! server-side and sends the browser to the form; `complete` runs the rules and issues
//! the authorization code once the user is known.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Client;
use crate::crypto::{random_token, token_hash};
use crate::error::{ErrorCode, OAuthError};
use crate::login::throttle::IpBucket;
use crate::login::{pages, session};
use crate::oidc::authorize::{error_redirect, redirect_with, AuthRequest};
use crate::rules::{EventClient, EventConnection, EventRequest, EventUser, RuleEvent};
use crate::startup::AppState;
use crate::store::{self, audit, users::User};

/// What the login transaction holds: the request and the CSRF token of its forms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub auth: AuthRequest,
    pub csrf: String,
}

/// Keep the request server-side; the page only carries an opaque id.
pub async fn park(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    client: &Client,
    auth: AuthRequest,
) -> HttpResponse {
    let s = &state.settings;
    let now = state.clock.now();
    let (browser, set_browser) =
        session::browser_id_or_new(req, &state.secrets, s.issuer.is_https());
    let ip_bucket = session::client_ip(req, &s.login.trusted_proxies)
        .map(|ip| IpBucket::of(ip).to_string())
        .unwrap_or_default();
    let tx_id = random_token();
    let signup_first = auth.screen_hint_signup
        && client
            .connection
            .as_ref()
            .and_then(|c| s.connection(c))
            .is_some_and(|c| c.signup);
    let parked = Parked {
        auth,
        csrf: random_token(),
    };
    let Ok(json) = serde_json::to_string(&parked) else {
        return pages::error_page(
            s,
            Some(client),
            500,
            "Something went wrong. Please try again.",
        );
    };
    let (id, cid, bh, exp) = (
        tx_id.clone(),
        client.client_id.to_string(),
        token_hash(&browser),
        now + s.login.transaction_ttl,
    );
    let caps = store::transactions::Caps {
        per_browser: s.login.max_transactions_per_browser,
        per_ip: s.login.max_transactions_per_ip,
        total: s.login.max_transactions,
    };
    if let Err(e) = state
        .store
        .write(move |tx| {
            let t = store::transactions::NewTransaction {
                id: &id,
                client_id: &cid,
                request_json: &json,
                browser: &bh,
                ip_bucket: &ip_bucket,
                now,
                expires_at: exp,
            };
            store::transactions::create(tx, &t, caps)
        })
        .await
    {
        tracing::error!(error = %e, "cannot store login transaction");
        return pages::error_page(
            s,
            Some(client),
            500,
            "Something went wrong. Please try again.",
        );
    }
    let page = if signup_first { "/signup" } else { "/login" };
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, format!("{page}?tx={tx_id}")));
    if let Some(c) = set_browser {
        res.cookie(c);
    }
    res.finish()
}

/// How the user was authenticated in this request.
pub enum SessionChange {
    /// By the form just now: a new SSO session starts.
    New,
    /// By an existing SSO session with this auth_time.
    Existing(i64),
}

pub struct Completion {
    pub signup: bool,
    pub ip: String,
    pub session: SessionChange,
    /// A stronger hash of the password just verified (parameters were upgraded).
    pub rehash: Option<String>,
    /// The login transaction to consume.
    pub tx_id: Option<String>,
    /// The hash of the session this browser held in the connection: a new password login
    /// replaces it (review L3).
    pub replaces: Option<String>,
}

/// Run the rules, then in one transaction: count the login, persist role changes,
/// clear the lockout, store the code and the session, consume the login transaction.
/// Only then is the code revealed (interface.md: acknowledged means committed).
pub async fn complete(
    state: &web::Data<AppState>,
    auth: &AuthRequest,
    client: &Client,
    user: User,
    how: Completion,
) -> HttpResponse {
    let s = &state.settings;
    let now = state.clock.now();
    let connection = user.connection.clone();
    let event = RuleEvent {
        user: EventUser {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            connection: connection.clone(),
            roles: user.roles.clone(),
            logins_count: user.logins_count + 1,
            created_at: user.created_at,
        },
        client: EventClient {
            id: client.client_id.to_string(),
            name: client.name.clone(),
        },
        connection: EventConnection {
            name: connection.clone(),
        },
        signup: how.signup,
        request: EventRequest {
            ip: how.ip.clone(),
            query: auth.rule_query(),
        },
    };
    let outcome = crate::rules::run_bounded(&s.rules, event, user.roles.clone()).await;

    let denial = match &outcome {
        Ok(o) => o.denied.clone().map(|r| ("rule_denied", r.clone(), r)),
        Err(f) => {
            tracing::warn!(error = %f, "rule failed; login denied");
            Some((
                "rule_failed",
                f.to_string(),
                "the login was denied by a rule".to_owned(),
            ))
        }
    };
    if let Some((kind, detail, description)) = denial {
        let (uid, cid, conn, ip, tx_id) = (
            user.id.clone(),
            client.client_id.to_string(),
            connection.clone(),
            how.ip.clone(),
            how.tx_id.clone(),
        );
        let _ = state
            .store
            .write(move |tx| {
                audit::record(
                    tx,
                    &audit::Event {
                        kind,
                        connection: Some(&conn),
                        user_id: Some(&uid),
                        client_id: Some(&cid),
                        ip: Some(&ip),
                        detail: Some(&detail),
                    },
                    now,
                )?;
                if let Some(t) = tx_id {
                    store::transactions::delete(tx, &t)?;
                }
                Ok(())
            })
            .await;
        let e = OAuthError::new(ErrorCode::AccessDenied, description);
        return error_redirect(s, &auth.redirect_uri, auth.state.as_deref(), &e);
    }
    let outcome = outcome.unwrap_or_default();

    let code = random_token();
    let auth_time = match how.session {
        SessionChange::New => now,
        SessionChange::Existing(t) => t,
    };
    let new_session = matches!(how.session, SessionChange::New).then(random_token);
    let grant = store::codes::CodeGrant {
        client_id: client.client_id.to_string(),
        redirect_uri: auth.redirect_uri.clone(),
        code_challenge: auth.code_challenge.clone(),
        nonce: auth.nonce.clone(),
        scope: auth.scope.clone(),
        audience: auth.audience.clone(),
        user_id: user.id.clone(),
        auth_time,
        claims: json!({"access": outcome.access_token_claims, "id": outcome.id_token_claims})
            .to_string(),
        expires_at: now + s.tokens.code_ttl,
        used_at: None,
        access_jti: None,
        access_exp: None,
    };
    let code_hash = token_hash(&code);
    let session_ttl = s.login.session_ttl;
    let sess_hash = new_session.as_deref().map(token_hash);
    let kind = if how.signup {
        "signup_login"
    } else if new_session.is_some() {
        "login"
    } else {
        "sso_login"
    };
    let (uid, email, conn, cid, ip) = (
        user.id.clone(),
        user.email.clone(),
        connection.clone(),
        client.client_id.to_string(),
        how.ip.clone(),
    );
    let (roles_changed, roles, rehash, tx_id, replaces) = (
        outcome.roles_changed,
        outcome.roles.clone(),
        how.rehash,
        how.tx_id,
        how.replaces,
    );
    let written = state
        .store
        .write(move |tx| {
            if let Some(t) = &tx_id {
                // A double submit of the same form must not mint two codes.
                if !store::transactions::delete(tx, t)? {
                    return Ok(false);
                }
            }
            store::users::record_login(tx, &uid, now)?;
            if roles_changed {
                store::users::set_roles(tx, &uid, &roles, now)?;
            }
            if let Some(h) = rehash {
                store::users::set_password_hash(tx, &uid, &h, now)?;
            }
            // Only a password just verified clears the lockout; an SSO visit must not
            // reset an attacker's failure count against this account.
            if sess_hash.is_some() {
                store::throttle::clear(tx, &conn, &email)?;
            }
            store::codes::insert(tx, &code_hash, &grant, now)?;
            if let Some(h) = &sess_hash {
                store::sessions::create(
                    tx,
                    h,
                    &uid,
                    &conn,
                    now,
                    now + session_ttl,
                    replaces.as_deref(),
                )?;
            }
            audit::record(
                tx,
                &audit::Event {
                    kind,
                    connection: Some(&conn),
                    user_id: Some(&uid),
                    client_id: Some(&cid),
                    ip: Some(&ip),
                    detail: None,
                },
                now,
            )?;
            Ok(true)
        })
        .await;
    match written {
        Ok(true) => {}
        Ok(false) => {
            return pages::error_page(
                s,
                Some(client),
                400,
                "This sign-in was already completed. Go back to the application and start again.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot complete login");
            return pages::error_page(
                s,
                Some(client),
                500,
                "Something went wrong. Please try again.",
            );
        }
    }

    let mut params = vec![("code", code.as_str())];
    if let Some(st) = auth.state.as_deref() {
        params.push(("state", st));
    }
    params.push(("iss", s.issuer.as_str()));
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, redirect_with(&auth.redirect_uri, &params)));
    if let Some(sid) = new_session {
        res.cookie(session::cookie(
            session::session_cookie_name(&connection, s.issuer.is_https()),
            sid,
            None,
            s.issuer.is_https(),
        ));
    }
    res.finish()
}
