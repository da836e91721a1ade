//! What a rule sees (interface.md, Rules): the `event` object.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a rule sees (interface.md, Rules).
#[derive(Debug, Clone, Serialize)]
pub struct RuleEvent {
    pub user: EventUser,
    pub client: EventClient,
    pub connection: EventConnection,
    pub signup: bool,
    pub request: EventRequest,
    /// `{ id, roles }` on the login that accepts an invitation, else `()`.
    pub invitation: Option<EventInvitation>,
    /// The upstream's ID token claims on an upstream login, else `()`.
    pub upstream: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventInvitation {
    pub id: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventUser {
    pub id: String,
    pub email: String,
    pub email_verified: bool,
    pub connection: String,
    pub roles: Vec<String>,
    pub logins_count: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventClient {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventConnection {
    pub name: String,
    /// `"database"`, or `"oidc"` for an upstream provider.
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRequest {
    pub ip: String,
    pub query: BTreeMap<String, String>,
}
