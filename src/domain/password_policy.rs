//! The password policy of a connection (NIST SP 800-63B 5.1.1.2): a minimum length, no
//! invisible characters, not the e-mail address, and not guessable — zxcvbn's estimate,
//! whose dictionaries hold the common passwords of breach corpora, must reach score 3
//! ("safely unguessable": about 10^8 guesses). Passwords are NFKC-normalised before they
//! are measured and hashed, so the same password typed on two keyboards is one password.

use std::borrow::Cow;
use std::fmt;

use unicode_normalization::{is_nfkc_quick, IsNormalized, UnicodeNormalization};

use super::email::is_hidden_char;
use super::Email;

/// Longer passwords are refused before any hashing (argon2 cost is per byte too).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// zxcvbn's score floor (0-4).
const MIN_SCORE: u8 = 3;
/// zxcvbn's matching grows faster than linearly; what follows 128 characters of a
/// password that is already strong only makes it stronger.
const MEASURED_CHARS: usize = 128;

/// Words password sprayers pair with a year and a symbol ("Summer2026!!"): zxcvbn
/// scores such passwords as if the word were unusual unless told.
const SPRAY_WORDS: &[&str] = &[
    "spring",
    "summer",
    "autumn",
    "fall",
    "winter",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "welcome",
    "password",
    "passw0rd",
    "letmein",
    "qwerty",
    "admin",
    "changeme",
    "secret",
    "company",
    "acme",
    "login",
    "monday",
    "friday",
    "football",
    "dragon",
    "monkey",
];

/// A word sprayers try (or one of the user's own: e-mail, domain) followed only by
/// digits and symbols: `Summer2026!!`, `Acme2026!!!!`. zxcvbn rates the year and the
/// symbols as if they added much; a sprayer's list has them all.
fn is_spray_shaped(lower: &str, inputs: &[&str]) -> bool {
    let word_len = lower
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(lower.len(), |(i, _)| i);
    let (word, rest) = lower.split_at(word_len);
    !word.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
        && inputs.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// NFKC, as hashed and verified (NIST SP 800-63B 5.1.1.2).
pub fn normalize(password: &str) -> Cow<'_, str> {
    match is_nfkc_quick(password.chars()) {
        IsNormalized::Yes => Cow::Borrowed(password),
        _ => Cow::Owned(password.nfkc().collect()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

/// Why a new password is refused; `Display` is the sentence for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordProblem {
    TooShort(usize),
    TooLong,
    Hidden,
    Blank,
    IsEmail,
    Guessable,
}

impl fmt::Display for PasswordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort(n) => write!(f, "Use a password of at least {n} characters."),
            Self::TooLong => write!(
                f,
                "Use a password of at most {MAX_PASSWORD_BYTES} characters."
            ),
            Self::Hidden => f.write_str(
                "Your password contains invisible or control characters. Type it again.",
            ),
            Self::Blank => f.write_str("Your password must not be only spaces."),
            Self::IsEmail => f.write_str("Your password must not be your email address."),
            Self::Guessable => f.write_str(
                "This password is too common or too easy to guess. Choose a longer one, for example a few unrelated words.",
            ),
        }
    }
}

impl PasswordPolicy {
    /// Check a new password (sign-up, reset, `users create`). CPU-bound for long inputs
    /// (a few milliseconds): call it off the async executor.
    pub fn check(&self, password: &str, email: &Email) -> Result<(), PasswordProblem> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordProblem::TooLong);
        }
        if password.chars().any(is_hidden_char) {
            return Err(PasswordProblem::Hidden);
        }
        let p = normalize(password);
        if p.chars().all(char::is_whitespace) && !p.is_empty() {
            return Err(PasswordProblem::Blank);
        }
        if p.chars().count() < self.min_length {
            return Err(PasswordProblem::TooShort(self.min_length));
        }
        let lower = p.to_lowercase();
        if lower == email.as_str() || lower == email.local_part() {
            return Err(PasswordProblem::IsEmail);
        }
        let measured: String = p.chars().take(MEASURED_CHARS).collect();
        let (local, domain) = email.as_str().rsplit_once('@').unwrap_or(("", ""));
        let mut inputs = vec![email.as_str(), local];
        inputs.extend(domain.split('.'));
        inputs.extend(SPRAY_WORDS);
        if is_spray_shaped(&lower, &inputs)
            || u8::from(zxcvbn::zxcvbn(&measured, &inputs).score()) < MIN_SCORE
        {
            return Err(PasswordProblem::Guessable);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(p: &str) -> Result<(), PasswordProblem> {
        PasswordPolicy { min_length: 10 }.check(p, &Email::parse("ann.lee@example.com").unwrap())
    }

    #[test]
    fn strong_passphrases_pass() {
        for ok in [
            "a-long-unusual-passphrase",
            "another-long-password",
            "correct horse battery staple",
            "Ünïcode-pässwörd-Straße",
            // bench/driver's password.
            "bench-password-0123456789",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn common_and_guessable_passwords_are_refused() {
        for weak in [
            "password123",
            "Password123!",
            "qwerty123456",
            "aaaaaaaaab",
            "1234567890",
            "iloveyou2024",
            "Summer2026!!",
            "Winter2025!!",
            "Welcome2026!",
            "Acme2026!!!!",
        ] {
            assert_eq!(check(weak), Err(PasswordProblem::Guessable), "{weak}");
        }
    }

    #[test]
    fn blank_invisible_short_long_and_email_passwords_are_refused() {
        assert_eq!(check(&" ".repeat(12)), Err(PasswordProblem::Blank));
        assert_eq!(check(&"\u{200b}".repeat(12)), Err(PasswordProblem::Hidden));
        assert_eq!(
            check("horse\u{0}battery-staple"),
            Err(PasswordProblem::Hidden)
        );
        assert_eq!(check("short"), Err(PasswordProblem::TooShort(10)));
        assert_eq!(check(&"x".repeat(1025)), Err(PasswordProblem::TooLong));
        assert_eq!(check("Ann.Lee@example.com"), Err(PasswordProblem::IsEmail));
    }

    #[test]
    fn passwords_are_nfkc_normalised() {
        // Full-width and composed/decomposed forms become one password.
        assert_eq!(normalize("\u{ff50}\u{ff41}\u{ff53}\u{ff53}"), "pass");
        assert_eq!(normalize("e\u{301}t\u{e9}"), "\u{e9}t\u{e9}");
        assert!(matches!(normalize("plain-ascii"), Cow::Borrowed(_)));
    }
}
