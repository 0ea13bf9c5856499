//! Reading what the user types: passwords without echo at a terminal, or from standard input when asked.

use std::io::{self, BufRead, IsTerminal, Read, Write};

use edgeauth_core::secret::Secret;
use zeroize::Zeroize;

use crate::failure::Failure;

/// Whether standard input is a terminal (so prompting is possible).
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// The first line of `input`, without its line ending (`\n` or `\r\n`). The
/// rest is left alone: a password may begin or end with spaces.
pub fn first_line(input: &str) -> &str {
    let line = input.split('\n').next().unwrap_or("");
    line.strip_suffix('\r').unwrap_or(line)
}

/// Reads a password from the first line of standard input (`--password-stdin`).
pub fn password_from_stdin() -> Result<Secret, Failure> {
    let mut all = String::new();
    let read = io::stdin().lock().read_line(&mut all);
    let secret = Secret::new(first_line(&all).to_string());
    all.zeroize();
    read.map_err(|e| Failure::Other(format!("cannot read the password from standard input: {e}")))?;
    if secret.is_empty() {
        return Err(Failure::Usage(
            "--password-stdin: standard input held no password".into(),
        ));
    }
    Ok(secret)
}

/// Reads a credential from standard input (`--with-token`): all of it, trimmed.
pub fn token_from_stdin() -> Result<Secret, Failure> {
    let mut all = String::new();
    let read = io::stdin().lock().read_to_string(&mut all);
    let secret = Secret::new(all.trim().to_string());
    all.zeroize();
    read.map_err(|e| Failure::Other(format!("cannot read the key from standard input: {e}")))?;
    if secret.is_empty() {
        return Err(Failure::Usage(
            "--with-token: standard input held no key".into(),
        ));
    }
    Ok(secret)
}

/// Asks for a password at the terminal, without echo.
pub fn password_prompt(label: &str) -> Result<Secret, Failure> {
    let typed = rpassword::prompt_password(label)
        .map_err(|e| Failure::Other(format!("cannot read the password from the terminal: {e}")))?;
    let secret = Secret::new(typed);
    if secret.is_empty() {
        return Err(Failure::Usage("no password was typed".into()));
    }
    Ok(secret)
}

/// Asks for a line of text at the terminal.
pub fn line_prompt(label: &str) -> Result<String, Failure> {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{label}");
    let _ = err.flush();
    let mut line = String::new();
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Other(format!("cannot read from the terminal: {e}")))?;
    let value = line.trim().to_string();
    if value.is_empty() {
        return Err(Failure::Usage(format!(
            "{} is required",
            label.trim().trim_end_matches(':')
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_keeps_spaces_and_drops_the_line_ending() {
        assert_eq!(first_line("  pass word \n"), "  pass word ");
        assert_eq!(first_line("pw\r\nsecond"), "pw");
        assert_eq!(first_line("no newline"), "no newline");
        assert_eq!(first_line(""), "");
    }
}
