//! Back from the upstream: the round trip is taken once by its `state` and must come
//! back to the connection and the browser that started it; RFC 9207's `iss` is checked
//! when sent (and required when the upstream promises it); the code is exchanged with
//! the PKCE verifier and the ID token verified (signature through the upstream's JWKS,
//! refreshed once on an unknown key; `iss`, `aud`, `azp`, `exp`, `nonce`). Then the user
//! of (connection, issuer, subject) is found or, as the connection's `signup` allows,
//! made — never matched by e-mail — and the original authorization request completes.

use std::net::IpAddr;

use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, IdTokenClaims, Nonce, PkceCodeVerifier,
    TokenResponse,
};

use super::{client, Metadata, OtherClaims, RpClient, UpstreamError, UpstreamIdToken};
use crate::config::{Client, Connection, Signup, Upstream};
use crate::crypto::token_hash;
use crate::domain::{AuditKind, ClientId};
use crate::idp::auth_request::{error_location, AuthRequest};
use crate::idp::login::{
    self, AcceptedInvitation, Completion, LoginOutcome, NewSession, SessionChange,
};
use crate::idp::{transaction, ErrorCode, Idp, OAuthError, Refusal};
use crate::store::users::{self, User};
use crate::store::{audit, invitations, upstream_flows, Db, StoreError};

/// The callback's query parameters.
#[derive(Debug, Default, Clone)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Who came back: their browser id, address, and the session they hold in this connection.
pub struct Caller<'a> {
    pub browser: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub replaces: Option<String>,
}

pub enum CallbackOutcome {
    /// Signed in: to the client with a code, and the session cookie to set.
    Completed {
        redirect: String,
        session: Option<NewSession>,
    },
    /// To the client with `error=access_denied` (audited).
    ToClient { redirect: String },
    /// A (branded) page: nothing can be sent to the client.
    Page {
        status: u16,
        message: &'static str,
        client: Option<ClientId>,
    },
    /// A refusal after the upstream vouched for the user (blocked, a store failure).
    Refused {
        refusal: Refusal,
        client: Option<ClientId>,
    },
}

const EXPIRED: &str = "This sign-in has expired or was already completed. Go back to the application and start again.";
const OTHER_BROWSER: &str = "This sign-in was started in another browser. Go back to the application and start again there.";
const UNREACHABLE: &str =
    "The sign-in service is not reachable right now. Please try again in a moment.";

fn page(status: u16, message: &'static str, client: Option<&Client>) -> CallbackOutcome {
    CallbackOutcome::Page {
        status,
        message,
        client: client.map(|c| c.client_id.clone()),
    }
}

async fn record(
    idp: &Idp,
    connection: &str,
    client: Option<&str>,
    ip: Option<IpAddr>,
    detail: String,
    now: i64,
) {
    let (conn, cid, ip) = (
        connection.to_owned(),
        client.map(str::to_owned),
        ip.map(|i| i.to_string()),
    );
    tracing::warn!(connection = %conn, detail = %detail, "upstream sign-in refused");
    let _ = idp
        .store
        .write(move |db| {
            let ev = audit::Event {
                connection: Some(&conn),
                client_id: cid.as_deref(),
                ip: ip.as_deref(),
                detail: Some(&detail),
                ..audit::Event::new(AuditKind::UpstreamFailed)
            };
            audit::record(db, &ev, now)
        })
        .await;
}

/// Everything the checks established.
struct Context<'s> {
    auth: AuthRequest,
    tx_id: String,
    client: &'s Client,
    connection: &'s Connection,
    upstream: &'s Upstream,
    nonce: String,
    verifier: String,
}

pub async fn finish(
    idp: &Idp,
    connection: &str,
    p: &CallbackParams,
    caller: Caller<'_>,
    now: i64,
) -> CallbackOutcome {
    let s = idp.settings();
    let ctx = match context(idp, &s, connection, p, &caller, now).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let deny = |why: String| denied(idp, &ctx, caller.ip, why, now);
    if let Some(e) = &p.error {
        let desc = p.error_description.as_deref().unwrap_or("");
        return deny(format!("the upstream answered {e}: {desc}")).await;
    }
    let metadata = match idp.upstreams.metadata(ctx.upstream, false, now).await {
        Ok(m) => m,
        Err(e) => {
            record(
                idp,
                connection,
                Some(ctx.client.client_id.as_str()),
                caller.ip,
                e.to_string(),
                now,
            )
            .await;
            return page(503, UNREACHABLE, Some(ctx.client));
        }
    };
    // RFC 9207 / RFC 9700 4.4: the response names its issuer, and it must be this one.
    match &p.iss {
        Some(iss) if iss.trim_end_matches('/') != ctx.upstream.issuer => {
            return deny(format!(
                "iss {iss} is not this connection's issuer (mix-up)"
            ))
            .await
        }
        None if metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported =>
        {
            return deny("the upstream promises iss but sent none".into()).await
        }
        _ => {}
    }
    let Some(code) = p.code.clone() else {
        return deny("no code in the response".into()).await;
    };
    let claims = match verified_claims(idp, &ctx, metadata, code, now).await {
        Ok(c) => c,
        Err(why) => return deny(why).await,
    };
    sign_in(idp, &ctx, claims, &caller, now).await
}

/// The round trip, its login transaction, client and connection, or the page to show.
async fn context<'s>(
    idp: &Idp,
    s: &'s crate::config::Settings,
    connection: &str,
    p: &CallbackParams,
    caller: &Caller<'_>,
    now: i64,
) -> Result<Context<'s>, CallbackOutcome> {
    let (flow, state_hash) = round_trip(idp, connection, p, caller, now).await?;
    let refused = |e: StoreError| CallbackOutcome::Refused {
        refusal: e.into(),
        client: None,
    };
    let loaded = transaction::load(idp, &flow.tx_id, now)
        .await
        .map_err(refused)?
        .ok_or_else(|| page(400, EXPIRED, None))?;
    let auth = loaded.parked.auth;
    let client = s
        .client(auth.client_id.as_str())
        .ok_or_else(|| page(400, EXPIRED, None))?;
    let conn = s
        .connections
        .iter()
        .find(|c| c.name.as_str() == connection)
        .filter(|c| client.upstreams.contains(&c.name))
        .ok_or_else(|| page(400, EXPIRED, Some(client)))?;
    let upstream = conn
        .upstream
        .as_ref()
        .ok_or_else(|| page(400, EXPIRED, Some(client)))?;
    let verifier = idp
        .secrets
        .open(&flow.verifier, state_hash.as_bytes())
        .map_err(|_| page(400, EXPIRED, Some(client)))?;
    Ok(Context {
        auth,
        tx_id: loaded.id,
        client,
        connection: conn,
        upstream,
        nonce: flow.nonce,
        verifier: String::from_utf8_lossy(&verifier).into_owned(),
    })
}

/// The round trip `state` names, taken once: it must be this connection's, live, and
/// back in the browser that left (RFC 9700 2.1).
async fn round_trip(
    idp: &Idp,
    connection: &str,
    p: &CallbackParams,
    caller: &Caller<'_>,
    now: i64,
) -> Result<(upstream_flows::Flow, String), CallbackOutcome> {
    let Some(state) = p.state.as_deref() else {
        return Err(page(400, EXPIRED, None));
    };
    let state_hash = token_hash(state);
    let key = state_hash.clone();
    let flow = match idp
        .store
        .write(move |db| upstream_flows::take(db, &key))
        .await
    {
        Ok(Some(f)) => f,
        Ok(None) => return Err(page(400, EXPIRED, None)),
        Err(e) => {
            return Err(CallbackOutcome::Refused {
                refusal: e.into(),
                client: None,
            })
        }
    };
    let refused = |why: &'static str, message| async move {
        record(idp, connection, None, caller.ip, why.to_owned(), now).await;
        Err(page(400, message, None))
    };
    if flow.connection != connection {
        return refused("a response for another connection (mix-up)", EXPIRED).await;
    }
    if flow.expires_at <= now {
        return Err(page(400, EXPIRED, None));
    }
    if caller.browser.map(token_hash).as_deref() != Some(flow.browser.as_str()) {
        return refused("the callback came to another browser", OTHER_BROWSER).await;
    }
    Ok((flow, state_hash))
}

/// Audit, consume the login transaction, and send `access_denied` to the client.
async fn denied(
    idp: &Idp,
    ctx: &Context<'_>,
    ip: Option<IpAddr>,
    why: String,
    now: i64,
) -> CallbackOutcome {
    record(
        idp,
        ctx.connection.name.as_str(),
        Some(ctx.client.client_id.as_str()),
        ip,
        why,
        now,
    )
    .await;
    let tx = ctx.tx_id.clone();
    let _ = idp
        .store
        .write(move |db| crate::store::transactions::delete(db, &tx))
        .await;
    let e = OAuthError::new(
        ErrorCode::AccessDenied,
        "the sign-in at the upstream provider failed",
    );
    let redirect = error_location(
        &idp.settings(),
        &ctx.auth.redirect_uri,
        ctx.auth.state.as_deref(),
        &e,
    );
    CallbackOutcome::ToClient { redirect }
}

/// The code exchanged, the ID token verified; the reason when anything is wrong.
async fn verified_claims(
    idp: &Idp,
    ctx: &Context<'_>,
    metadata: Metadata,
    code: String,
    now: i64,
) -> Result<Claims, String> {
    let s = idp.settings();
    let rp = client(&s, ctx.connection.name.as_str(), ctx.upstream, metadata)
        .map_err(|e| e.to_string())?;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| format!("token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(ctx.verifier.clone()))
        .request_async(idp.upstreams.http())
        .await
        .map_err(|e| format!("token endpoint: {e}"))?;
    let raw = tokens
        .id_token()
        .ok_or("the upstream sent no ID token")?
        .to_string();
    verify_id_token(idp, ctx.connection, &raw, &ctx.nonce, now).await
}

pub type Claims = IdTokenClaims<OtherClaims, openidconnect::core::CoreGenderClaim>;

/// An upstream ID token as the callback checks it: signature through the upstream's JWKS
/// (fetched again once if the token names a key we do not know), `iss`, `aud` (Portico's
/// client id there), `azp`, `exp` and `nonce`.
pub async fn verify_id_token(
    idp: &Idp,
    connection: &Connection,
    raw: &str,
    nonce: &str,
    now: i64,
) -> Result<Claims, String> {
    let s = idp.settings();
    let u = connection
        .upstream
        .as_ref()
        .ok_or("not an upstream connection")?;
    let name = connection.name.as_str();
    let token: UpstreamIdToken = raw.parse().map_err(|e| format!("ID token: {e}"))?;
    let nonce = Nonce::new(nonce.to_owned());
    let metadata = idp
        .upstreams
        .metadata(u, false, now)
        .await
        .map_err(|e| e.to_string())?;
    let rp = client(&s, name, u, metadata).map_err(|e| e.to_string())?;
    match verify(&rp, &token, &nonce) {
        Err(ClaimsVerificationError::SignatureVerification(_)) => {
            // Perhaps a key the upstream rotated in since we fetched its JWKS.
            let fresh = idp
                .upstreams
                .metadata(u, true, now)
                .await
                .map_err(|e: UpstreamError| e.to_string())?;
            let rp = client(&s, name, u, fresh).map_err(|e| e.to_string())?;
            verify(&rp, &token, &nonce).map_err(|e| format!("ID token: {e}"))
        }
        other => other.map_err(|e| format!("ID token: {e}")),
    }
}

fn verify(
    rp: &RpClient,
    token: &UpstreamIdToken,
    nonce: &Nonce,
) -> Result<Claims, ClaimsVerificationError> {
    token.clone().into_claims(&rp.id_token_verifier(), nonce)
}

/// Who signed in, as Portico keeps them.
enum Provisioned {
    Existing(User),
    New(User, Option<AcceptedInvitation>),
    /// `signup = "off"`, or `"invite"` without an invitation for this verified address.
    NotAllowed(&'static str),
}

/// Who the upstream says signed in, as Portico keys and trusts it.
struct Identity {
    /// `issuer|subject`: the key, never the address.
    subject: String,
    email: String,
    /// Copied to the user: the upstream verified it and the operator trusts that.
    verified: bool,
    /// The upstream verified the address (an invitation may be claimed with it).
    upstream_verified: bool,
}

impl Identity {
    fn of(claims: &Claims, upstream: &Upstream) -> Self {
        let email = claims
            .email()
            .map(|e| e.as_str().trim().to_lowercase())
            .unwrap_or_default();
        let upstream_verified = claims.email_verified() == Some(true);
        Self {
            subject: format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str()),
            verified: upstream.trust_email && upstream_verified && !email.is_empty(),
            upstream_verified,
            email,
        }
    }
}

async fn sign_in(
    idp: &Idp,
    ctx: &Context<'_>,
    claims: Claims,
    caller: &Caller<'_>,
    now: i64,
) -> CallbackOutcome {
    let who = Identity::of(&claims, ctx.upstream);
    let upstream_claims = serde_json::to_value(&claims).unwrap_or_default();
    let (conn, client_id, signup) = (
        ctx.connection.name.to_string(),
        ctx.client.client_id.to_string(),
        ctx.connection.signup,
    );
    let done = idp
        .store
        .write(move |db| provision(db, &conn, &client_id, signup, &who, now))
        .await;
    let (user, is_new, invitation) = match done {
        Ok(Provisioned::Existing(u)) => (u, false, None),
        Ok(Provisioned::New(u, inv)) => (u, true, inv),
        Ok(Provisioned::NotAllowed(why)) => {
            return denied(idp, ctx, caller.ip, why.into(), now).await
        }
        Err(e) => {
            return CallbackOutcome::Refused {
                refusal: e.into(),
                client: Some(ctx.client.client_id.clone()),
            }
        }
    };
    if user.blocked {
        let why = format!("{} is blocked", user.id);
        let client = Some(ctx.client.client_id.as_str());
        record(
            idp,
            ctx.connection.name.as_str(),
            client,
            caller.ip,
            why,
            now,
        )
        .await;
        return CallbackOutcome::Refused {
            refusal: Refusal::Blocked,
            client: Some(ctx.client.client_id.clone()),
        };
    }
    let signed_in = SignedIn {
        user,
        is_new,
        invitation,
        upstream_claims,
    };
    complete(idp, ctx, signed_in, caller, now).await
}

/// The user the callback found or made, and what the rules should see.
struct SignedIn {
    user: User,
    is_new: bool,
    invitation: Option<AcceptedInvitation>,
    upstream_claims: serde_json::Value,
}

/// The original authorization request completes (rules, code, session).
async fn complete(
    idp: &Idp,
    ctx: &Context<'_>,
    done: SignedIn,
    caller: &Caller<'_>,
    now: i64,
) -> CallbackOutcome {
    let SignedIn {
        user,
        is_new,
        invitation,
        upstream_claims,
    } = done;
    let how = Completion {
        signup: is_new,
        ip: caller.ip,
        session: SessionChange::New,
        rehash: None,
        tx_id: Some(ctx.tx_id.clone()),
        replaces: caller.replaces.clone(),
        invitation,
        upstream: Some(upstream_claims),
    };
    match login::complete(idp, &ctx.auth, ctx.client, user, how, now).await {
        Ok(LoginOutcome::Completed { redirect, session }) => {
            CallbackOutcome::Completed { redirect, session }
        }
        Ok(LoginOutcome::Denied { redirect }) => CallbackOutcome::ToClient { redirect },
        Ok(LoginOutcome::AlreadyCompleted) => CallbackOutcome::Refused {
            refusal: Refusal::AlreadyCompleted,
            client: Some(ctx.client.client_id.clone()),
        },
        Err(e) => CallbackOutcome::Refused {
            refusal: e.into(),
            client: Some(ctx.client.client_id.clone()),
        },
    }
}

/// Find the user of (connection, issuer|subject), or make one as `signup` allows.
fn provision(
    db: &mut Db<'_>,
    connection: &str,
    client_id: &str,
    signup: Signup,
    who: &Identity,
    now: i64,
) -> Result<Provisioned, StoreError> {
    let (subject, email) = (who.subject.as_str(), who.email.as_str());
    if let Some(u) = users::find_by_upstream(db, connection, subject)? {
        users::set_upstream_profile(db, &u.id, email, who.verified, now)?;
        return Ok(Provisioned::Existing(users::get(db, &u.id)?.unwrap_or(u)));
    }
    let invitation = match signup {
        Signup::Off => {
            return Ok(Provisioned::NotAllowed(
                "no account for this upstream user (signup is off)",
            ))
        }
        Signup::Open => None,
        // An invitation goes to an address: only an address the upstream verified may
        // claim it (an unverified one is anybody's to type).
        Signup::Invite if !who.upstream_verified || email.is_empty() => {
            return Ok(Provisioned::NotAllowed(
                "no verified address to match an invitation",
            ))
        }
        Signup::Invite => match invitations::open_for(db, connection, email, now)? {
            Some(i) if i.client_id == client_id => Some(i),
            _ => {
                return Ok(Provisioned::NotAllowed(
                    "no open invitation for this address and client",
                ))
            }
        },
    };
    let roles = invitation
        .as_ref()
        .map(|i| i.roles.clone())
        .unwrap_or_default();
    let user = users::create_upstream(db, connection, subject, email, who.verified, &roles, now)?;
    let ev = audit::Event {
        connection: Some(connection),
        user_id: Some(&user.id),
        client_id: Some(client_id),
        detail: Some("upstream"),
        ..audit::Event::new(AuditKind::Signup)
    };
    audit::record(db, &ev, now)?;
    let accepted = match invitation {
        Some(i) => {
            if !invitations::accept(db, &i.id, &user.id, now)? {
                return Err(StoreError::Aborted("the invitation was used meanwhile"));
            }
            let ev = audit::Event {
                connection: Some(connection),
                user_id: Some(&user.id),
                client_id: Some(client_id),
                detail: Some(&i.id),
                ..audit::Event::new(AuditKind::InvitationAccepted)
            };
            audit::record(db, &ev, now)?;
            Some(AcceptedInvitation {
                id: i.id,
                roles: i.roles,
                session_hash: None,
            })
        }
        None => None,
    };
    Ok(Provisioned::New(user, accepted))
}
