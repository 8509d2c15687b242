//! API key generation and hashing. Only the SHA-256 of a key is ever stored.

use rand::Rng;
use sha2::{Digest, Sha256};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A fresh key: `sk-` and 48 random alphanumerics (about 285 bits).
pub fn generate() -> String {
    let mut rng = rand::rng();
    let body: String = (0..48)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("sk-{body}")
}

/// SHA-256 of a key, as bytes: what the key cache looks keys up by.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Hex SHA-256 of a key: what the database stores and looks up.
pub fn hash(key: &str) -> String {
    hex(&digest(key))
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8; 32]) -> String {
    // By table: `hex::encode` goes a char at a time.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * digest.len());
    for &b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The displayable start of a key (`sk-abcd`), enough to tell keys apart.
pub fn prefix(key: &str) -> String {
    key.chars().take(7).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_is_sha256() {
        let a = generate();
        assert!(a.starts_with("sk-") && a.len() == 51);
        assert_ne!(a, generate());
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(prefix(&a).len(), 7);
    }
}
