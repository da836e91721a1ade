//! The one interface the table modules write their SQL against: `Db` (a connection, in a
//! transaction when writing), `Value` parameters and `Row` columns. SQL is written once,
//! with `$1`-style placeholders, in the common subset of SQLite and PostgreSQL; each
//! backend adapts it (SQLite reads `$N` as `?N` and `LIMIT ALL` as `LIMIT -1`). `rowid`
//! (insertion order, for "evict the oldest") is SQLite's implicit column; the PostgreSQL
//! schema declares a column of that name. No driver type appears outside this folder.

use std::borrow::Cow;

use super::StoreError;

/// A statement parameter. Nulls carry their type: PostgreSQL checks it.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Int(i64),
    Text(&'a str),
    NullInt,
    NullText,
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Value::NullText, Value::Text)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Value::NullText, Value::Text)
    }
}

impl From<&Option<i64>> for Value<'_> {
    fn from(v: &Option<i64>) -> Self {
        v.map_or(Value::NullInt, Value::Int)
    }
}

/// `args![a, b, c]`: statement parameters from anything that converts into a `Value`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($v)),*]
    };
}
pub(crate) use args;

/// What `Db` needs of a PostgreSQL connection or transaction (store::postgres has them).
pub(super) trait PgConn {
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<postgres::Row>, StoreError>;
}

/// A connection of one backend, in a transaction when the caller writes.
pub struct Db<'c> {
    inner: Inner<'c>,
}

enum Inner<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c mut dyn PgConn),
}

/// One result row.
pub struct Row<'a, 'stmt> {
    inner: RowRef<'a, 'stmt>,
}

enum RowRef<'a, 'stmt> {
    Sqlite(&'a rusqlite::Row<'stmt>),
    Postgres(&'a postgres::Row),
}

impl Row<'_, '_> {
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match &self.inner {
            RowRef::Sqlite(r) => Ok(r.get(i)?),
            // Aggregates and literals may come as INT4; our columns are BIGINT.
            RowRef::Postgres(r) => match r.try_get::<_, Option<i64>>(i) {
                Ok(v) => Ok(v),
                Err(_) => Ok(r.try_get::<_, Option<i32>>(i)?.map(i64::from)),
            },
        }
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is NULL")))
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match &self.inner {
            RowRef::Sqlite(r) => Ok(r.get(i)?),
            RowRef::Postgres(r) => Ok(r.try_get(i)?),
        }
    }
    /// An integer column holding 0 or 1.
    pub fn flag(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.int(i)? != 0)
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::NullInt | Value::NullText => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// SQLite's spelling of the common SQL: `?N` placeholders, `LIMIT -1` for no limit.
fn sqlite_sql(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') && !sql.contains("LIMIT ALL") {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out.replace("LIMIT ALL", "LIMIT -1"))
}

impl<'c> Db<'c> {
    pub(super) fn sqlite(conn: &'c rusqlite::Connection) -> Self {
        Self {
            inner: Inner::Sqlite(conn),
        }
    }

    pub(super) fn postgres(conn: &'c mut dyn PgConn) -> Self {
        Self {
            inner: Inner::Postgres(conn),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, Inner::Postgres(_))
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<usize, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(c) => Ok(c
                .prepare_cached(&sqlite_sql(sql))?
                .execute(rusqlite::params_from_iter(params))?),
            Inner::Postgres(c) => Ok(c.execute(sql, params)? as usize),
        }
    }

    /// Every row, mapped.
    pub fn query_all<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match &mut self.inner {
            Inner::Sqlite(c) => {
                let mut stmt = c.prepare_cached(&sqlite_sql(sql))?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row {
                        inner: RowRef::Sqlite(row),
                    })?);
                }
                Ok(out)
            }
            Inner::Postgres(c) => c
                .query(sql, params)?
                .iter()
                .map(|row| {
                    f(&Row {
                        inner: RowRef::Postgres(row),
                    })
                })
                .collect(),
        }
    }

    /// The first row, if any.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnOnce(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut f = Some(f);
        let mut first = self.query_all(sql, params, |r| match f.take() {
            Some(f) => f(r).map(Some),
            None => Ok(None),
        })?;
        Ok(if first.is_empty() {
            None
        } else {
            first.swap_remove(0)
        })
    }

    /// The one row a statement must return (an aggregate, `RETURNING`).
    pub fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnOnce(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| StoreError::Corrupt("a statement returned no row".into()))
    }

    /// A single integer (`SELECT count(*) ...`).
    pub fn scalar(&mut self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        self.query_one(sql, params, |r| r.int(0))
    }

    /// Serialise with every other writer taking the same lock, until this transaction
    /// ends (one writer of the signing keys across replicas). SQLite's write transaction
    /// is exclusive already; PostgreSQL takes a transaction-level advisory lock.
    pub fn exclusive(&mut self, lock: i64) -> Result<(), StoreError> {
        match &mut self.inner {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(c) => {
                c.query("SELECT pg_advisory_xact_lock($1)", &[Value::Int(lock)])?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_reads_dollar_placeholders_and_limit_all() {
        assert_eq!(
            sqlite_sql("SELECT a FROM t WHERE b = $1 AND c = $12 ORDER BY d LIMIT ALL OFFSET $2"),
            "SELECT a FROM t WHERE b = ?1 AND c = ?12 ORDER BY d LIMIT -1 OFFSET ?2"
        );
        assert!(matches!(sqlite_sql("SELECT 1"), Cow::Borrowed(_)));
    }
}
