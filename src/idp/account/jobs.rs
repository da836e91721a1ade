//! What a request asks the sender to mail. A verification or reset job names the mail,
//! never a link: the sender makes the token when it renders. An invitation's link exists
//! before its mail (the operator gets it too), so its job holds it sealed.

use serde::{Deserialize, Serialize};

use crate::store::{mail_jobs, Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// A verification link for this user, in this client's brand.
    Verify {
        user_id: String,
        client_id: String,
        tx: Option<String>,
    },
    /// A reset link for whoever has this address in this connection, if anyone: the
    /// request path is the same for known and unknown addresses (the lookup is here).
    Reset {
        connection: String,
        email: String,
        client_id: String,
        tx: Option<String>,
    },
    /// An invitation's link. Its token is sealed under the server secret (bound to the
    /// invitation id); the payload is emptied once the mail is sent.
    Invitation {
        invitation_id: String,
        sealed_token: String,
    },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Verify { .. } => "verify",
            Self::Reset { .. } => "reset",
            Self::Invitation { .. } => "invitation",
        }
    }
}

pub fn enqueue(db: &mut Db<'_>, job: &Job, now: i64) -> Result<(), StoreError> {
    let payload = serde_json::to_string(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    mail_jobs::enqueue(db, job.kind(), &payload, now)
}
