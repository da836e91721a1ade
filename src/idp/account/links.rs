//! The tokens in mailed links: 256 random bits, stored as an HMAC under the server secret
//! (a copied database holds no usable link), single use, bound to user, purpose and
//! client, and void once the user's address or password differs from when it was made.

use crate::crypto::{hex, random_token, sha256};
use crate::domain::Issuer;
use crate::secrets::Secrets;
use crate::store::email_tokens::{self, EmailToken, NewToken, Purpose};
use crate::store::users::{self, User};
use crate::store::{Db, StoreError};

/// The stored form of a link's token.
pub fn hash(secrets: &Secrets, token: &str) -> String {
    hex(&secrets.mac("email-link", &[token.as_bytes()]))
}

/// A digest of the password hash as it is now: a later password change voids the link.
pub fn password_stamp(password_hash: &str) -> String {
    hex(&sha256(password_hash.as_bytes())[..16])
}

/// Tokens are ours: 43 base64url characters; anything else is never looked up.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn page(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Verify => "/verify-email",
        Purpose::Reset => "/reset-password",
    }
}

/// What a new link is for.
pub struct LinkFor<'a> {
    pub purpose: Purpose,
    pub user: &'a User,
    pub client_id: &'a str,
    pub tx_id: Option<&'a str>,
    pub ttl: i64,
}

/// Store a new token; the URL that carries it (on the issuer), and the stored hash.
pub fn issue(
    db: &mut Db<'_>,
    secrets: &Secrets,
    issuer: &Issuer,
    l: &LinkFor<'_>,
    now: i64,
) -> Result<(String, String), StoreError> {
    let token = random_token();
    let token_hash = hash(secrets, &token);
    let new = NewToken {
        token_hash: &token_hash,
        purpose: l.purpose,
        user_id: &l.user.id,
        client_id: l.client_id,
        email: &l.user.email,
        password_stamp: &password_stamp(&l.user.password_hash),
        tx_id: l.tx_id,
        expires_at: now + l.ttl,
    };
    email_tokens::insert(db, &new, now)?;
    let url = issuer.join(&format!("{}?token={token}", page(l.purpose)));
    Ok((url, token_hash))
}

/// The live token and its user, if the user is still as the link found them.
pub fn peek(
    db: &mut Db<'_>,
    secrets: &Secrets,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Option<(EmailToken, User)>, StoreError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some(t) = email_tokens::peek(db, &hash(secrets, token), purpose, now)? else {
        return Ok(None);
    };
    let Some(user) = users::get(db, &t.user_id)? else {
        return Ok(None);
    };
    let unchanged =
        user.email == t.email && password_stamp(&user.password_hash) == t.password_stamp;
    Ok(unchanged.then_some((t, user)))
}

/// Use the token (inside the caller's transaction): the token and user, for exactly
/// one caller.
pub fn consume(
    db: &mut Db<'_>,
    secrets: &Secrets,
    purpose: Purpose,
    token: &str,
    now: i64,
) -> Result<Option<(EmailToken, User)>, StoreError> {
    let Some(found) = peek(db, secrets, purpose, token, now)? else {
        return Ok(None);
    };
    let used = email_tokens::consume(db, &hash(secrets, token), purpose, now)?;
    Ok(used.then_some(found))
}
