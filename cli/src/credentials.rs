//! Credentials from the environment and from files, never from command-line arguments (other
//! users of the machine could read those in `ps`). Exactly one kind:
//!
//! - a fixed access token: `BOX_TOKEN`, or `--token-file PATH`;
//! - client credentials (a server app): `BOX_CLIENT_ID`, `BOX_CLIENT_SECRET` and
//!   `BOX_ENTERPRISE_ID` (the service account) or `BOX_USER_ID` (a user);
//! - JWT (a server app with a key pair): Box's app config JSON, `--jwt-config PATH` or
//!   `BOX_JWT_CONFIG=PATH`.
//!
//! Client credentials and JWT tokens are renewed as they expire, during the upload too.
//! Messages name the variables and options given, never their values. Every refusal here
//! exits 3 (see `client`).

use std::path::PathBuf;

use anyhow::{bail, Context as _};

use box_uploads::auth::{JwtConfig, Secret, Subject};
use box_uploads::ClientBuilder;

use crate::args::AuthArgs;

/// Sets on `builder` the credentials that the process's environment and `auth` give, the token
/// URL and the user to act as.
pub(crate) fn configure(builder: ClientBuilder, auth: &AuthArgs) -> anyhow::Result<ClientBuilder> {
    let choice = choose_credentials(auth, &|name| std::env::var(name).ok())?;
    with_credentials(builder, auth, choice)
}

/// The environment variables read for credentials.
const ENV_TOKEN: &str = "BOX_TOKEN";
const ENV_CLIENT_ID: &str = "BOX_CLIENT_ID";
const ENV_CLIENT_SECRET: &str = "BOX_CLIENT_SECRET";
const ENV_ENTERPRISE_ID: &str = "BOX_ENTERPRISE_ID";
const ENV_USER_ID: &str = "BOX_USER_ID";
const ENV_JWT_CONFIG: &str = "BOX_JWT_CONFIG";
/// The token endpoint (`--token-url`'s variable).
const ENV_TOKEN_URL: &str = "BOX_TOKEN_URL";

/// The credentials chosen from the environment and the options. No `Debug`: it holds secrets.
enum CredentialChoice {
    Token {
        token: Secret,
    },
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
        subject: Subject,
    },
    Jwt {
        config: PathBuf,
    },
}

/// The kinds of credentials the command line takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Token,
    ClientCredentials,
    Jwt,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Token => "a fixed token",
            Kind::ClientCredentials => "client credentials",
            Kind::Jwt => "JWT",
        }
    }
}

/// Where the credentials come from, by name only (`BOX_TOKEN`, `--token-file PATH`, ...), for
/// messages such as "check BOX_TOKEN"; empty when none or several kinds are given.
pub(crate) fn source_label(auth: &AuthArgs) -> String {
    match given_kinds(auth, &|name| std::env::var(name).ok()).as_slice() {
        [(_, by)] => by.clone(),
        _ => String::new(),
    }
}

/// Which kinds of credentials were given, and by what (names only, never values). `env` reads
/// a variable (empty counts as unset).
fn given_kinds(auth: &AuthArgs, env: &dyn Fn(&str) -> Option<String>) -> Vec<(Kind, String)> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut given: Vec<(Kind, String)> = Vec::new();
    if let Some(path) = &auth.token_file {
        given.push((Kind::Token, format!("--token-file {}", path.display())));
    } else if var(ENV_TOKEN).is_some() {
        given.push((Kind::Token, ENV_TOKEN.to_string()));
    }
    let ccg_vars: Vec<&str> = [ENV_CLIENT_ID, ENV_CLIENT_SECRET]
        .into_iter()
        .filter(|name| var(name).is_some())
        .collect();
    if !ccg_vars.is_empty() {
        given.push((Kind::ClientCredentials, ccg_vars.join(" and ")));
    }
    if let Some(path) = &auth.jwt_config {
        given.push((Kind::Jwt, format!("--jwt-config {}", path.display())));
    } else if var(ENV_JWT_CONFIG).is_some() {
        given.push((Kind::Jwt, ENV_JWT_CONFIG.to_string()));
    }
    given
}

/// Picks the one kind of credentials given. `env` reads a variable (empty counts as unset).
fn choose_credentials(
    auth: &AuthArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<CredentialChoice> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let given = given_kinds(auth, env);
    let kind = match given.as_slice() {
        [] => bail!(
            "no credentials: set {ENV_TOKEN} (or pass --token-file PATH) for a fixed token; \
             {ENV_CLIENT_ID}, {ENV_CLIENT_SECRET} and {ENV_ENTERPRISE_ID} or {ENV_USER_ID} for \
             client credentials; or {ENV_JWT_CONFIG} (or --jwt-config PATH) for JWT"
        ),
        [(kind, _)] => *kind,
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|(kind, by)| format!("{} ({by})", kind.name()))
                .collect();
            bail!(
                "conflicting credentials: {}; give only one kind",
                listed.join(", ")
            )
        }
    };
    match kind {
        Kind::Token => {
            let token = match &auth.token_file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the token file {}", path.display()))?,
                None => var(ENV_TOKEN).unwrap_or_default(),
            };
            let token = token.trim();
            if token.is_empty() {
                bail!("the access token is empty");
            }
            Ok(CredentialChoice::Token {
                token: Secret::new(token),
            })
        }
        Kind::ClientCredentials => {
            let (Some(client_id), Some(client_secret)) =
                (var(ENV_CLIENT_ID), var(ENV_CLIENT_SECRET))
            else {
                let missing = if var(ENV_CLIENT_ID).is_none() {
                    ENV_CLIENT_ID
                } else {
                    ENV_CLIENT_SECRET
                };
                bail!(
                    "client credentials need {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}: {missing} is not set"
                );
            };
            let subject = match (var(ENV_ENTERPRISE_ID), var(ENV_USER_ID)) {
                (Some(enterprise), None) => Subject::enterprise(enterprise),
                (None, Some(user)) => Subject::user(user),
                (Some(_), Some(_)) => bail!(
                    "client credentials act for one subject: set {ENV_ENTERPRISE_ID} (the \
                     service account) or {ENV_USER_ID} (a user), not both"
                ),
                (None, None) => bail!(
                    "client credentials need a subject: set {ENV_ENTERPRISE_ID} (the service \
                     account) or {ENV_USER_ID} (a user)"
                ),
            };
            Ok(CredentialChoice::ClientCredentials {
                client_id,
                client_secret: Secret::new(client_secret),
                subject,
            })
        }
        Kind::Jwt => {
            let config = match &auth.jwt_config {
                Some(path) => path.clone(),
                None => PathBuf::from(var(ENV_JWT_CONFIG).unwrap_or_default()),
            };
            Ok(CredentialChoice::Jwt { config })
        }
    }
}

/// Sets the chosen credentials, the token URL and the user to act as on `builder`.
fn with_credentials(
    mut builder: ClientBuilder,
    auth: &AuthArgs,
    choice: CredentialChoice,
) -> anyhow::Result<ClientBuilder> {
    // BOX_TOKEN_URL may be set for other tools: only the option is refused with a fixed token.
    let token_url = auth
        .token_url
        .as_ref()
        .filter(|url| std::env::var(ENV_TOKEN_URL).ok().as_ref() != Some(*url));
    let fixed = matches!(choice, CredentialChoice::Token { .. });
    if token_url.is_some() && fixed {
        bail!("--token-url is for client credentials or JWT, not a fixed token");
    }
    builder = match choice {
        CredentialChoice::Token { token } => builder.token(token.expose()),
        CredentialChoice::ClientCredentials {
            client_id,
            client_secret,
            subject,
        } => builder.client_credentials(client_id, client_secret.expose(), subject),
        CredentialChoice::Jwt { config } => {
            let config = JwtConfig::from_file(&config)
                .with_context(|| format!("cannot use the JWT app config {}", config.display()))?;
            builder.jwt(config)
        }
    };
    if let (Some(url), false) = (&auth.token_url, fixed) {
        builder = builder.token_url(url.clone());
    }
    if let Some(user) = &auth.as_user {
        builder = builder.as_user(user.clone());
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_put;
    use crate::output::failure_line;

    fn auth(args: &[&str]) -> AuthArgs {
        let mut words = vec!["f.bin", "--folder", "0"];
        words.extend_from_slice(args);
        parse_put(words).expect("parses").auth
    }

    fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    /// The error of `choose_credentials`, checked to hold none of the values given.
    fn refusal(args: &[&str], vars: &[(&str, &str)]) -> String {
        let Err(err) = choose_credentials(&auth(args), &env_of(vars)) else {
            panic!(
                "{args:?} {:?} should be refused",
                vars.iter().map(|v| v.0).collect::<Vec<_>>()
            )
        };
        let text = failure_line(&err);
        for (_, value) in vars {
            assert!(!text.contains(value), "{value} in {text}");
        }
        text
    }

    #[test]
    fn no_credentials_is_an_error_that_lists_the_ways_to_give_them() {
        let text = refusal(&[], &[("BOX_TOKEN", "  ")]);
        for name in [
            "BOX_TOKEN",
            "--token-file",
            "BOX_CLIENT_ID",
            "BOX_CLIENT_SECRET",
            "BOX_ENTERPRISE_ID",
            "BOX_USER_ID",
            "BOX_JWT_CONFIG",
            "--jwt-config",
        ] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
    }

    #[test]
    fn two_kinds_of_credentials_conflict() {
        let text = refusal(
            &[],
            &[
                ("BOX_TOKEN", "tok-VALUE"),
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
                ("BOX_ENTERPRISE_ID", "ent-VALUE"),
            ],
        );
        assert!(text.starts_with("conflicting credentials"), "{text}");
        assert!(
            text.contains("BOX_TOKEN") && text.contains("BOX_CLIENT_SECRET"),
            "{text}"
        );
        let text = refusal(&["--jwt-config", "app.json"], &[("BOX_TOKEN", "tok-VALUE")]);
        assert!(text.contains("JWT (--jwt-config app.json)"), "{text}");
        assert!(
            parse_put([
                "f",
                "--folder",
                "0",
                "--token-file",
                "t",
                "--jwt-config",
                "j"
            ])
            .is_err(),
            "--token-file and --jwt-config exclude each other"
        );
    }

    #[test]
    fn client_credentials_need_id_secret_and_one_subject() {
        let text = refusal(&[], &[("BOX_CLIENT_ID", "id-VALUE"), ("BOX_USER_ID", "7")]);
        assert!(text.contains("BOX_CLIENT_SECRET is not set"), "{text}");
        let text = refusal(
            &[],
            &[
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
            ],
        );
        assert!(text.contains("need a subject"), "{text}");
        let text = refusal(
            &[],
            &[
                ("BOX_CLIENT_ID", "id-VALUE"),
                ("BOX_CLIENT_SECRET", "secret-VALUE"),
                ("BOX_ENTERPRISE_ID", "ent-VALUE"),
                ("BOX_USER_ID", "user-VALUE"),
            ],
        );
        assert!(text.contains("not both"), "{text}");

        for (var, expected) in [
            ("BOX_ENTERPRISE_ID", Subject::enterprise("42")),
            ("BOX_USER_ID", Subject::user("42")),
        ] {
            let vars = [
                ("BOX_CLIENT_ID", "cid"),
                ("BOX_CLIENT_SECRET", "csecret"),
                (var, " 42 "),
            ];
            let chosen = choose_credentials(&auth(&[]), &env_of(&vars)).expect("chosen");
            match chosen {
                CredentialChoice::ClientCredentials {
                    client_id,
                    client_secret,
                    subject,
                } => {
                    assert_eq!(client_id, "cid");
                    assert_eq!(client_secret.expose(), "csecret");
                    assert_eq!(subject, expected);
                }
                _ => panic!("client credentials expected"),
            }
        }
    }

    #[test]
    fn a_token_file_or_a_jwt_option_wins_over_its_own_variable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").expect("write");
        let path = file.to_str().expect("utf-8");
        match choose_credentials(
            &auth(&["--token-file", path]),
            &env_of(&[("BOX_TOKEN", "from-env")]),
        )
        .expect("chosen")
        {
            CredentialChoice::Token { token } => assert_eq!(token.expose(), "from-file"),
            _ => panic!("a token expected"),
        }
        match choose_credentials(
            &auth(&["--jwt-config", "flag.json"]),
            &env_of(&[("BOX_JWT_CONFIG", "env.json")]),
        )
        .expect("chosen")
        {
            CredentialChoice::Jwt { config } => assert_eq!(config, PathBuf::from("flag.json")),
            _ => panic!("JWT expected"),
        }
    }

    #[test]
    fn a_token_url_needs_renewable_credentials_and_a_bad_jwt_config_says_which_file() {
        let args = auth(&["--token-url", "http://127.0.0.1:1/oauth2/token"]);
        let choice = CredentialChoice::Token {
            token: Secret::new("t"),
        };
        let err = with_credentials(ClientBuilder::new(), &args, choice).expect_err("refused");
        assert!(err.to_string().contains("--token-url"), "{err}");

        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("app.json");
        std::fs::write(&config, "{\"boxAppSettings\": 1}").expect("write");
        let choice = CredentialChoice::Jwt {
            config: config.clone(),
        };
        let err =
            with_credentials(ClientBuilder::new(), &auth(&[]), choice).expect_err("bad config");
        let text = failure_line(&err);
        assert!(text.contains("app.json"), "{text}");
    }
}
