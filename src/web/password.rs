//! Passwords of `[[web.users]]`: argon2id hashes as PHC strings (`firewatch web-password` prints
//! one), checked against the password of a Basic authentication header.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};

/// The PHC string of `password`'s argon2id hash with a fresh random salt.
///
/// # Errors
/// The system's random source failed.
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `hash` is an argon2 PHC string firewatch can check passwords against.
///
/// # Errors
/// Why it is not.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| {
        format!("not a password hash ({e}); print one with `firewatch web-password`")
    })?;
    if !parsed.algorithm.as_str().starts_with("argon2") {
        return Err(format!(
            "'{}' hashes are not read; print an argon2 hash with `firewatch web-password`",
            parsed.algorithm
        ));
    }
    Ok(())
}

/// Whether `password` matches `hash` (the comparison of the hashes is constant-time).
pub fn matches(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_password_only() {
        let hashed = hash("correct horse").unwrap();
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert!(check_hash(&hashed).is_ok());
        assert!(matches("correct horse", &hashed));
        assert!(!matches("correct horse ", &hashed));
    }

    #[test]
    fn other_strings_are_not_hashes() {
        assert!(check_hash("hunter2").is_err());
        assert!(check_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
    }
}
