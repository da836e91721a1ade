//! `[[rule]]`: post-login rules, compiled here so a syntax error stops `check` and `serve`.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use super::checker::Checker;
use crate::rules::{CompiledRule, RuleSet};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    name: String,
    script: Option<String>,
    script_file: Option<String>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table, config_dir: &Path) -> RuleSet {
    let mut rule_sources = Vec::new();
    let mut rule_names = HashSet::new();
    for (label, rr) in c.entries::<RawRule>(root, "rule", "name", &[]) {
        if !rule_names.insert(rr.name.clone()) {
            c.add(&label, format!("duplicate rule name \"{}\"", rr.name));
            continue;
        }
        let source = match (rr.script, rr.script_file) {
            (Some(s), None) => s,
            (None, Some(f)) => {
                let p = config_dir.join(&f);
                match std::fs::read_to_string(&p) {
                    Ok(s) => s,
                    Err(e) => {
                        c.add(&label, format!("script_file \"{f}\" cannot be read: {e}"));
                        continue;
                    }
                }
            }
            (Some(_), Some(_)) => {
                c.add(&label, "give either script or script_file, not both");
                continue;
            }
            (None, None) => {
                c.add(&label, "script or script_file is required");
                continue;
            }
        };
        rule_sources.push((label, rr.name, source));
    }
    let mut compiled: Vec<CompiledRule> = Vec::new();
    for (label, name, source) in rule_sources {
        match CompiledRule::compile(&name, &source) {
            Ok(r) => compiled.push(r),
            Err(e) => c.add(&label, format!("does not compile: {e}")),
        }
    }

    RuleSet::new(compiled)
}
