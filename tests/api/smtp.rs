//! A real SMTP server for the mail tests: Debian's aiosmtpd (tests/support/smtp_server.py)
//! on a free port, keeping what it receives in a Maildir the tests read and parse as MIME.
//!
//! Without python3-aiosmtpd the tests print a note and pass, unless PORTICO_REQUIRE_SMTP
//! is set (CI sets it): then a missing server fails them.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A python3 that has aiosmtpd (Debian's, even when another python3 comes first).
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    /// A server on a free port, or `None` (with a note) when aiosmtpd is not installed.
    pub fn start(test: &str) -> Option<Smtp> {
        Self::start_on(test, free_port())
    }

    pub fn start_on(test: &str, port: u16) -> Option<Smtp> {
        let Some(python) = python() else {
            if std::env::var("PORTICO_REQUIRE_SMTP").is_ok_and(|v| !v.is_empty() && v != "0") {
                panic!("PORTICO_REQUIRE_SMTP is set but python3-aiosmtpd is missing");
            }
            eprintln!("note: {test} skipped: python3-aiosmtpd is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["127.0.0.1", &port.to_string()])
            .arg(dir.path().join("maildir"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Some(Smtp { child, port, dir })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(self.dir.path().join("maildir").join(sub)) {
                for e in rd.flatten() {
                    let modified = e.metadata().and_then(|m| m.modified()).ok();
                    files.push((modified, e.path()));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, p)| std::fs::read(p).ok())
            .collect()
    }

    /// The messages sent to `to`.
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.received()
            .into_iter()
            .map(Mail::new)
            .filter(|m| m.header("To").contains(to))
            .collect()
    }

    /// Wait (up to 30 s) until `n` messages to `to` have arrived; the last one.
    pub async fn wait_for_nth(&self, to: &str, n: usize) -> Mail {
        for _ in 0..300 {
            let mut got = self.to(to);
            if got.len() >= n {
                return got.remove(n - 1);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail #{n} to {to} arrived in 30 s");
    }

    pub async fn wait_for(&self, to: &str) -> Mail {
        self.wait_for_nth(to, 1).await
    }

    /// Wait (up to 30 s) for the `n`th message to `to` whose subject contains `subject`.
    pub async fn wait_for_subject(&self, to: &str, subject: &str, n: usize) -> Mail {
        for _ in 0..300 {
            let mut got: Vec<Mail> = self
                .to(to)
                .into_iter()
                .filter(|m| m.header("Subject").contains(subject))
                .collect();
            if got.len() >= n {
                return got.remove(n - 1);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail #{n} \"{subject}\" to {to} arrived in 30 s");
    }
}

/// A received message, parsed as MIME.
pub struct Mail {
    pub raw: Vec<u8>,
}

impl Mail {
    pub fn new(raw: Vec<u8>) -> Self {
        Self { raw }
    }

    fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.raw).expect("a MIME message")
    }

    pub fn header(&self, name: &str) -> String {
        self.parsed()
            .headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .unwrap_or_default()
    }

    /// The body of the part of this MIME type (decoded).
    pub fn part(&self, mimetype: &str) -> String {
        fn find(p: &mailparse::ParsedMail<'_>, t: &str) -> Option<String> {
            if p.ctype.mimetype == t {
                return p.get_body().ok();
            }
            p.subparts.iter().find_map(|s| find(s, t))
        }
        find(&self.parsed(), mimetype).unwrap_or_else(|| panic!("no {mimetype} part"))
    }

    pub fn mimetype(&self) -> String {
        self.parsed().ctype.mimetype
    }

    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let text = self.part("text/plain");
        let start = text
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in:\n{text}"));
        text[start..].split_whitespace().next().unwrap().to_owned()
    }
}
