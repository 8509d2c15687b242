//! A string that never prints itself: upstream keys and the admin key live in this type.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret string; `Debug` and `Display` show only a masked form.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A masked form safe for logs and admin listings: `sk-a…wxyz`.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks a credential, keeping at most 4 leading and 4 trailing characters of long values.
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 12 {
        return "***".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_secret() {
        let s = Secret::new("sk-abcdefghijklmnopqrstuvwxyz");
        assert_eq!(format!("{s:?}"), "Secret(sk-a…wxyz)");
        assert_eq!(s.to_string(), "sk-a…wxyz");
        assert_eq!(mask("short"), "***");
    }
}
