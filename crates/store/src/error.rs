//! Error type of the store and helpers that keep secrets out of messages.

/// Result alias used by every fallible store operation.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Errors returned by [`crate::Store`].
///
/// Messages never contain the password of a database URL: every URL shown is
/// passed through [`redact_url`] first.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL scheme is not one of `sqlite:`, `postgres:` or `postgresql:`.
    #[error(
        "unsupported database URL scheme {scheme:?} (expected sqlite:, postgres: or postgresql:)"
    )]
    UnsupportedScheme {
        /// The scheme that was found (empty if the URL had none).
        scheme: String,
    },
    /// The URL has a supported scheme but could not be parsed.
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl {
        /// The URL with any password redacted.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Opening the connection pool failed.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL with any password redacted.
        url: String,
        /// The driver error.
        source: sqlx::Error,
    },
    /// An embedded migration failed; the whole migration transaction was rolled back.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        /// Version number of the failing migration.
        version: i64,
        /// File name stem of the failing migration.
        name: &'static str,
        /// The driver error.
        source: sqlx::Error,
    },
    /// A stored value could not be decoded (bad JSON or out-of-range timestamp).
    #[error("corrupt {what} in database: {detail}")]
    Corrupt {
        /// Which column held the bad value.
        what: &'static str,
        /// What was wrong with it.
        detail: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Returns `url` with the password (userinfo after `:`, and any `password=`
/// query parameter) replaced by `***`, suitable for logs and error messages.
pub fn redact_url(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match before_query.split_once("://") {
        Some((scheme, rest)) => {
            let auth_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(auth_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => before_query.to_owned(),
                },
                None => before_query.to_owned(),
            }
        }
        None => before_query.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redact_url("postgres://alice:s3cr3t@db.example:5432/app"),
            "postgres://alice:***@db.example:5432/app"
        );
        assert_eq!(
            redact_url("postgresql://alice:p@ss@host/app?sslmode=require"),
            "postgresql://alice:***@host/app?sslmode=require"
        );
    }

    #[test]
    fn redacts_password_query_parameter() {
        let red = redact_url("postgres://host/app?user=bob&password=hunter2&sslmode=disable");
        assert_eq!(
            red,
            "postgres://host/app?user=bob&password=***&sslmode=disable"
        );
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "sqlite://data/switchyard.db",
            "sqlite::memory:",
            "no-scheme-at-all",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn error_messages_do_not_leak_password() {
        let err = StoreError::InvalidUrl {
            url: redact_url("postgres://u:topsecret@h/db"),
            reason: "bad".into(),
        };
        assert!(!err.to_string().contains("topsecret"));
    }
}
