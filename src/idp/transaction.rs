//! The login transaction: a validated authorization request kept server-side while the
//! user is on the hosted page, bound to one browser and carrying the forms' CSRF token.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::auth_request::AuthRequest;
use super::throttle::IpBucket;
use super::Idp;
use crate::config::Client;
use crate::crypto::{ct_eq, random_token, token_hash};
use crate::store::{self, StoreError};

/// What the transaction holds: the request and the CSRF token of its forms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub auth: AuthRequest,
    pub csrf: String,
}

/// A transaction read back for a page or a form.
pub struct Loaded {
    pub id: String,
    pub parked: Parked,
    /// SHA-256 of the browser id that started it.
    browser_hash: String,
    /// The user (and whether they had just signed up) whose password this login
    /// verified, waiting for them to confirm their address.
    pub pending: Option<(String, bool)>,
}

impl Loaded {
    /// The CSRF field must equal the transaction's token, and the (server-minted)
    /// browser id must be the one that started it: a forged cross-site POST has neither.
    pub fn csrf_ok(&self, field: Option<&str>, browser: &str) -> bool {
        let field_ok = field.is_some_and(|f| ct_eq(f.as_bytes(), self.parked.csrf.as_bytes()));
        field_ok && self.started_by(browser)
    }

    /// This browser started the transaction (a mailed link opened in it may continue it).
    pub fn started_by(&self, browser: &str) -> bool {
        ct_eq(token_hash(browser).as_bytes(), self.browser_hash.as_bytes())
    }
}

/// Park the request; returns its id and where the browser goes: the login page, or the
/// sign-up page for `screen_hint=signup` when the connection allows it.
pub async fn park(
    idp: &Idp,
    client: &Client,
    auth: AuthRequest,
    browser: &str,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<(String, String), StoreError> {
    let s = &idp.settings();
    let signup_first = auth.screen_hint_signup
        && client
            .connection
            .as_ref()
            .and_then(|c| s.connection(c))
            .is_some_and(|c| c.open_signup());
    let parked = Parked {
        auth,
        csrf: random_token(),
    };
    let json = serde_json::to_string(&parked).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let id = random_token();
    let (tx_id, cid, browser, ip_bucket) = (
        id.clone(),
        client.client_id.to_string(),
        token_hash(browser),
        ip.map(|ip| IpBucket::of(ip).to_string())
            .unwrap_or_default(),
    );
    let expires_at = now + s.login.transaction_ttl;
    let caps = store::transactions::Caps {
        per_browser: s.login.max_transactions_per_browser,
        per_ip: s.login.max_transactions_per_ip,
        total: s.login.max_transactions,
    };
    idp.store
        .write(move |db| {
            let t = store::transactions::NewTransaction {
                id: &tx_id,
                client_id: &cid,
                request_json: &json,
                browser: &browser,
                ip_bucket: &ip_bucket,
                now,
                expires_at,
            };
            store::transactions::create(db, &t, caps)
        })
        .await?;
    let page = if signup_first { "/signup" } else { "/login" };
    let location = format!("{page}?tx={id}");
    Ok((id, location))
}

/// A live transaction, or none (unknown, expired, consumed, or unreadable).
pub async fn load(idp: &Idp, id: &str, now: i64) -> Result<Option<Loaded>, StoreError> {
    // Ids are ours: 43 base64url characters. Anything else is not looked up (and a NUL
    // byte never reaches a database that cannot hold one).
    let ours = id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ours {
        return Ok(None);
    }
    let key = id.to_owned();
    let found = idp
        .store
        .read(move |db| store::transactions::get(db, &key, now))
        .await?;
    Ok(found.and_then(|t| {
        let parked = serde_json::from_str(&t.request).ok()?;
        Some(Loaded {
            id: id.to_owned(),
            parked,
            browser_hash: t.browser,
            pending: t.pending,
        })
    }))
}

/// Hold the login until `user_id` confirms their address.
pub async fn hold(idp: &Idp, id: &str, user_id: &str, signup: bool) -> Result<bool, StoreError> {
    let (id, uid) = (id.to_owned(), user_id.to_owned());
    idp.store
        .write(move |db| store::transactions::set_pending(db, &id, &uid, signup))
        .await
}
