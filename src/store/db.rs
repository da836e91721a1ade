//! The one interface the table modules write their SQL against: `Db` (a connection, in a
//! transaction when writing), `Value` parameters and `Row` columns. SQL is written once,
//! with `$1`-style placeholders; each backend adapts it (SQLite reads `$N` as `?N`, and
//! `LIMIT ALL` as `LIMIT -1`). No driver type appears outside this folder. `rowid` (the
//! insertion order, for "evict the oldest") is SQLite's implicit column; other backends
//! declare a column of that name.

use std::borrow::Cow;

use super::StoreError;

/// A statement parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
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

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl From<&Option<i64>> for Value<'_> {
    fn from(v: &Option<i64>) -> Self {
        v.map_or(Value::Null, Value::Int)
    }
}

/// `args![a, b, c]`: statement parameters from anything that converts into a `Value`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($v)),*]
    };
}
pub(crate) use args;

/// A connection of one backend, in a transaction when the caller writes.
pub struct Db<'c> {
    pub(super) conn: &'c rusqlite::Connection,
}

/// One result row.
pub struct Row<'a, 'stmt> {
    row: &'a rusqlite::Row<'stmt>,
}

fn column<T: rusqlite::types::FromSql>(r: &rusqlite::Row<'_>, i: usize) -> Result<T, StoreError> {
    Ok(r.get(i)?)
}

impl Row<'_, '_> {
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        column(self.row, i)
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        column(self.row, i)
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        column(self.row, i)
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        column(self.row, i)
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
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
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
        Self { conn }
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<usize, StoreError> {
        let sql = sqlite_sql(sql);
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(params))?)
    }

    /// The first row, if any.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnOnce(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let sql = sqlite_sql(sql);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        match rows.next()? {
            Some(row) => f(&Row { row }).map(Some),
            None => Ok(None),
        }
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

    /// Every row.
    pub fn query_all<T>(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&Row<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let sql = sqlite_sql(sql);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(f(&Row { row })?);
        }
        Ok(out)
    }

    /// A single integer (`SELECT count(*) ...`, a PRAGMA).
    pub fn scalar(&mut self, sql: &str, params: &[Value<'_>]) -> Result<i64, StoreError> {
        self.query_one(sql, params, |r| r.int(0))
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
