//! What a request asks the sender to mail. A job names the mail, never a link: the
//! sender makes the token when it renders, so the queue holds nothing usable.

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
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Verify { .. } => "verify",
            Self::Reset { .. } => "reset",
        }
    }
}

pub fn enqueue(db: &mut Db<'_>, job: &Job, now: i64) -> Result<(), StoreError> {
    let payload = serde_json::to_string(job).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    mail_jobs::enqueue(db, job.kind(), &payload, now)
}
