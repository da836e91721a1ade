//! The PostgreSQL backend (`[store] url`): a pool of connections, each keeping its
//! prepared statements, the synchronous client run on the blocking pool like SQLite,
//! and migrations applied by one replica at a time (an advisory lock). Many stateless
//! replicas share one database; every piece of security state lives there.

use std::collections::HashMap;

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, Statement, Transaction};
use postgres_openssl::MakeTlsConnector;

use super::db::{Db, PgConn, Value};
use super::StoreError;

/// Advisory lock ids (any stable 64-bit numbers): migrations, and the signing keys.
const MIGRATION_LOCK: i64 = 0x706f_7274_6963_6f01;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../migrations/postgres/0002_account_email.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_live_refresh_index.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_invitations_and_blocks.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_upstream_connections.sql"),
    ),
];

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Int(i) if *ty == Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(s) => s.to_sql(ty, out),
            Value::NullInt | Value::NullText => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::TEXT | Type::VARCHAR | Type::BPCHAR
        )
    }

    to_sql_checked!();
}

fn as_params<'a>(params: &'a [Value<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// A pooled connection and the statements prepared on it (one round trip saved per
/// statement: `query` with a string would prepare it every time).
pub(super) struct Cached {
    client: Client,
    statements: HashMap<String, Statement>,
}

fn prepared<'s>(
    statements: &'s mut HashMap<String, Statement>,
    sql: &str,
    prepare: impl FnOnce(&str) -> Result<Statement, postgres::Error>,
) -> Result<&'s Statement, StoreError> {
    if !statements.contains_key(sql) {
        let stmt = prepare(sql)?;
        statements.insert(sql.to_owned(), stmt);
    }
    statements
        .get(sql)
        .ok_or_else(|| StoreError::Corrupt("statement cache".into()))
}

impl PgConn for Cached {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let stmt = prepared(&mut self.statements, sql, |q| self.client.prepare(q))?.clone();
        Ok(self.client.execute(&stmt, &as_params(params))?)
    }
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<postgres::Row>, StoreError> {
        let stmt = prepared(&mut self.statements, sql, |q| self.client.prepare(q))?.clone();
        Ok(self.client.query(&stmt, &as_params(params))?)
    }
}

/// A transaction on a cached connection.
struct CachedTx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut HashMap<String, Statement>,
}

impl PgConn for CachedTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let stmt = prepared(self.statements, sql, |q| self.tx.prepare(q))?.clone();
        Ok(self.tx.execute(&stmt, &as_params(params))?)
    }
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<postgres::Row>, StoreError> {
        let stmt = prepared(self.statements, sql, |q| self.tx.prepare(q))?.clone();
        Ok(self.tx.query(&stmt, &as_params(params))?)
    }
}

pub(super) struct Manager {
    config: postgres::Config,
    tls: MakeTlsConnector,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Cached;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Cached, postgres::Error> {
        Ok(Cached {
            client: self.config.connect(self.tls.clone())?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut Cached) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Cached) -> bool {
        conn.client.is_closed()
    }
}

#[derive(Clone)]
pub struct Postgres {
    pool: std::sync::Arc<Pool>,
}

/// The pool, dropped on a thread of its own: the synchronous client closes its
/// connections with a runtime of its own, which must not start on an async worker
/// (where the last handle to the store may go at shutdown).
struct Pool(Option<r2d2::Pool<Manager>>);

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<Manager>;
    fn deref(&self) -> &Self::Target {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only in drop"))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// TLS when the URL asks for it (`sslmode=require`), with the system's roots.
fn tls() -> Result<MakeTlsConnector, StoreError> {
    let builder = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls())
        .map_err(|e| StoreError::Config(format!("TLS: {e}")))?;
    Ok(MakeTlsConnector::new(builder.build()))
}

impl Postgres {
    /// Connect and migrate to the latest schema.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("[store] url: {e}")))?;
        let manager = Manager {
            config,
            tls: tls()?,
        };
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .build(manager)?;
        migrate(&mut pool.get()?.client)?;
        Ok(Self {
            pool: std::sync::Arc::new(Pool(Some(pool))),
        })
    }

    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        f(&mut Db::postgres(&mut *conn))
    }

    /// `f` in one transaction (READ COMMITTED; every check-and-set is one atomic
    /// statement or guarded by a lock), committed only if `f` succeeds.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(f, true)
    }

    /// `f` in a transaction that is rolled back.
    pub fn rehearse<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction(f, false)
    }

    fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
        commit: bool,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        let Cached { client, statements } = &mut *conn;
        let mut tx = CachedTx {
            tx: client.transaction()?,
            statements,
        };
        let out = f(&mut Db::postgres(&mut tx))?;
        if commit {
            tx.tx.commit()?;
        } else {
            tx.tx.rollback()?;
        }
        Ok(out)
    }
}

/// Apply what is missing, one replica at a time: replicas starting together wait for
/// the first, then find nothing to do.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let done: Vec<i64> = tx
        .query("SELECT version FROM schema_migrations", &[])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let now = crate::clock::Clock::default().now();
    for (version, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tracing::info!(version, "applying PostgreSQL migration");
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &now],
        )?;
    }
    tx.commit()?;
    Ok(())
}
