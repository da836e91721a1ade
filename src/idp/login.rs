//! The end of every login (password, sign-up or single sign-on): the rules run, then in
//! one transaction the login is counted, role changes persist, the lockout clears, the
//! code and the session are stored and the login transaction is consumed. Only then is
//! the code revealed (interface.md: acknowledged means committed).

use std::net::IpAddr;

use serde_json::json;

use super::auth_request::{error_location, AuthRequest};
use super::{ErrorCode, Idp, OAuthError};
use crate::config::Client;
use crate::crypto::{random_token, token_hash};
use crate::domain::{AuditKind, ConnectionName};
use crate::rules::{
    self, EventClient, EventConnection, EventInvitation, EventRequest, EventUser, RuleEvent,
};
use crate::store::{self, audit, users::User, StoreError};

/// How the user was authenticated in this request.
pub enum SessionChange {
    /// By the form just now: a new SSO session starts.
    New,
    /// By an existing SSO session with this auth_time.
    Existing(i64),
}

pub struct Completion {
    pub signup: bool,
    pub ip: Option<IpAddr>,
    pub session: SessionChange,
    /// A stronger hash of the password just verified (parameters were upgraded).
    pub rehash: Option<String>,
    /// The login transaction to consume.
    pub tx_id: Option<String>,
    /// The hash of the session this browser held in the connection: a new password login
    /// replaces it (review L3).
    pub replaces: Option<String>,
    /// The invitation this login accepts (its session remembered it, or the upstream
    /// login claimed it).
    pub invitation: Option<AcceptedInvitation>,
    /// The upstream's ID token claims, on an upstream login (`event.upstream`).
    pub upstream: Option<serde_json::Value>,
}

/// An invitation accepted just before this login, carried by its SSO session.
pub struct AcceptedInvitation {
    pub id: String,
    pub roles: Vec<String>,
    /// The session that carried it, if one did: the login clears it there.
    pub session_hash: Option<String>,
}

/// A session the browser must now hold (the edge sets its cookie).
pub struct NewSession {
    pub connection: ConnectionName,
    pub id: String,
}

pub enum LoginOutcome {
    /// The code is stored: redirect to the client with it.
    Completed {
        redirect: String,
        session: Option<NewSession>,
    },
    /// A rule denied (or failed): redirect to the client with access_denied.
    Denied { redirect: String },
    /// The transaction was consumed already: a double submit mints no second code.
    AlreadyCompleted,
}

fn rule_event(
    auth: &AuthRequest,
    client: &Client,
    user: &User,
    how: &Completion,
    kind: &str,
) -> RuleEvent {
    RuleEvent {
        user: EventUser {
            id: user.id.clone(),
            email: user.email.clone(),
            email_verified: user.email_verified,
            connection: user.connection.clone(),
            roles: user.roles.clone(),
            logins_count: user.logins_count + 1,
            created_at: user.created_at,
        },
        client: EventClient {
            id: client.client_id.to_string(),
            name: client.name.clone(),
        },
        connection: EventConnection {
            name: user.connection.clone(),
            kind: kind.to_owned(),
        },
        signup: how.signup,
        request: EventRequest {
            ip: how.ip.map(|i| i.to_string()).unwrap_or_default(),
            query: auth.rule_query(),
        },
        invitation: how.invitation.as_ref().map(|i| EventInvitation {
            id: i.id.clone(),
            roles: i.roles.clone(),
        }),
        upstream: how.upstream.clone(),
    }
}

pub async fn complete(
    idp: &Idp,
    auth: &AuthRequest,
    client: &Client,
    user: User,
    how: Completion,
    now: i64,
) -> Result<LoginOutcome, StoreError> {
    let kind = idp
        .settings()
        .connections
        .iter()
        .find(|c| c.name.as_str() == user.connection)
        .map_or("database", |c| c.kind());
    let event = rule_event(auth, client, &user, &how, kind);
    let outcome = match rules::run_bounded(&idp.settings().rules, event, user.roles.clone()).await {
        Ok(o) => o,
        Err(f) => {
            tracing::warn!(error = %f, "rule failed; login denied");
            let why = Denial::new(
                AuditKind::RuleFailed,
                f.to_string(),
                "the login was denied by a rule",
            );
            return deny(idp, auth, client, &user, &how, why, now).await;
        }
    };
    if let Some(reason) = outcome.denied.clone() {
        let why = Denial::new(AuditKind::RuleDenied, reason.clone(), reason);
        return deny(idp, auth, client, &user, &how, why, now).await;
    }
    let code = random_token();
    let new_session = matches!(how.session, SessionChange::New).then(random_token);
    let auth_time = match how.session {
        SessionChange::New => now,
        SessionChange::Existing(t) => t,
    };
    let grant = store::codes::CodeGrant {
        client_id: client.client_id.to_string(),
        redirect_uri: auth.redirect_uri.to_string(),
        code_challenge: auth.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
        nonce: auth.nonce.clone(),
        scope: auth.scope.to_string(),
        audience: auth.audience.clone(),
        user_id: user.id.clone(),
        auth_time,
        claims: json!({"access": outcome.access_token_claims, "id": outcome.id_token_claims})
            .to_string(),
        expires_at: now + idp.settings().tokens.code_ttl,
        used_at: None,
        access_jti: None,
        access_exp: None,
    };
    let commit = Commit {
        code_hash: token_hash(&code),
        grant,
        session_hash: new_session.as_deref().map(token_hash),
        session_ttl: idp.settings().login.session_ttl,
        roles: outcome.roles_changed.then_some(outcome.roles),
        client_id: client.client_id.to_string(),
        user,
        how,
    };
    let connection = ConnectionName::parse(&commit.user.connection).map_err(StoreError::Corrupt)?;
    if !idp.store.write(move |db| commit.run(db, now)).await? {
        return Ok(LoginOutcome::AlreadyCompleted);
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = auth.state.as_deref() {
        params.push(("state", st));
    }
    let issuer = idp.settings().issuer.to_string();
    params.push(("iss", issuer.as_str()));
    Ok(LoginOutcome::Completed {
        redirect: auth.redirect_uri.with_params(&params),
        session: new_session.map(|id| NewSession { connection, id }),
    })
}

/// What a completed login writes, in one transaction.
struct Commit {
    code_hash: String,
    grant: store::codes::CodeGrant,
    session_hash: Option<String>,
    session_ttl: i64,
    roles: Option<Vec<String>>,
    client_id: String,
    user: User,
    how: Completion,
}

impl Commit {
    /// False when the transaction was consumed already (nothing is written).
    fn run(self, db: &mut store::Db<'_>, now: i64) -> Result<bool, StoreError> {
        let (user, how) = (&self.user, &self.how);
        if let Some(t) = &how.tx_id {
            // A double submit of the same form must not mint two codes.
            if !store::transactions::delete(db, t)? {
                return Ok(false);
            }
        }
        store::users::record_login(db, &user.id, now)?;
        if let Some(roles) = &self.roles {
            store::users::set_roles(db, &user.id, roles, now)?;
        }
        if let Some(h) = &how.rehash {
            store::users::set_password_hash(db, &user.id, h, now)?;
        }
        // Only a password just verified clears the lockout; an SSO visit must not reset
        // an attacker's failure count against this account.
        if self.session_hash.is_some() {
            store::throttle::clear(db, &user.connection, &user.email)?;
        }
        store::codes::insert(db, &self.code_hash, &self.grant, now)?;
        if let Some(h) = how
            .invitation
            .as_ref()
            .and_then(|i| i.session_hash.as_deref())
        {
            store::sessions::clear_invitation(db, h)?;
        }
        if let Some(h) = &self.session_hash {
            let expires = now + self.session_ttl;
            store::sessions::create(
                db,
                h,
                &user.id,
                &user.connection,
                now,
                expires,
                how.replaces.as_deref(),
            )?;
        }
        let kind = if how.signup {
            AuditKind::SignupLogin
        } else if self.session_hash.is_some() {
            AuditKind::Login
        } else {
            AuditKind::SsoLogin
        };
        let ip = how.ip.map(|i| i.to_string());
        let ev = audit::Event {
            connection: Some(&user.connection),
            user_id: Some(&user.id),
            client_id: Some(&self.client_id),
            ip: ip.as_deref(),
            ..audit::Event::new(kind)
        };
        audit::record(db, &ev, now)?;
        Ok(true)
    }
}

/// Why a login is denied: the audit kind and detail, and what the client is told.
struct Denial {
    kind: AuditKind,
    detail: String,
    description: String,
}

impl Denial {
    fn new(kind: AuditKind, detail: String, description: impl Into<String>) -> Self {
        Self {
            kind,
            detail,
            description: description.into(),
        }
    }
}

/// Audit the denial, consume the transaction, send access_denied to the client.
async fn deny(
    idp: &Idp,
    auth: &AuthRequest,
    client: &Client,
    user: &User,
    how: &Completion,
    why: Denial,
    now: i64,
) -> Result<LoginOutcome, StoreError> {
    let (uid, cid, conn) = (
        user.id.clone(),
        client.client_id.to_string(),
        user.connection.clone(),
    );
    let (ip, tx_id, kind, detail) = (
        how.ip.map(|i| i.to_string()),
        how.tx_id.clone(),
        why.kind,
        why.detail,
    );
    idp.store
        .write(move |db| {
            let ev = audit::Event {
                connection: Some(&conn),
                user_id: Some(&uid),
                client_id: Some(&cid),
                ip: ip.as_deref(),
                detail: Some(&detail),
                ..audit::Event::new(kind)
            };
            audit::record(db, &ev, now)?;
            if let Some(t) = tx_id {
                store::transactions::delete(db, &t)?;
            }
            Ok(())
        })
        .await?;
    let e = OAuthError::new(ErrorCode::AccessDenied, why.description);
    let redirect = error_location(
        &idp.settings(),
        &auth.redirect_uri,
        auth.state.as_deref(),
        &e,
    );
    Ok(LoginOutcome::Denied { redirect })
}
