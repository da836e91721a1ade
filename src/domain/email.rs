//! E-mail addresses, normalised once at the edge and used everywhere (sign-up, login, the
//! command line, invitations, the admin API): two spellings of one address are one
//! account, and an address that merely looks like another can never become a second one.
//!
//! - Invisible and control characters (Cc, Cf, default-ignorables, bidi controls) are
//!   refused, not stripped: `alice\u{200b}@example.com` is an error, not `alice@…`.
//! - The local part is NFC-normalised and lower-cased; outside ASCII it may only hold
//!   characters UTS 39 allows in identifiers, all of one script (UTS 39 5.1).
//! - The domain goes through UTS 46 (IDNA) to its ASCII form (`xn--…`), so full-width and
//!   upper-case spellings collapse; only letters, digits and hyphens survive (STD3).
//! - `key()` is the address with every non-ASCII character replaced by its UTS 39
//!   skeleton: the store keeps it unique per connection, so `аlice` (Cyrillic а) or
//!   `ａlice` (full-width) cannot sit beside `alice`.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript};

/// A normalised e-mail address (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

const INVALID: &str = "Enter a valid email address.";

/// Default_Ignorable_Code_Point and the bidi controls (Unicode DerivedCoreProperties):
/// characters that render as nothing or reorder text around them.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}'..='\u{1160}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Control, format or invisible: refused in addresses and passwords alike.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// RFC 5322 atext plus the dot, for the ASCII characters of a local part.
fn ascii_local_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim();
        if s.is_empty()
            || s.len() > 254
            || s.chars().any(|c| is_hidden_char(c) || c.is_whitespace())
        {
            return Err(INVALID);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(INVALID);
        };
        let local: String = local.nfc().collect::<String>().to_lowercase();
        if local.is_empty()
            || local.len() > 64
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !local.chars().all(|c| {
                if c.is_ascii() {
                    ascii_local_ok(c)
                } else {
                    c.identifier_allowed()
                }
            })
            || !local.as_str().is_single_script()
        {
            return Err(INVALID);
        }
        // UTS 46 with STD3 rules: case-folds, maps full-width forms, and leaves only
        // letters, digits and hyphens in each label (an `@` or `_` fails here).
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| INVALID)?;
        let labels_ok = domain
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'));
        if !domain.contains('.') || !labels_ok {
            return Err(INVALID);
        }
        let out = format!("{local}@{domain}");
        if out.len() > 254 {
            return Err(INVALID);
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }

    /// The look-alike key: ASCII kept as it is, every other character (in the local part
    /// and in the Unicode form of the domain) replaced by its UTS 39 skeleton. Plain ASCII
    /// addresses are their own key, so `bob1` and `bobl` stay two people.
    pub fn key(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or((&self.0, ""));
        let (unicode_domain, _) = idna::domain_to_unicode(domain);
        let mut key = String::with_capacity(self.0.len());
        for part in [local, "@", &unicode_domain] {
            for c in part.chars() {
                if c.is_ascii() {
                    key.push(c);
                } else {
                    let mut buf = [0u8; 4];
                    key.extend(unicode_security::skeleton(c.encode_utf8(&mut buf)));
                }
            }
        }
        key.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_case_folded() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        assert_eq!(
            Email::parse("first.last+tag@sub.example.org")
                .unwrap()
                .as_str(),
            "first.last+tag@sub.example.org"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.io",
            "a b@x.io",
            "a@x",
            "a@@x.io",
            "a@x.io.",
            ".a@x.io",
            "a.@x.io",
            "a..b@x.io",
            "a@-x.io",
            "a@x_y.io",
            "a\"b@x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused_not_stripped() {
        for bad in [
            "eve3@blocked.example\u{200b}",
            "eve4@blocked.exam\u{00ad}ple",
            "eve5@blocked.example\u{2060}",
            "alice\u{200b}@example.com",
            "\u{202e}moc.elpmaxe@nimda",
            "\u{feff}alice@example.com",
            "alice\u{0}@example.com",
            "alice\r\n@example.com",
            "al\u{200d}ice@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mixed_script_local_parts_are_refused() {
        assert!(
            Email::parse("\u{0430}lice@example.com").is_err(),
            "Cyrillic а + Latin"
        );
        // One script is fine: an all-Cyrillic or all-Greek local part.
        assert!(Email::parse("\u{0430}\u{043d}\u{044f}@example.com").is_ok());
    }

    #[test]
    fn domains_go_through_uts46() {
        assert_eq!(
            Email::parse("ann@BÜCHER.example").unwrap().as_str(),
            "ann@xn--bcher-kva.example"
        );
        // Full-width letters in the domain fold to ASCII.
        assert_eq!(
            Email::parse("ann@\u{ff45}xample.com").unwrap().as_str(),
            "ann@example.com"
        );
    }

    #[test]
    fn look_alikes_share_a_key_and_ascii_addresses_are_their_own() {
        let key = |s: &str| Email::parse(s).unwrap().key();
        assert_eq!(key("alice@example.com"), "alice@example.com");
        // Full-width letters are not identifier characters (UTS 39): refused outright.
        assert!(Email::parse("\u{ff41}lice@example.com").is_err());
        assert_eq!(
            key("\u{0430}\u{0455}\u{0435}@example.com"),
            "ase@example.com",
            "all-Cyrillic look-alike of ase@"
        );
        assert_ne!(key("bob1@example.com"), key("bobl@example.com"));
    }
}
