//! The mail queue: a request commits "send this mail" in its own transaction and
//! returns; the sender claims due jobs (a lease, so replicas never send one twice at
//! once), and records the outcome. Nothing in a job is a usable link.

use super::db::{args, Db};
use super::StoreError;

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: i64,
}

pub fn enqueue(db: &mut Db<'_>, kind: &str, payload: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO mail_jobs (kind, payload, next_attempt_at, created_at) VALUES ($1, $2, $3, $3)",
        args![kind, payload, now],
    )?;
    Ok(())
}

/// Claim up to `limit` due jobs until `lease_until`: another sender skips them until then
/// (a sender that dies mid-send leaves the job to be retried when the lease ends).
pub fn claim_due(
    db: &mut Db<'_>,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let due = db.query_all(
        "SELECT id, kind, payload, attempts, created_at, next_attempt_at FROM mail_jobs \
         WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2",
        args![now, limit],
        |r| {
            Ok((
                Job {
                    id: r.int(0)?,
                    kind: r.text(1)?,
                    payload: r.text(2)?,
                    attempts: r.int(3)?,
                    created_at: r.int(4)?,
                },
                r.int(5)?,
            ))
        },
    )?;
    let mut claimed = Vec::new();
    for (job, seen) in due {
        // Compare-and-set on the time we read: of two senders, one wins each job.
        let won = db.execute(
            "UPDATE mail_jobs SET next_attempt_at = $3 WHERE id = $1 AND state = 'pending' \
             AND next_attempt_at = $2",
            args![job.id, seen, lease_until],
        )? == 1;
        if won {
            claimed.push(job);
        }
    }
    Ok(claimed)
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Nothing to send (an unknown address, a limit reached): done, silently.
    Dropped(String),
    /// Try again at this time.
    Retry {
        at: i64,
        error: String,
    },
    /// Given up (a permanent SMTP error, or too many attempts).
    Failed(String),
}

pub fn finish(db: &mut Db<'_>, id: i64, outcome: &Outcome, now: i64) -> Result<(), StoreError> {
    match outcome {
        Outcome::Retry { at, error } => db.execute(
            "UPDATE mail_jobs SET attempts = attempts + 1, next_attempt_at = $2, last_error = $3 \
             WHERE id = $1",
            args![id, *at, error.as_str()],
        )?,
        // A sent job keeps no payload (an invitation's holds its sealed link).
        Outcome::Sent => db.execute(
            "UPDATE mail_jobs SET state = 'sent', attempts = attempts + 1, done_at = $2, payload = '' \
             WHERE id = $1",
            args![id, now],
        )?,
        Outcome::Dropped(why) | Outcome::Failed(why) => {
            let state = match outcome {
                Outcome::Dropped(_) => "dropped",
                _ => "failed",
            };
            db.execute(
                "UPDATE mail_jobs SET state = $2, done_at = $3, last_error = $4 WHERE id = $1",
                args![id, state, now, why.as_str()],
            )?
        }
    };
    Ok(())
}

/// Jobs not yet sent (tests and `/metrics`).
pub fn pending(db: &mut Db<'_>) -> Result<i64, StoreError> {
    db.scalar(
        "SELECT count(*) FROM mail_jobs WHERE state = 'pending'",
        &[],
    )
}
