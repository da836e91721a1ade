//! Leaving for the upstream: a fresh `state`, `nonce` and PKCE pair for this round trip,
//! stored (the verifier sealed) with the login transaction and the browser it belongs to.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, Scope};

use super::{client, UpstreamError};
use crate::config::Connection;
use crate::crypto::token_hash;
use crate::idp::Idp;
use crate::store::upstream_flows::{self, Flow};

/// A round trip lasts at most this long (the user signs in at the upstream meanwhile).
pub const FLOW_TTL: i64 = 600;

/// The upstream's authorization URL for this login transaction and browser.
pub async fn start(
    idp: &Idp,
    connection: &Connection,
    tx_id: &str,
    browser: &str,
    now: i64,
) -> Result<String, UpstreamError> {
    let u = connection
        .upstream
        .as_ref()
        .ok_or_else(|| UpstreamError::Refused("not an upstream connection".into()))?;
    let s = idp.settings();
    let meta = idp.upstreams.metadata(u, false, now).await?;
    let rp = client(&s, connection.name.as_str(), u, meta)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in u.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    let state_hash = token_hash(state.secret());
    let flow = Flow {
        connection: connection.name.to_string(),
        tx_id: tx_id.to_owned(),
        nonce: nonce.secret().clone(),
        verifier: idp
            .secrets
            .seal(verifier.secret().as_bytes(), state_hash.as_bytes()),
        browser: token_hash(browser),
        expires_at: now + FLOW_TTL,
    };
    idp.store
        .write(move |db| upstream_flows::insert(db, &state_hash, &flow, now))
        .await
        .map_err(|e| UpstreamError::Unreachable(format!("store: {e}")))?;
    Ok(url.to_string())
}
