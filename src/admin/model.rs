//! The admin API's JSON: what it answers and accepts. These types are the OpenAPI
//! document's schemas (utoipa derives them), so the document cannot drift from the code.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::store::audit::StoredEvent;
use crate::store::invitations::Invitation;
use crate::store::users::User;

/// A user; never a password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub connection: String,
    pub email: String,
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub blocked: bool,
    /// Unix seconds.
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    pub logins_count: i64,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            connection: u.connection,
            email: u.email,
            email_verified: u.email_verified,
            roles: u.roles,
            blocked: u.blocked,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            logins_count: u.logins_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserOut>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only users of this connection.
    pub connection: Option<String>,
    /// Only the user with this address.
    pub email: Option<String>,
    /// At most this many (1-200, default 50).
    pub limit: Option<i64>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub connection: String,
    pub email: String,
    /// Checked against the connection's password policy.
    pub password: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub email_verified: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub roles: Option<Vec<String>>,
    /// Blocking ends every session and refresh token at once.
    pub blocked: Option<bool>,
    pub email_verified: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetIn {
    /// The client whose brand the mail and the reset page carry (of the user's connection).
    pub client_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub queued: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationOut {
    pub id: String,
    pub client_id: String,
    pub connection: String,
    pub email: String,
    pub roles: Vec<String>,
    /// open, accepted, revoked or expired.
    pub state: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<String>,
}

impl InvitationOut {
    pub fn of(i: Invitation, now: i64) -> Self {
        Self {
            state: i.state(now).to_owned(),
            id: i.id,
            client_id: i.client_id,
            connection: i.connection,
            email: i.email,
            roles: i.roles,
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            accepted_by: i.accepted_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationPage {
    pub invitations: Vec<InvitationOut>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationQuery {
    pub client_id: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitationIn {
    pub client_id: String,
    pub email: String,
    #[serde(default)]
    pub roles: Vec<String>,
    /// Default 7.
    pub ttl_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInvitation {
    pub invitation: InvitationOut,
    /// The link to hand to the invitee (also mailed when `[email]` is set).
    pub url: String,
    pub mailed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub connection: Option<String>,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

impl From<StoredEvent> for AuditEvent {
    fn from(e: StoredEvent) -> Self {
        Self {
            id: e.id,
            at: e.at,
            kind: e.kind,
            connection: e.connection,
            user_id: e.user_id,
            client_id: e.client_id,
            ip: e.ip,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events of this user id.
    pub user: Option<String>,
    /// Only events of this kind (login, login_failed, user_blocked, ...).
    pub kind: Option<String>,
    /// Only events at or after this Unix time.
    pub since: Option<i64>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Every error: an OAuth-style code and a sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    pub error: String,
    pub error_description: String,
}
