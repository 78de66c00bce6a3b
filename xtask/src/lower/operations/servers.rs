//! The servers operations name: each URL once, under a unique key, with its variables filled
//! in with their defaults.

use super::{ext_str, Ctx};
use crate::ir::Server;
use crate::names::snake;

impl Ctx<'_, '_> {
    /// The key and default URL of `server`, registering it the first time it is met.
    pub(super) fn server(
        &mut self,
        server: &openapiv3::Server,
        pointer: &str,
        document_default: bool,
    ) -> (String, String) {
        let mut url = server.url.clone();
        let mut missing = Vec::new();
        let mut rest = server.url.as_str();
        while let Some(start) = rest.find('{') {
            let Some(end) = rest[start..].find('}') else {
                break;
            };
            let var = &rest[start + 1..start + end];
            match server.variables.as_ref().and_then(|v| v.get(var)) {
                Some(v) => url = url.replace(&format!("{{{var}}}"), &v.default),
                None => missing.push(var.to_string()),
            }
            rest = &rest[start + end + 1..];
        }
        for var in missing {
            self.problems.push(
                pointer,
                format!("server URL uses variable `{var}` that `variables` does not define"),
            );
        }
        while url.ends_with('/') {
            url.pop();
        }
        if let Some(existing) = self.servers.get(&server.url) {
            return (existing.key.clone(), existing.default_url.clone());
        }
        let key = match ext_str(&server.extensions, "x-rust-name") {
            Some(name) => self.server_keys.take(&snake(name)),
            None if document_default => self.server_keys.take("default"),
            None => {
                let n = self.servers.len();
                self.server_keys.take(&format!("server_{n}"))
            }
        };
        self.servers.insert(
            server.url.clone(),
            Server {
                key: key.clone(),
                default_url: url.clone(),
            },
        );
        (key, url)
    }
}
