//! Database URL parsing: any text parses or fails without a panic, and a password never shows in
//! what the engine prints about the URL.

#![no_main]

use arbitrary::Arbitrary;
use cloacina::DatabaseUrl;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// The fixed words of the engine's messages about URLs (advice, accepted forms): a "password"
/// found in them is not one leaked.
static FIXED_TEXT: LazyLock<String> = LazyLock::new(|| {
    let bad = [
        "runs.db",
        "postgresql:x",
        "postgresql://u@h/a/b",
        "postgresql://h/x?Bad=1",
        "postgresql://h:99999999/x",
        "postgresql://h/x?schema=Bad",
        "postgresql://h/x#f",
        "postgresql://u%zz@h/x",
        "mysql://h/x",
    ];
    let mut text: String =
        bad.iter().filter_map(|url| url.parse::<DatabaseUrl>().err()).map(|e| e.to_string()).collect();
    if let Ok(url) = "postgresql://u:p@h/x".parse::<DatabaseUrl>() {
        text.push_str(&url.describe());
    }
    text
});

/// A PostgreSQL URL made of parts, so that its password is known, or any text at all.
#[derive(Arbitrary, Debug)]
enum Input {
    Parts { scheme_upper: bool, user: String, password: String, host: String, database: String, rest: String },
    Text(String),
}

/// Whether a URL parser reads `password` back from `text` as its password.
fn password_is_read_back(text: &str, password: &str) -> bool {
    let Ok(parsed) = url::Url::parse(text) else { return false };
    let Some(read) = parsed.password() else { return false };
    let decoded = percent_encoding::percent_decode_str(read).decode_utf8_lossy();
    decoded == password.replace(['\t', '\n', '\r'], "")
}

/// What the engine shows of a URL: its redacted and debug forms and address, and a driver's
/// error that repeats the URL it was given, scrubbed; or the parse error.
fn shown(parsed: &Result<DatabaseUrl, cloacina::StoreError>) -> String {
    match parsed {
        Ok(url @ DatabaseUrl::Postgres(postgres)) => {
            // The parser's form of the URL, from which tabs and newlines are gone.
            let scrubbed = postgres.scrub(&format!("could not connect to {}", postgres.connection_string()));
            format!("{} {url:?} {} {scrubbed}", postgres.redacted(), postgres.address())
        }
        Ok(other) => other.describe(),
        Err(error) => error.to_string(),
    }
}

fuzz_target!(|input: Input| {
    match input {
        Input::Text(text) => {
            if let Ok(url) = text.parse::<DatabaseUrl>() {
                let _ = url.describe();
            }
        }
        Input::Parts { scheme_upper, user, password, host, database, rest } => {
            let scheme = if scheme_upper { "POSTGRESQL" } else { "postgresql" };
            let text = format!("{scheme}://{user}:{password}@{host}/{database}{rest}");
            let parsed = text.parse::<DatabaseUrl>();
            // Only a password that appears nowhere else in the URL can be looked for, in the
            // URL as parsed: a URL parser drops tabs and newlines.
            let without_password =
                format!("{scheme}://{user}:@{host}/{database}{rest}").replace(['\t', '\n', '\r'], "");
            let findable = password.len() >= 4
                && !without_password.to_lowercase().contains(&password.to_lowercase())
                && !"postgresql://:@/*".contains(password.as_str())
                && !FIXED_TEXT.contains(password.as_str());
            if !findable {
                return;
            }
            // A URL whose password, as a URL parser reads it, is not the one composed: the other
            // parts' own `?`, `#` or `@` moved it into the host or the query, where it is no
            // password (the forms a person would write that way are refused above).
            if matches!(parsed, Ok(DatabaseUrl::Postgres(_))) && !password_is_read_back(&text, &password) {
                return;
            }
            let displayed = shown(&parsed);
            if !displayed.contains(password.as_str()) {
                return;
            }
            // What is shown of the other parts may spell the password by chance (a host
            // `DDDD` and the port after it, `DDDD:5432`, hold the password `DDD:`): it is leaked
            // only if the same URL with another password of its length does not show it.
            let spelled_by_the_rest =
                ['q', 'z', 'x', 'k'].into_iter().find(|letter| !password.contains(*letter)).is_some_and(|letter| {
                    let other_password = letter.to_string().repeat(password.chars().count());
                    let other_text = format!("{scheme}://{user}:{other_password}@{host}/{database}{rest}");
                    shown(&other_text.parse::<DatabaseUrl>()).contains(password.as_str())
                });
            assert!(spelled_by_the_rest, "the password {password:?} of {text:?} shows in {displayed:?}");
        }
    }
});
