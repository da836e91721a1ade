//! Configuration: one test per rejection of the contract, each naming entry and key.

use std::path::Path;
use std::process::Command;

use portico::config;

const GOOD: &str = r#"
issuer = "https://id.example.com"
[[connection]]
name = "customers-db"
signup = true
[[api]]
audience = "https://api.example.com"
scopes = ["orders:read"]
[[client]]
client_id = "customers-web"
type = "public"
redirect_uris = ["https://app.example.com/cb"]
connection = "customers-db"
audience = "https://api.example.com"
"#;

fn problems(text: &str) -> Vec<String> {
    match config::parse(text, Path::new("portico.toml"), &[]) {
        Ok(_) => vec![],
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

fn assert_rejected(text: &str, expected: &str) {
    let p = problems(text);
    assert!(
        p.iter().any(|m| m.contains(expected)),
        "expected a problem containing {expected:?}, got {p:#?}"
    );
}

#[test]
fn the_good_configuration_and_the_demo_are_accepted() {
    assert_eq!(problems(GOOD), Vec::<String>::new());
    let demo = std::fs::read_to_string("portico.toml").unwrap();
    let s = config::parse(&demo, Path::new("portico.toml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.issuer.as_str(), "http://127.0.0.1:8080");
    assert!(s.playground.enabled);
}

#[test]
fn misspelt_references_get_a_suggestion() {
    assert_rejected(
        &GOOD.replace("connection = \"customers-db\"", "connection = \"customer-db\""),
        "client \"customers-web\": connection \"customer-db\" is not defined (did you mean \"customers-db\"?)",
    );
    let second = "[[client]]\nclient_id = \"w2\"\ntype = \"public\"\nredirect_uris = [\"https://a.example.com/cb\"]\nconnection = \"customers-db\"\naudience = \"https://api.exmple.com\"\n";
    assert_rejected(
        &format!("{GOOD}\n{second}"),
        "client \"w2\": audience \"https://api.exmple.com\" is not defined by any [[api]] (did you mean \"https://api.example.com\"?)",
    );
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    assert_rejected(&format!("{GOOD}\ncolour = 1"), "unknown key \"colour\"");
    let typo = GOOD.replace("redirect_uris", "redirect_uri");
    assert_rejected(
        &typo,
        "client \"customers-web\": unknown key \"redirect_uri\" (did you mean \"redirect_uris\"?)",
    );
    assert_rejected(
        &GOOD.replace("signup = true", "sign_up = true"),
        "connection \"customers-db\": unknown key \"sign_up\"",
    );
    assert_rejected(
        &format!("{GOOD}\n[client.branding]\ncolor = \"#fff\""),
        "client \"customers-web\": branding: unknown key \"color\"",
    );
}

#[test]
fn duplicate_client_ids_are_rejected() {
    let dup = format!("{GOOD}\n[[client]]\nclient_id = \"customers-web\"\ntype = \"public\"\nredirect_uris = [\"https://x.example.com/cb\"]\nconnection = \"customers-db\"");
    assert_rejected(
        &dup,
        "client \"customers-web\": duplicate client_id \"customers-web\"",
    );
}

#[test]
fn duplicate_connection_names_are_rejected() {
    assert_rejected(
        &format!("{GOOD}\n[[connection]]\nname = \"customers-db\""),
        "connection \"customers-db\": duplicate connection name",
    );
}

#[test]
fn a_client_pointing_at_a_missing_connection_is_rejected() {
    assert_rejected(
        &GOOD.replace(
            "connection = \"customers-db\"",
            "connection = \"no-such-db\"",
        ),
        "client \"customers-web\": connection \"no-such-db\" is not defined",
    );
}

#[test]
fn a_client_pointing_at_a_missing_api_is_rejected() {
    assert_rejected(
        &GOOD.replace("connection = \"customers-db\"\naudience = \"https://api.example.com\"", "connection = \"customers-db\"\naudience = \"https://nope.example.com\""),
        "client \"customers-web\": audience \"https://nope.example.com\" is not defined by any [[api]]",
    );
}

#[test]
fn a_relative_redirect_uri_is_rejected() {
    assert_rejected(
        &GOOD.replace("https://app.example.com/cb", "/cb"),
        "client \"customers-web\": redirect_uris: \"/cb\" is not an absolute URI",
    );
}

#[test]
fn a_confidential_client_without_a_secret_is_rejected() {
    let c = format!("{GOOD}\n[[client]]\nclient_id = \"worker\"\ntype = \"confidential\"\ngrant_types = [\"client_credentials\"]\naudience = \"https://api.example.com\"");
    assert_rejected(
        &c,
        "client \"worker\": a confidential client needs client_secret_sha256",
    );
}

#[test]
fn a_public_client_with_a_secret_is_rejected() {
    assert_rejected(
        &GOOD.replace(
            "type = \"public\"",
            "type = \"public\"\nclient_secret = \"0123456789abcdef\"",
        ),
        "client \"customers-web\": a public client must not have a client_secret",
    );
}

#[test]
fn a_rule_that_does_not_compile_is_rejected_with_its_line() {
    let c =
        format!("{GOOD}\n[[rule]]\nname = \"broken\"\nscript = '''\nlet x = 1;\nlet y = ;\n'''");
    let p = problems(&c);
    assert!(
        p.iter()
            .any(|m| m.starts_with("rule \"broken\": does not compile") && m.contains("line 2")),
        "{p:#?}"
    );
}

#[test]
fn a_missing_script_file_is_rejected() {
    assert_rejected(
        &format!("{GOOD}\n[[rule]]\nname = \"r\"\nscript_file = \"rules/nope.rhai\""),
        "rule \"r\": script_file \"rules/nope.rhai\" cannot be read",
    );
}

#[test]
fn unsafe_branding_values_are_rejected() {
    assert_rejected(
        &format!("{GOOD}\n[client.branding]\nprimary_color = \"red;}} body {{ display:none\""),
        "branding.primary_color",
    );
    assert_rejected(
        &format!("{GOOD}\n[client.branding]\nlogo = \"javascript:alert(1)\""),
        "branding.logo",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = GOOD
        .replace("https://id.example.com", "https://id.example.com/")
        .replace("connection = \"customers-db\"", "connection = \"nope\"")
        + "\nfoo = 1\n[tokens]\nsigning_alg = \"HS256\"";
    let p = problems(&bad);
    assert!(p.len() >= 4, "{p:#?}");
}

#[test]
fn environment_overrides_replace_top_level_keys() {
    let s = config::parse(
        GOOD,
        Path::new("portico.toml"),
        &[
            ("issuer", "https://other.example.com".into()),
            ("listen", "0.0.0.0:9000".into()),
        ],
    )
    .unwrap();
    assert_eq!(s.issuer.as_str(), "https://other.example.com");
    assert_eq!(s.listen, "0.0.0.0:9000");
}

#[test]
fn portico_check_names_every_bad_key_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        GOOD.replace(
            "connection = \"customers-db\"",
            "connection = \"no-such-db\"",
        ) + "\nbogus = true\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["check", "--config"])
        .arg(&path)
        .env_remove("PORTICO_ISSUER")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("client \"customers-web\": connection \"no-such-db\" is not defined"),
        "{err}"
    );
    assert!(err.contains("unknown key \"bogus\""), "{err}");

    let ok = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["check", "--config", "portico.toml"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn serve_refuses_an_invalid_file_with_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        GOOD.replace("type = \"public\"", "type = \"secret-agent\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portico"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("client \"customers-web\": type \"secret-agent\" must be \"public\" or \"confidential\""), "{err}");
}
