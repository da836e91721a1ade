//! `[playground]`: the demo relying party, and the clients whose doors it opens.

use serde::Deserialize;

use super::checker::{did_you_mean, Checker};
use super::{Client, GrantType, Playground};
use crate::domain::{ClientId, Issuer, RedirectUri};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlayground {
    #[serde(default)]
    enabled: bool,
    clients: Option<Vec<String>>,
}

pub(super) fn parse(c: &mut Checker, root: &mut toml::Table, clients: &[Client]) -> Playground {
    let raw_pg: RawPlayground = c.section(root, "playground");
    let pg_clients: Vec<ClientId> = match raw_pg.clients {
        Some(ids) => ids
            .iter()
            .filter_map(|id| match clients.iter().find(|x| x.client_id.as_str() == id) {
                Some(x) if x.is_public() && x.allows(GrantType::AuthorizationCode) => {
                    Some(x.client_id.clone())
                }
                Some(_) => {
                    c.add("playground", format!("client \"{id}\" must be a public client with the authorization_code grant"));
                    None
                }
                None => {
                    let ids: Vec<&str> = clients.iter().map(|x| x.client_id.as_str()).collect();
                    let hint = did_you_mean(id, &ids);
                    c.add("playground", format!("client \"{id}\" is not defined{hint}"));
                    None
                }
            })
            .collect(),
        // Never every public client by default: the playground's redirect URI is added
        // only to the clients named here, and `check` lists them.
        None => Vec::new(),
    };
    Playground {
        enabled: raw_pg.enabled,
        clients: pg_clients,
    }
}

/// The playground is a relying party of this issuer: its callback is registered for the
/// clients it names, visibly (`check` lists them), instead of asking every deployment to
/// list it.
pub(super) fn register(playground: &Playground, issuer: &Issuer, clients: &mut [Client]) {
    if !playground.enabled {
        return;
    }
    let (Ok(cb), Ok(home)) = (
        RedirectUri::parse(&issuer.join(Playground::CALLBACK_PATH)),
        RedirectUri::parse(&issuer.join(Playground::HOME_PATH)),
    ) else {
        return;
    };
    for client in clients.iter_mut() {
        if playground.clients.contains(&client.client_id) {
            if !client.redirect_uris.contains(&cb) {
                client.redirect_uris.push(cb.clone());
            }
            if !client.post_logout_redirect_uris.contains(&home) {
                client.post_logout_redirect_uris.push(home.clone());
            }
        }
    }
}
