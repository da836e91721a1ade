//! The sandboxed Rhai engine: operation, depth, size and wall-clock limits, no `eval`,
//! no `sleep`, log output escaped.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine};

use super::api::{rule_error, RhaiResult, RuleApi};

/// Wall-clock bound per rule, enforced through the engine's progress callback.
pub const RULE_TIME_LIMIT: Duration = Duration::from_millis(200);
pub(super) const MAX_OPERATIONS: u64 = 200_000;

thread_local! {
    /// When the rule running on this thread must stop.
    pub(super) static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

pub(super) fn engine() -> Engine {
    let mut e = Engine::new();
    e.set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(32)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(16 * 1024)
        .set_max_array_size(1024)
        .set_max_map_size(1024)
        .set_max_variables(256)
        .set_max_functions(64);
    e.disable_symbol("eval");
    e.on_print(|s| tracing::info!(target: "portico::rules", "{}", escape_controls(s)));
    e.on_debug(|s, src, pos| {
        tracing::debug!(target: "portico::rules", ?src, %pos, "{}", escape_controls(s))
    });
    // Rhai's `sleep` blocks the thread between two progress checks, so no wall-clock
    // limit could cut it (review L1). These shadow the package's versions.
    e.register_fn("sleep", |_: rhai::INT| -> RhaiResult {
        Err(rule_error("sleep() is not available to rules".into()))
    });
    e.register_fn("sleep", |_: rhai::FLOAT| -> RhaiResult {
        Err(rule_error("sleep() is not available to rules".into()))
    });
    e.on_progress(|_ops| {
        let late = DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() > t));
        late.then(|| Dynamic::from("time limit exceeded"))
    });
    e.register_type_with_name::<RuleApi>("Api")
        .register_fn("add_role", RuleApi::add_role)
        .register_fn("remove_role", RuleApi::remove_role)
        .register_fn("set_access_token_claim", RuleApi::set_access_claim)
        .register_fn("set_id_token_claim", RuleApi::set_id_claim)
        .register_fn("deny", RuleApi::deny);
    e
}

/// Rule output and failure reasons go to the logs: control characters are escaped so a
/// rule echoing a request value cannot forge log lines (review S6).
pub fn escape_controls(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() || crate::domain::is_hidden_char(c) {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
