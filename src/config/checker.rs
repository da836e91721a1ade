//! Reading the file: every problem collected (never the first only), unknown keys
//! reported with a suggestion, each `[[entry]]` checked on its own. The known keys of a
//! section are the fields of its serde struct, so they cannot drift apart.

use serde::Deserialize;

use super::Problem;

/// The keys a serde struct accepts (its field names, renames applied).
pub(super) fn known_keys<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<T>()
}

/// Collects problems while the file is read.
pub(super) struct Checker {
    pub(super) problems: Vec<Problem>,
}

impl Checker {
    pub(super) fn add(&mut self, entry: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            entry: entry.to_owned(),
            message: message.into(),
        });
    }

    /// Report and remove keys not in `known`, so serde then reports only type errors.
    pub(super) fn unknown_keys(&mut self, entry: &str, table: &mut toml::Table, known: &[&str]) {
        let unknown: Vec<String> = table
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let hint = closest(&k, known)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            self.add(entry, format!("unknown key \"{k}\"{hint}"));
            table.remove(&k);
        }
    }

    /// A `[key]` table into `T`; its known keys are `T`'s fields.
    pub(super) fn section<T: for<'de> Deserialize<'de> + Default>(
        &mut self,
        root: &mut toml::Table,
        key: &str,
    ) -> T {
        let known = known_keys::<T>();
        match root.remove(key) {
            None => T::default(),
            Some(toml::Value::Table(mut t)) => {
                self.unknown_keys(key, &mut t, known);
                self.typed(key, t).unwrap_or_default()
            }
            Some(_) => {
                self.add(key, "must be a table");
                T::default()
            }
        }
    }

    pub(super) fn typed<T: for<'de> Deserialize<'de>>(
        &mut self,
        entry: &str,
        t: toml::Table,
    ) -> Option<T> {
        match T::deserialize(toml::Value::Table(t)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(entry, e.message().trim().to_owned());
                None
            }
        }
    }

    /// `[[name]]` arrays: each entry checked on its own so one bad entry hides nothing.
    pub(super) fn entries<T: for<'de> Deserialize<'de>>(
        &mut self,
        root: &mut toml::Table,
        key: &str,
        id_key: &str,
        nested: &[(&str, &[&str])],
    ) -> Vec<(String, T)> {
        let known = known_keys::<T>();
        let items = match root.remove(key) {
            None => return Vec::new(),
            Some(toml::Value::Array(a)) => a,
            Some(_) => {
                self.add(key, format!("must be an array of tables ([[{key}]])"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let toml::Value::Table(mut t) = item else {
                self.add(&format!("{key} #{}", i + 1), "must be a table");
                continue;
            };
            let label = match t.get(id_key).and_then(|v| v.as_str()) {
                Some(id) => format!("{key} \"{id}\""),
                None => format!("{key} #{}", i + 1),
            };
            self.unknown_keys(&label, &mut t, known);
            for (sub, sub_known) in nested {
                if let Some(toml::Value::Table(st)) = t.get_mut(*sub) {
                    let sub_label = format!("{label}: {sub}");
                    self.unknown_keys(&sub_label, st, sub_known);
                }
            }
            if let Some(v) = self.typed::<T>(&label, t) {
                out.push((label, v));
            }
        }
        out
    }
}

/// ` (did you mean "x"?)` when `name` is a near miss of one of `known`, else nothing.
pub fn did_you_mean(name: &str, known: &[&str]) -> String {
    closest(name, known)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default()
}

/// A near miss for "did you mean": same keys except one typo.
pub(super) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    known
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}
