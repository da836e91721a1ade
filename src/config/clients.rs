//! `[[client]]` and its `[client.branding]`: the applications, their redirect URIs,
//! grants, connection, APIs, secret and brand.

use std::collections::HashSet;

use serde::Deserialize;

use super::checker::{did_you_mean, known_keys, Checker};
use super::{Api, Branding, Client, ClientType, Connection, GrantType, SecretDigest, ADMIN_SCOPES};
use crate::domain::{ClientId, ConnectionName, RedirectUri};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBranding {
    title: Option<String>,
    logo: Option<String>,
    primary_color: Option<String>,
    stylesheet: Option<String>,
    signup_heading: Option<String>,
    email_from: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    client_id: String,
    name: Option<String>,
    #[serde(rename = "type")]
    client_type: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    connection: Option<String>,
    connections: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    audience: Option<String>,
    branding: Option<RawBranding>,
    client_secret: Option<String>,
    client_secret_sha256: Option<String>,
    apis: Option<Vec<String>>,
    initiate_login_uri: Option<String>,
    #[serde(default)]
    admin_scopes: Vec<String>,
}

pub(super) fn parse(
    c: &mut Checker,
    root: &mut toml::Table,
    connections: &[Connection],
    apis: &[Api],
) -> Vec<Client> {
    let mut clients: Vec<Client> = Vec::new();
    let mut seen_ids = HashSet::new();
    let nested: &[(&str, &[&str])] = &[("branding", known_keys::<RawBranding>())];
    for (label, rc) in c.entries::<RawClient>(root, "client", "client_id", nested) {
        if let Some(client) = validate_client(c, &label, rc, connections, apis) {
            if !seen_ids.insert(client.client_id.clone()) {
                c.add(
                    &label,
                    format!("duplicate client_id \"{}\"", client.client_id),
                );
                continue;
            }
            clients.push(client);
        }
    }

    clients
}

/// One entry's problems go to `c` under `label`.
struct Entry<'c> {
    c: &'c mut Checker,
    label: &'c str,
}

impl Entry<'_> {
    fn add(&mut self, message: impl Into<String>) {
        self.c.add(self.label, message);
    }
}

fn validate_client(
    c: &mut Checker,
    label: &str,
    rc: RawClient,
    connections: &[Connection],
    apis: &[Api],
) -> Option<Client> {
    let mut e = Entry { c, label };
    let client_id = match ClientId::parse(&rc.client_id) {
        Ok(id) => id,
        Err(err) => {
            e.add(format!("client_id {err}"));
            return None;
        }
    };
    let client_type = match rc.client_type.as_str() {
        "public" => ClientType::Public,
        "confidential" => ClientType::Confidential,
        other => {
            e.add(format!(
                "type \"{other}\" must be \"public\" or \"confidential\""
            ));
            return None;
        }
    };
    let grant_types = grant_types(&mut e, rc.grant_types, client_type);
    let uses_code = grant_types.contains(&GrantType::AuthorizationCode);
    let redirect_uris = uris(&mut e, "redirect_uris", &rc.redirect_uris);
    let post_logout_redirect_uris = uris(
        &mut e,
        "post_logout_redirect_uris",
        &rc.post_logout_redirect_uris,
    );
    if uses_code && rc.redirect_uris.is_empty() {
        e.add("redirect_uris must list at least one URI for the authorization_code grant");
    }
    let (connection, upstreams) = connections_of(
        &mut e,
        rc.connection,
        rc.connections,
        connections,
        uses_code,
    );
    let client_apis = client_apis(&mut e, rc.audience.as_deref(), rc.apis, apis);
    let secret = secret(
        &mut e,
        client_type,
        rc.client_secret,
        rc.client_secret_sha256,
    );
    let name = rc.name.unwrap_or_else(|| client_id.to_string());
    let branding = branding(&mut e, rc.branding.unwrap_or_default(), &name);
    let initiate_login_uri = initiate_login_uri(&mut e, rc.initiate_login_uri);
    let admin_scopes = admin_scopes(&mut e, rc.admin_scopes, client_type, &grant_types);
    Some(Client {
        client_id,
        name,
        client_type,
        redirect_uris,
        post_logout_redirect_uris,
        connection,
        grant_types,
        audience: rc.audience,
        branding,
        secret,
        apis: client_apis,
        initiate_login_uri,
        admin_scopes,
        upstreams,
    })
}

/// OIDC Core 4: an absolute http(s) URL (http for local development, like redirect URIs).
fn initiate_login_uri(e: &mut Entry<'_>, uri: Option<String>) -> Option<String> {
    uri.filter(|u| {
        let ok = RedirectUri::parse(u).is_ok()
            && (u.starts_with("https://") || u.starts_with("http://"));
        if !ok {
            e.add(format!(
                "initiate_login_uri \"{u}\" must be an absolute http(s) URL"
            ));
        }
        ok
    })
}

/// A client of the admin API acts for itself only: confidential, client_credentials
/// alone (a user's login must never carry admin scopes), scopes from the known set.
fn admin_scopes(
    e: &mut Entry<'_>,
    scopes: Vec<String>,
    client_type: ClientType,
    grants: &[GrantType],
) -> Vec<String> {
    if scopes.is_empty() {
        return scopes;
    }
    for s in &scopes {
        if !ADMIN_SCOPES.contains(&s.as_str()) {
            let hint = did_you_mean(s, ADMIN_SCOPES);
            e.add(format!("admin_scopes: \"{s}\" is not an admin scope{hint}"));
        }
    }
    if client_type != ClientType::Confidential || grants != [GrantType::ClientCredentials] {
        e.add(
            "admin_scopes need a confidential client whose only grant type is client_credentials",
        );
    }
    scopes
}

fn grant_types(
    e: &mut Entry<'_>,
    names: Option<Vec<String>>,
    client_type: ClientType,
) -> Vec<GrantType> {
    let names =
        names.unwrap_or_else(|| vec!["authorization_code".to_owned(), "refresh_token".to_owned()]);
    let mut grant_types = Vec::new();
    for g in &names {
        match GrantType::parse(g) {
            Some(gt) => grant_types.push(gt),
            None => e.add(format!(
                "grant type \"{g}\" is not one of authorization_code, refresh_token, client_credentials"
            )),
        }
    }
    if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials) {
        e.add("a public client cannot use the client_credentials grant (it has no secret)");
    }
    if grant_types.contains(&GrantType::RefreshToken)
        && !grant_types.contains(&GrantType::AuthorizationCode)
    {
        e.add("the refresh_token grant needs the authorization_code grant");
    }
    grant_types
}

fn uris(e: &mut Entry<'_>, key: &str, list: &[String]) -> Vec<RedirectUri> {
    list.iter()
        .filter_map(|u| match RedirectUri::parse(u) {
            Ok(r) => Some(r),
            Err(err) => {
                e.add(format!("{key}: {err}"));
                None
            }
        })
        .collect()
}

/// `connection = "x"` or `connections = [...]`: at most one database connection (the
/// password form) and any number of upstream ones (a button each).
fn connections_of(
    e: &mut Entry<'_>,
    one: Option<String>,
    many: Option<Vec<String>>,
    connections: &[Connection],
    uses_code: bool,
) -> (Option<ConnectionName>, Vec<ConnectionName>) {
    let names = match (one, many) {
        (Some(_), Some(_)) => {
            e.add("give connection or connections, not both");
            return (None, Vec::new());
        }
        (Some(n), None) => vec![n],
        (None, Some(v)) => v,
        (None, None) => Vec::new(),
    };
    if names.is_empty() && uses_code {
        e.add("connection (or connections) is required for the authorization_code grant");
    }
    let (mut database, mut upstreams) = (None, Vec::new());
    for name in names {
        let Some(x) = connections.iter().find(|x| x.name.as_str() == name) else {
            let known: Vec<&str> = connections.iter().map(|x| x.name.as_str()).collect();
            let hint = did_you_mean(&name, &known);
            e.add(format!("connection \"{name}\" is not defined{hint}"));
            continue;
        };
        match &x.upstream {
            Some(_) if upstreams.contains(&x.name) => {
                e.add(format!("connection \"{name}\" is listed twice"))
            }
            Some(_) => upstreams.push(x.name.clone()),
            None if database.is_some() => {
                e.add("connections may list at most one database connection (plus upstream ones)")
            }
            None => database = Some(x.name.clone()),
        }
    }
    (database, upstreams)
}

/// RFC 8707 2: the APIs this client may ask for; by default only its own audience.
fn client_apis(
    e: &mut Entry<'_>,
    audience: Option<&str>,
    listed: Option<Vec<String>>,
    apis: &[Api],
) -> Vec<String> {
    let audiences: Vec<&str> = apis.iter().map(|a| a.audience.as_str()).collect();
    let unknown = |e: &mut Entry<'_>, what: &str, a: &str| {
        if !audiences.contains(&a) {
            let hint = did_you_mean(a, &audiences);
            e.add(format!(
                "{what} \"{a}\" is not defined by any [[api]]{hint}"
            ));
        }
    };
    if let Some(aud) = audience {
        unknown(e, "audience", aud);
    }
    let Some(list) = listed else {
        return audience.map(str::to_owned).into_iter().collect();
    };
    for a in &list {
        unknown(e, "apis:", a);
    }
    if let Some(aud) = audience {
        if !list.iter().any(|a| a == aud) {
            e.add(format!("apis must include the client's audience \"{aud}\""));
        }
    }
    list
}

fn secret(
    e: &mut Entry<'_>,
    client_type: ClientType,
    plain: Option<String>,
    digest: Option<String>,
) -> Option<SecretDigest> {
    match (client_type, plain, digest) {
        (ClientType::Public, None, None) => None,
        (ClientType::Public, _, _) => {
            e.add("a public client must not have a client_secret");
            None
        }
        (ClientType::Confidential, None, None) => {
            e.add("a confidential client needs client_secret_sha256 (or client_secret)");
            None
        }
        (ClientType::Confidential, Some(_), Some(_)) => {
            e.add("give client_secret or client_secret_sha256, not both");
            None
        }
        (ClientType::Confidential, Some(plain), None) => {
            if plain.len() < 16 {
                e.add("client_secret must be at least 16 characters");
            }
            Some(SecretDigest(crate::crypto::sha256(plain.as_bytes())))
        }
        (ClientType::Confidential, None, Some(hex)) => {
            let d = hex32(&hex.to_ascii_lowercase()).map(SecretDigest);
            if d.is_none() {
                e.add("client_secret_sha256 must be 64 hexadecimal characters");
            }
            d
        }
    }
}

fn branding(e: &mut Entry<'_>, rb: RawBranding, name: &str) -> Branding {
    let primary_color = rb.primary_color.unwrap_or_else(|| "#2f6f4f".to_owned());
    if !is_css_color(&primary_color) {
        e.add(format!(
            "branding.primary_color \"{primary_color}\" must be a hex colour like #1f6feb"
        ));
    }
    for (key, v) in [("logo", &rb.logo), ("stylesheet", &rb.stylesheet)] {
        if let Some(v) = v.as_ref().filter(|v| !is_asset_url(v)) {
            e.add(format!(
                "branding.{key} \"{v}\" must be a path on this server (/static/...) or an https URL"
            ));
        }
    }
    let title = rb.title.unwrap_or_else(|| name.to_owned());
    let email_from = rb.email_from.and_then(|f| match f.parse() {
        Ok(m) => Some(m),
        Err(err) => {
            e.add(format!(
                "branding.email_from \"{f}\" is not a mailbox (\"Name <a@b.example>\"): {err}"
            ));
            None
        }
    });
    Branding {
        signup_heading: rb
            .signup_heading
            .unwrap_or_else(|| format!("Create your {title} account")),
        title,
        logo: rb.logo,
        primary_color,
        stylesheet: rb.stylesheet,
        email_from,
    }
}

fn is_css_color(s: &str) -> bool {
    let hex = s.strip_prefix('#').unwrap_or("");
    matches!(hex.len(), 3 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Logos and stylesheets are URLs placed in attributes: a path on this server or an
/// https URL, with no characters that could break out of the attribute or CSS.
fn is_asset_url(s: &str) -> bool {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'<' | b'>' | b'(' | b')' | b'\\')
        });
    safe && ((s.starts_with('/') && !s.starts_with("//")) || s.starts_with("https://"))
}

pub(super) fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let hi = (chunk[0] as char).to_digit(16)?;
        let lo = (chunk[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}
