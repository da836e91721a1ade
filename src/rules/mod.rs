//! Post-login rules: Rhai scripts compiled once at start and run after every login and
//! sign-up, in a sandbox with operation, depth, size and wall-clock limits. Any error
//! fails closed (the login is denied).

mod api;
mod engine;
mod event;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rhai::{Engine, EvalAltResult, Scope, AST};

use api::Effects;
pub use api::RuleApi;
use engine::{engine, DEADLINE};
pub use engine::{escape_controls, RULE_TIME_LIMIT};
pub use event::{
    EventClient, EventConnection, EventInvitation, EventRequest, EventUser, RuleEvent,
};

/// Claims a rule may not set: the registered ones the server owns (interface.md, Rules),
/// plus those whose forgery would let a rule impersonate another identity or client.
pub const PROTECTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "nonce",
    "auth_time",
    "at_hash",
    "roles",
    "azp",
    "typ",
    "email",
    "email_verified",
    "sid",
];

/// One rule, parsed.
#[derive(Clone)]
pub struct CompiledRule {
    pub name: String,
    ast: AST,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.name)
            .finish()
    }
}

impl CompiledRule {
    /// The error names the line and position (rhai's ParseError display).
    pub fn compile(name: &str, source: &str) -> Result<Self, String> {
        let ast = engine().compile(source).map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_owned(),
            ast,
        })
    }
}

/// The result of all rules for one login.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The user's roles after the rules ran.
    pub roles: Vec<String>,
    pub roles_changed: bool,
    pub access_token_claims: serde_json::Map<String, serde_json::Value>,
    pub id_token_claims: serde_json::Map<String, serde_json::Value>,
    /// `api.deny(reason)` was called: the client gets access_denied.
    pub denied: Option<String>,
}

/// A rule failed (error, limit, refused claim): the login is denied, the reason logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("rule \"{rule}\" failed: {}", escape_controls(.reason))]
pub struct RuleFailure {
    pub rule: String,
    pub reason: String,
}

/// The claims a login's rules may add, serialised, in all: they are stored with every
/// code and refresh token (review M4).
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// Run the rules on a blocking thread, with a hard bound: should a rule block that
/// thread anyway, the login is denied when the bound passes (fail closed).
pub async fn run_bounded(
    rules: &RuleSet,
    event: RuleEvent,
    roles: Vec<String>,
) -> Result<Outcome, RuleFailure> {
    if rules.is_empty() {
        return Ok(Outcome {
            roles,
            ..Default::default()
        });
    }
    let bound = RULE_TIME_LIMIT * (rules.rules.len() as u32) + Duration::from_millis(500);
    let rs = rules.clone();
    let job = tokio::task::spawn_blocking(move || rs.run(&event));
    match tokio::time::timeout(bound, job).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => Err(RuleFailure {
            rule: "?".into(),
            reason: e.to_string(),
        }),
        Err(_) => Err(RuleFailure {
            rule: "?".into(),
            reason: format!("the rules did not finish within {} ms", bound.as_millis()),
        }),
    }
}

/// All rules in file order, with the sandboxed engine that runs them.
#[derive(Clone)]
pub struct RuleSet {
    rules: Arc<Vec<CompiledRule>>,
    engine: Arc<Engine>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| &r.name))
            .finish()
    }
}

impl RuleSet {
    pub fn new(rules: Vec<CompiledRule>) -> Self {
        Self {
            rules: Arc::new(rules),
            engine: Arc::new(engine()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// Run every rule in order. CPU-bound: call from a blocking thread.
    pub fn run(&self, event: &RuleEvent) -> Result<Outcome, RuleFailure> {
        let effects = RuleApi(Arc::new(Mutex::new(Effects {
            roles: event.user.roles.clone(),
            ..Effects::default()
        })));
        let before = event.user.roles.clone();
        let mut event = event.clone();
        for rule in self.rules.iter() {
            // Each rule sees the roles as the rules before it left them.
            event.user.roles = effects.with(|e| e.roles.clone());
            let fail = |reason: String| RuleFailure {
                rule: rule.name.clone(),
                reason,
            };
            let event_dyn = rhai::serde::to_dynamic(&event).map_err(|e| fail(e.to_string()))?;
            let mut scope = Scope::new();
            scope.push_constant("event", event_dyn);
            scope.push("api", effects.clone());
            DEADLINE.with(|d| d.set(Some(Instant::now() + RULE_TIME_LIMIT)));
            let result = self.engine.run_ast_with_scope(&mut scope, &rule.ast);
            DEADLINE.with(|d| d.set(None));
            if let Err(err) = result {
                if effects.with(|e| e.denied.is_some()) {
                    break;
                }
                return Err(fail(describe(&err)));
            }
            if effects.with(|e| e.denied.is_some()) {
                break;
            }
        }
        let e = effects.with(std::mem::take);
        let claims_len = serde_json::to_string(&e.access).map_or(0, |x| x.len())
            + serde_json::to_string(&e.id).map_or(0, |x| x.len());
        if claims_len > MAX_CLAIMS_BYTES {
            return Err(RuleFailure {
                rule: self
                    .rules
                    .last()
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                reason: format!("the claims set by rules exceed {MAX_CLAIMS_BYTES} bytes"),
            });
        }
        let as_set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
        let roles_changed = as_set(&e.roles) != as_set(&before);
        Ok(Outcome {
            roles_changed,
            roles: e.roles,
            access_token_claims: e.access,
            id_token_claims: e.id,
            denied: e.denied,
        })
    }
}

fn describe(err: &EvalAltResult) -> String {
    match err {
        EvalAltResult::ErrorTerminated(v, pos) => format!("{} ({pos})", v),
        EvalAltResult::ErrorTooManyOperations(pos) => format!("operation limit exceeded ({pos})"),
        EvalAltResult::ErrorStackOverflow(pos) => format!("call depth limit exceeded ({pos})"),
        EvalAltResult::ErrorDataTooLarge(what, pos) => {
            format!("{what} exceeds its size limit ({pos})")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(client: &str, signup: bool) -> RuleEvent {
        RuleEvent {
            user: EventUser {
                id: "usr_1".into(),
                email: "ann@example.com".into(),
                email_verified: false,
                connection: "partners-db".into(),
                roles: vec!["existing".into()],
                logins_count: 1,
                created_at: 0,
            },
            client: EventClient {
                id: client.into(),
                name: "Partners".into(),
            },
            connection: EventConnection {
                name: "partners-db".into(),
                kind: "database".into(),
            },
            signup,
            request: EventRequest {
                ip: "127.0.0.1".into(),
                query: [("signup_source".to_owned(), "newsletter".to_owned())].into(),
            },
            invitation: None,
            upstream: None,
        }
    }

    fn rules(scripts: &[&str]) -> RuleSet {
        RuleSet::new(
            scripts
                .iter()
                .enumerate()
                .map(|(i, s)| CompiledRule::compile(&format!("r{i}"), s).unwrap())
                .collect(),
        )
    }

    fn run(scripts: &[&str]) -> Result<Outcome, RuleFailure> {
        rules(scripts).run(&event("partners-web", true))
    }

    #[test]
    fn add_and_remove_role() {
        let o = run(&[
            r#"api.add_role("partner"); api.add_role("partner"); api.remove_role("existing");"#,
        ])
        .unwrap();
        assert_eq!(o.roles, vec!["partner"]);
        assert!(o.roles_changed);
        let same = run(&["let x = 1;"]).unwrap();
        assert!(!same.roles_changed);
    }

    #[test]
    fn claims_go_to_the_token_they_name() {
        let o = run(&[r#"
            api.set_access_token_claim("tier", "gold");
            api.set_id_token_claim("profile", #{ plan: "pro", seats: 3 });
            api.set_access_token_claim("source", event.request.query.signup_source);
        "#])
        .unwrap();
        assert_eq!(o.access_token_claims["tier"], "gold");
        assert_eq!(o.access_token_claims["source"], "newsletter");
        assert_eq!(o.id_token_claims["profile"]["seats"], 3);
        assert!(!o.id_token_claims.contains_key("tier"));
    }

    #[test]
    fn the_event_object_has_the_contract_fields() {
        let o = run(&[r#"
            if event.user.id != "usr_1" || event.user.email != "ann@example.com" { throw "user"; }
            if event.user.email_verified || event.user.connection != "partners-db" { throw "user2"; }
            if event.user.roles[0] != "existing" || event.user.logins_count != 1 || event.user.created_at != 0 { throw "user3"; }
            if event.client.id != "partners-web" || event.client.name != "Partners" { throw "client"; }
            if event.connection.name != "partners-db" || !event.signup { throw "conn"; }
            if event.request.ip != "127.0.0.1" { throw "ip"; }
        "#]);
        assert!(o.is_ok(), "{o:?}");
    }

    #[test]
    fn registered_claims_cannot_be_set() {
        for claim in [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "client_id",
            "scope",
            "nonce",
            "auth_time",
            "at_hash",
            "roles",
        ] {
            let e = run(&[&format!(r#"api.set_access_token_claim("{claim}", "x");"#)]).unwrap_err();
            assert!(e.reason.contains("registered"), "{claim}: {e}");
            assert!(run(&[&format!(r#"api.set_id_token_claim("{claim}", "x");"#)]).is_err());
        }
    }

    #[test]
    fn rules_run_in_order_and_see_earlier_roles() {
        let o = run(&[
            r#"api.add_role("partner");"#,
            r#"if "partner" in event.user.roles { api.set_access_token_claim("saw", true); }"#,
        ])
        .unwrap();
        assert_eq!(o.access_token_claims["saw"], true);
    }

    #[test]
    fn deny_stops_the_remaining_rules() {
        let o = run(&[
            r#"api.add_role("a"); api.deny("not today"); api.add_role("b");"#,
            r#"api.add_role("c");"#,
        ])
        .unwrap();
        assert_eq!(o.denied.as_deref(), Some("not today"));
        assert!(!o.roles.contains(&"b".to_owned()) && !o.roles.contains(&"c".to_owned()));
    }

    #[test]
    fn errors_and_limits_fail_closed() {
        for (script, why) in [
            ("loop { }", "operation"),
            ("let s = \"x\"; loop { s += s; }", "size"),
            ("fn f(n) { f(n + 1) } f(0);", "depth"),
            ("let a = []; loop { a.push(1); }", "size"),
            ("throw \"boom\";", "boom"),
            ("let x = event.user.nope.deeper;", "error"),
            ("api.add_role(\"has space\");", "invalid role"),
        ] {
            let e = run(&[script]);
            assert!(e.is_err(), "{why}: {script} should fail, got {e:?}");
        }
    }

    #[test]
    fn sleep_is_refused_and_the_rule_denies() {
        for script in ["sleep(5);", "sleep(1e9);", "sleep(2); let x = 1;"] {
            let started = Instant::now();
            let e = run(&[script]).unwrap_err();
            assert!(e.reason.contains("sleep"), "{script}: {e}");
            assert!(started.elapsed() < Duration::from_secs(1), "{script} slept");
        }
    }

    #[test]
    fn oversized_claims_deny_the_login() {
        let e = run(&[r#"
            let big = "x";
            big.pad(3000, "x");
            api.set_access_token_claim("a", big);
            api.set_id_token_claim("b", big);
        "#])
        .unwrap_err();
        assert!(e.reason.contains("exceed"), "{e}");
    }

    #[test]
    fn control_characters_are_escaped_for_the_logs() {
        let s = escape_controls("ok\nFAKE audit line\u{1b}[31m\u{202e}");
        assert!(
            !s.contains('\n') && !s.contains('\u{1b}') && !s.contains('\u{202e}'),
            "{s}"
        );
        assert!(s.starts_with("ok\\u{a}FAKE"), "{s}");
    }

    #[test]
    fn eval_is_not_available() {
        assert!(CompiledRule::compile("e", "eval(\"1\")").is_err());
    }

    #[test]
    fn a_slow_rule_is_stopped_by_the_wall_clock() {
        // Each operation is cheap but the loop is bounded only by the operation limit
        // (200k); string building makes it slow enough to hit either bound.
        let e = run(&["let s = \"\"; for i in 0..1000000 { s = `${i}`; }"]);
        assert!(e.is_err());
    }
}
