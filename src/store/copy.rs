//! `portico store copy --to URL`: the SQLite store into an empty PostgreSQL database, so
//! a deployment can outgrow the embedded default. Users (with their password hashes and
//! look-alike keys), signing keys (still sealed: the replicas need the same server
//! secret), sessions, refresh-token families, revocations, lockouts, codes, mailed links,
//! the mail queue and the audit trail are copied in one PostgreSQL transaction; login transactions (minutes long) are
//! not. A database that already holds users or keys is refused.

use super::db::{Db, Value};
use super::{Location, Store, StoreError};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
}

/// The copied tables, parents first (foreign keys), and their columns.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "users",
        &[
            ("id", Kind::Text),
            ("connection", Kind::Text),
            ("email", Kind::Text),
            ("email_key", Kind::Text),
            ("email_verified", Kind::Int),
            ("password_hash", Kind::Text),
            ("roles", Kind::Text),
            ("logins_count", Kind::Int),
            ("created_at", Kind::Int),
            ("updated_at", Kind::Int),
            ("last_login_at", Kind::Int),
        ],
    ),
    (
        "signing_keys",
        &[
            ("kid", Kind::Text),
            ("alg", Kind::Text),
            ("private_pem", Kind::Text),
            ("created_at", Kind::Int),
            ("retired_at", Kind::Int),
            ("activates_at", Kind::Int),
            ("withdrawn_at", Kind::Int),
        ],
    ),
    (
        "sessions",
        &[
            ("id_hash", Kind::Text),
            ("user_id", Kind::Text),
            ("connection", Kind::Text),
            ("auth_time", Kind::Int),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
        ],
    ),
    (
        "authorization_codes",
        &[
            ("code_hash", Kind::Text),
            ("client_id", Kind::Text),
            ("redirect_uri", Kind::Text),
            ("code_challenge", Kind::Text),
            ("nonce", Kind::Text),
            ("scope", Kind::Text),
            ("audience", Kind::Text),
            ("user_id", Kind::Text),
            ("auth_time", Kind::Int),
            ("claims", Kind::Text),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
            ("used_at", Kind::Int),
            ("access_jti", Kind::Text),
            ("access_exp", Kind::Int),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("token_hash", Kind::Text),
            ("family_id", Kind::Text),
            ("client_id", Kind::Text),
            ("user_id", Kind::Text),
            ("scope", Kind::Text),
            ("audience", Kind::Text),
            ("auth_time", Kind::Int),
            ("claims", Kind::Text),
            ("code_hash", Kind::Text),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
            ("rotated_at", Kind::Int),
            ("revoked_at", Kind::Int),
            ("access_jti", Kind::Text),
            ("access_exp", Kind::Int),
        ],
    ),
    (
        "revoked_access_tokens",
        &[("jti", Kind::Text), ("expires_at", Kind::Int)],
    ),
    (
        "login_failures",
        &[
            ("connection", Kind::Text),
            ("email", Kind::Text),
            ("failures", Kind::Int),
            ("window_start", Kind::Int),
            ("locked_until", Kind::Int),
        ],
    ),
    (
        "email_tokens",
        &[
            ("token_hash", Kind::Text),
            ("purpose", Kind::Text),
            ("user_id", Kind::Text),
            ("client_id", Kind::Text),
            ("email", Kind::Text),
            ("password_stamp", Kind::Text),
            ("tx_id", Kind::Text),
            ("created_at", Kind::Int),
            ("expires_at", Kind::Int),
            ("used_at", Kind::Int),
        ],
    ),
    (
        "mail_jobs",
        &[
            ("kind", Kind::Text),
            ("payload", Kind::Text),
            ("state", Kind::Text),
            ("attempts", Kind::Int),
            ("next_attempt_at", Kind::Int),
            ("last_error", Kind::Text),
            ("created_at", Kind::Int),
            ("done_at", Kind::Int),
        ],
    ),
    (
        "audit_events",
        &[
            ("at", Kind::Int),
            ("kind", Kind::Text),
            ("connection", Kind::Text),
            ("user_id", Kind::Text),
            ("client_id", Kind::Text),
            ("ip", Kind::Text),
            ("detail", Kind::Text),
        ],
    ),
];

enum Owned {
    Int(Option<i64>),
    Text(Option<String>),
}

impl Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Int(v) => Value::from(*v),
            Owned::Text(v) => Value::from(v.as_deref()),
        }
    }
}

fn read_table(
    db: &mut Db<'_>,
    table: &str,
    cols: &[(&str, Kind)],
) -> Result<Vec<Vec<Owned>>, StoreError> {
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    // Oldest first, so `rowid` (the eviction order) keeps its meaning on the copy.
    let order = match table {
        "audit_events" | "mail_jobs" => "id",
        _ => "rowid",
    };
    let sql = format!("SELECT {} FROM {table} ORDER BY {order}", names.join(", "));
    db.query_all(&sql, &[], |r| {
        cols.iter()
            .enumerate()
            .map(|(i, (_, kind))| match kind {
                Kind::Int => r.opt_int(i).map(Owned::Int),
                Kind::Text => r.opt_text(i).map(Owned::Text),
            })
            .collect()
    })
}

fn write_table(
    db: &mut Db<'_>,
    table: &str,
    cols: &[(&str, Kind)],
    rows: &[Vec<Owned>],
) -> Result<(), StoreError> {
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    for row in rows {
        let params: Vec<Value<'_>> = row.iter().map(Owned::value).collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// How many rows each table got.
pub type Copied = Vec<(&'static str, usize)>;

/// Copy `from` (SQLite) into the PostgreSQL database at `url`, which must be empty.
pub fn to_postgres(from: &Store, url: &str) -> Result<Copied, StoreError> {
    if from.is_postgres() {
        return Err(StoreError::Config(
            "the store to copy from is PostgreSQL already".into(),
        ));
    }
    let to = Store::open(&Location::Postgres {
        url: url.to_owned(),
    })?;
    let mut data = Vec::new();
    from.read_now(|db| {
        for (table, cols) in TABLES {
            data.push((*table, read_table(db, table, cols)?));
        }
        Ok(())
    })?;
    to.write_now(|db| {
        let held = db.scalar("SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM signing_keys)", &[])?;
        if held > 0 {
            return Err(StoreError::Config(
                "the target database is not empty (it holds users or signing keys); copy into a new database".into(),
            ));
        }
        for ((table, cols), (_, rows)) in TABLES.iter().zip(&data) {
            write_table(db, table, cols, rows)?;
        }
        Ok(())
    })?;
    Ok(data.iter().map(|(t, rows)| (*t, rows.len())).collect())
}
