//! Account types and their fields, as data: what `onset account set` accepts and checks, what the
//! API lists (secret fields are never shown back), and what connectors read.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct AccountField {
    pub name: &'static str,
    pub description: &'static str,
    /// Sealed at rest and never shown back.
    pub secret: bool,
    /// The values it takes, when it is a choice.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub choices: &'static [&'static str],
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct AccountType {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    pub fields: &'static [AccountField],
}

const fn field(name: &'static str, description: &'static str) -> AccountField {
    AccountField { name, description, secret: false, choices: &[] }
}

const fn secret(name: &'static str, description: &'static str) -> AccountField {
    AccountField { name, description, secret: true, choices: &[] }
}

/// The `http` account's kinds of authentication and the fields each needs.
const HTTP_AUTH: &[(&str, &[&str])] = &[
    ("none", &[]),
    ("bearer", &["token"]),
    ("basic", &["username", "password"]),
    ("api_key", &["name", "value"]),
    ("oauth2_client_credentials", &["token_url", "client_id", "client_secret"]),
    ("oauth2_refresh_token", &["token_url", "client_id", "refresh_token"]),
];

/// Every account type of this build (a type arrives with the connector that uses it).
pub const ACCOUNT_TYPES: &[AccountType] = &[
    HTTP,
    #[cfg(feature = "slack")]
    SLACK,
    #[cfg(feature = "github")]
    GITHUB,
    #[cfg(feature = "sql")]
    POSTGRES,
    #[cfg(feature = "sql")]
    MYSQL,
    #[cfg(feature = "email")]
    SMTP,
    #[cfg(feature = "google")]
    GOOGLE,
    #[cfg(feature = "publish-rabbitmq")]
    RABBITMQ,
    #[cfg(feature = "publish-kafka")]
    KAFKA,
    #[cfg(feature = "publish-sqs")]
    SQS,
    #[cfg(feature = "publish-nats")]
    NATS,
    #[cfg(feature = "publish-mqtt")]
    MQTT,
];

#[cfg(feature = "publish-rabbitmq")]
const RABBITMQ: AccountType = AccountType {
    kind: "rabbitmq",
    description: "A RabbitMQ broker to publish to: its AMQP URL, as the rabbitmq trigger takes it",
    fields: &[secret("url", "amqp://USER:PASSWORD@HOST:5672/VHOST (%2f for the default vhost)")],
};

#[cfg(feature = "publish-kafka")]
const KAFKA: AccountType = AccountType {
    kind: "kafka",
    description: "A Kafka cluster to produce to: its bootstrap brokers and, when it asks, SASL",
    fields: &[
        field("brokers", "host:port of one or more brokers, comma-separated"),
        AccountField {
            name: "security_protocol",
            description: "How to reach the brokers (default plaintext)",
            secret: false,
            choices: &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"],
        },
        AccountField {
            name: "sasl_mechanism",
            description: "SASL: the mechanism",
            secret: false,
            choices: &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"],
        },
        field("sasl_username", "SASL: the user name (or API key)"),
        secret("sasl_password", "SASL: the password (or API secret)"),
    ],
};

#[cfg(feature = "publish-sqs")]
const SQS: AccountType = AccountType {
    kind: "sqs",
    description: "Amazon SQS: a region and access keys, as the sqs trigger takes them",
    fields: &[
        field("region", "e.g. eu-west-1"),
        field("access_key_id", "The IAM access key id"),
        secret("secret_access_key", "Its secret"),
        secret("session_token", "Temporary credentials: the session token"),
        field("endpoint", "Another address for the SQS API (LocalStack, moto, a VPC endpoint)"),
    ],
};

#[cfg(feature = "publish-nats")]
const NATS: AccountType = AccountType {
    kind: "nats",
    description: "A NATS server to publish to (core or JetStream)",
    fields: &[
        field("url", "nats://HOST:4222 (several comma-separated)"),
        secret("token", "Token authentication"),
        field("username", "User and password authentication: the user"),
        secret("password", "… and the password"),
    ],
};

#[cfg(feature = "publish-mqtt")]
const MQTT: AccountType = AccountType {
    kind: "mqtt",
    description: "An MQTT broker to publish to (one connection per publish)",
    fields: &[
        field("url", "mqtt://HOST:1883"),
        field("username", "The user, when the broker asks"),
        secret("password", "Its password"),
        field("client_id", "Prefix of the client ids (default onset-publish)"),
    ],
};

#[cfg(feature = "google")]
const GOOGLE: AccountType = AccountType {
    kind: "google",
    description: "Google Workspace APIs (Sheets, Calendar, Gmail): a service account's key file, or an OAuth2 client with a user's refresh token",
    fields: &[
        secret("service_account", "The service account's key file, its JSON as Google hands it out"),
        field("subject", "Service account: the user it acts for (domain-wide delegation), e.g. ann@example.com"),
        field(
            "scopes",
            "Service account: scopes to ask for, space-separated (default spreadsheets, calendar, gmail.send)",
        ),
        field("client_id", "OAuth2: the client id of the app the user authorized"),
        secret("client_secret", "OAuth2: the client's secret"),
        secret("refresh_token", "OAuth2: the user's refresh token"),
        field("token_url", "The token endpoint (default https://oauth2.googleapis.com/token)"),
        field("base_url", "One address for every Google API (tests and proxies; default each API's own)"),
    ],
};

#[cfg(feature = "email")]
const SMTP: AccountType = AccountType {
    kind: "smtp",
    description: "An SMTP server that relays mail: its host, how the connection is secured, and the login",
    fields: &[
        field("host", "The server's host name (e.g. smtp.example.com)"),
        field("port", "Default 587 for starttls, 465 for tls, 25 for none"),
        AccountField {
            name: "security",
            description: "starttls (default): upgrade after connecting; tls: TLS from the start; none: plain text",
            secret: false,
            choices: &["starttls", "tls", "none"],
        },
        field("username", "The login (AUTH PLAIN or LOGIN); none: no AUTH"),
        secret("password", "The login's password or app password"),
        field("from", "The sender when a step gives no `from`: `Name <address>` or an address"),
        field("ca_cert", "PEM of a private CA the server's certificate is signed by (default: the system's roots)"),
        field("helo", "The name given in EHLO (default localhost)"),
    ],
};

#[cfg(feature = "sql")]
const MYSQL: AccountType = AccountType {
    kind: "mysql",
    description: "A MySQL or MariaDB database: its connection URL (user and password in it), one pool per account",
    fields: &[
        secret("url", "mysql://USER:PASSWORD@HOST:3306/DATABASE (ssl-mode and other options as query parameters)"),
        field("max_connections", "The pool's size (default 5)"),
    ],
};

#[cfg(feature = "sql")]
const POSTGRES: AccountType = AccountType {
    kind: "postgres",
    description: "A PostgreSQL database: its connection URL (user and password in it), one pool per account",
    fields: &[
        secret("url", "postgres://USER:PASSWORD@HOST:5432/DATABASE (sslmode and other options as query parameters)"),
        field("max_connections", "The pool's size (default 5)"),
    ],
};

#[cfg(feature = "github")]
const GITHUB: AccountType = AccountType {
    kind: "github",
    description: "GitHub: a token (fine-grained or classic), or a GitHub App installation (app_id, private_key, installation_id)",
    fields: &[
        secret("token", "A personal access token or any token GitHub accepts as Bearer"),
        field("app_id", "GitHub App: its App ID (or client ID)"),
        secret("private_key", "GitHub App: its private key, the PEM file's text"),
        field("installation_id", "GitHub App: the installation on the account that owns the repositories"),
        field("base_url", "The REST API's address (default https://api.github.com; Enterprise: https://HOST/api/v3)"),
    ],
};

#[cfg(feature = "slack")]
const SLACK: AccountType = AccountType {
    kind: "slack",
    description: "A Slack app's bot token (xoxb-…), with the scopes its operations need (chat:write, reactions:write, files:write, users:read.email)",
    fields: &[
        secret("token", "The bot token: OAuth & Permissions → Bot User OAuth Token"),
        field("base_url", "The Web API's address (default https://slack.com/api)"),
    ],
};

const HTTP: AccountType = AccountType {
    kind: "http",
    description: "Any HTTP API: bearer token, basic auth, an API key in a header or the query, or OAuth2 (client credentials or a refresh token)",
    fields: &[
        AccountField {
            name: "auth",
            description: "How requests authenticate",
            secret: false,
            choices: &["none", "bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_refresh_token"],
        },
        field("base_url", "Prefix of relative `url`s in http.request (e.g. https://api.example.com/v2)"),
        secret("token", "bearer: the token sent as `Authorization: Bearer …`"),
        field("username", "basic: the user name"),
        secret("password", "basic: the password"),
        AccountField {
            name: "in",
            description: "api_key: where the key goes (default header)",
            secret: false,
            choices: &["header", "query"],
        },
        field("name", "api_key: the header or query parameter name (e.g. x-api-key)"),
        secret("value", "api_key: the key"),
        field("token_url", "oauth2: the token endpoint"),
        field("client_id", "oauth2: the client id"),
        secret("client_secret", "oauth2: the client secret"),
        secret("refresh_token", "oauth2_refresh_token: the refresh token"),
        field("scope", "oauth2: scopes to ask for, space-separated (optional)"),
        AccountField {
            name: "client_auth",
            description: "oauth2: how the client authenticates to the token endpoint (default basic)",
            secret: false,
            choices: &["basic", "body"],
        },
        field("test_url", "A URL `onset account test` calls with these credentials (GET, expects 2xx)"),
    ],
};

pub fn account_type(kind: &str) -> Option<&'static AccountType> {
    ACCOUNT_TYPES.iter().find(|t| t.kind == kind)
}

/// Every problem with an account's fields, each saying how to fix it.
pub fn check_fields(kind: &str, fields: &BTreeMap<String, String>) -> Result<(), Vec<String>> {
    let Some(t) = account_type(kind) else {
        let kinds: Vec<&str> = ACCOUNT_TYPES.iter().map(|t| t.kind).collect();
        return Err(vec![format!("there is no account type `{kind}`; types: {}", kinds.join(", "))]);
    };
    let mut errors = Vec::new();
    for (name, value) in fields {
        match t.fields.iter().find(|f| f.name == name) {
            None => {
                let names: Vec<&str> = t.fields.iter().map(|f| f.name).collect();
                errors.push(format!("a `{kind}` account has no field `{name}`; fields: {}", names.join(", ")));
            }
            Some(f) if !f.choices.is_empty() && !f.choices.contains(&value.as_str()) => {
                errors.push(format!("`{name}` is one of {}, not `{value}`", f.choices.join(", ")));
            }
            Some(_) => {}
        }
    }
    if kind == "github" {
        let has = |f: &str| fields.get(f).is_some_and(|v| !v.is_empty());
        let app = ["app_id", "private_key", "installation_id"];
        if !has("token") && !app.iter().all(|f| has(f)) {
            let missing: Vec<&str> = app.iter().copied().filter(|f| !has(f)).collect();
            errors.push(format!(
                "a github account needs `token=…`, or a GitHub App's app_id, private_key and installation_id (missing: {})",
                missing.join(", ")
            ));
        }
        if has("private_key") && !fields["private_key"].contains("PRIVATE KEY-----") {
            errors.push("`private_key` is the app's PEM file, `-----BEGIN RSA PRIVATE KEY-----` and all".into());
        }
    }
    if kind == "postgres" {
        match fields.get("url") {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {}
            Some(_) => errors.push("`url` is a postgres:// URL".into()),
            None => errors.push("a postgres account needs `url=postgres://USER:PASSWORD@HOST:5432/DATABASE`".into()),
        }
        if let Some(n) = fields.get("max_connections")
            && !n.parse::<u32>().is_ok_and(|n| (1..=100).contains(&n))
        {
            errors.push(format!("`max_connections` is a whole number from 1 to 100, not `{n}`"));
        }
    }
    if kind == "mysql" {
        match fields.get("url") {
            Some(u) if u.starts_with("mysql://") => {}
            Some(_) => errors.push("`url` is a mysql:// URL".into()),
            None => errors.push("a mysql account needs `url=mysql://USER:PASSWORD@HOST:3306/DATABASE`".into()),
        }
    }
    if kind == "smtp" {
        if fields.get("host").is_none_or(String::is_empty) {
            errors.push("an smtp account needs `host=…` (e.g. smtp.example.com)".into());
        }
        if let Some(p) = fields.get("port")
            && p.parse::<u16>().is_err()
        {
            errors.push(format!("`port` is a port number, not `{p}`"));
        }
        if let Some(pem) = fields.get("ca_cert")
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            errors.push("`ca_cert` is a PEM certificate, `-----BEGIN CERTIFICATE-----` and all".into());
        }
    }
    if kind == "google" {
        let has = |f: &str| fields.get(f).is_some_and(|v| !v.is_empty());
        if has("service_account") {
            let parsed: Option<serde_json::Value> = serde_json::from_str(&fields["service_account"]).ok();
            match parsed {
                Some(key) if key["client_email"].is_string() && key["private_key"].is_string() => {}
                _ => errors.push(
                    "`service_account` is the service account's key file, its whole JSON (with client_email and private_key)"
                        .into(),
                ),
            }
        } else if !(has("client_id") && has("refresh_token")) {
            errors.push(
                "a google account needs `service_account=…` (the key file's JSON), or `client_id`, `client_secret` and `refresh_token`"
                    .into(),
            );
        }
    }
    for (k, need, example) in [
        ("rabbitmq", "url", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        ("kafka", "brokers", "127.0.0.1:9092"),
        ("sqs", "region", "eu-west-1"),
        ("nats", "url", "nats://127.0.0.1:4222"),
        ("mqtt", "url", "mqtt://127.0.0.1:1883"),
    ] {
        if kind == k && fields.get(need).is_none_or(String::is_empty) {
            errors.push(format!("a {k} account needs `{need}=…` (e.g. {example})"));
        }
    }
    if kind == "slack" && fields.get("token").is_none_or(String::is_empty) {
        errors.push("a slack account needs `token=xoxb-…` (the app's Bot User OAuth Token)".into());
    }
    if let Some(u) = fields.get("base_url").filter(|_| matches!(kind, "slack" | "github" | "google"))
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        errors.push(format!("`base_url` is an http(s) URL, not `{u}`"));
    }
    if kind == "http" {
        let auth = fields.get("auth").map_or("none", String::as_str);
        if let Some((_, needs)) = HTTP_AUTH.iter().find(|(a, _)| *a == auth) {
            for need in *needs {
                if fields.get(*need).is_none_or(String::is_empty) {
                    errors.push(format!("auth={auth} needs `{need}=…`"));
                }
            }
        }
        for url_field in ["base_url", "token_url", "test_url"] {
            if let Some(u) = fields.get(url_field)
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                errors.push(format!("`{url_field}` is an http(s) URL, not `{u}`"));
            }
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn each_http_auth_needs_its_fields_and_nothing_unknown() {
        assert!(check_fields("http", &fields(&[("auth", "bearer"), ("token", "t")])).is_ok());
        let errs =
            check_fields("http", &fields(&[("auth", "basic"), ("username", "u"), ("pasword", "p")])).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("no field `pasword`")), "{errs:?}");
        assert!(errs.iter().any(|e| e == "auth=basic needs `password=…`"), "{errs:?}");
        let errs = check_fields("http", &fields(&[("auth", "oauth"), ("base_url", "api.example.com")])).unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("`auth` is one of none, bearer")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("`base_url` is an http(s) URL")), "{errs:?}");
        assert!(check_fields("carrier-pigeon", &BTreeMap::new()).unwrap_err()[0].contains("types: http"));
    }

    #[cfg(feature = "slack")]
    #[test]
    fn a_slack_account_needs_its_token() {
        assert!(check_fields("slack", &fields(&[("token", "xoxb-1")])).is_ok());
        let errs = check_fields("slack", &fields(&[("base_url", "slack.test")])).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("needs `token=xoxb-…`")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("`base_url` is an http(s) URL")), "{errs:?}");
    }
}
