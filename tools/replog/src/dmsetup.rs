//! Running `dmsetup`.
//!
//! The command is `dmsetup` from `PATH`, or the words of the environment
//! variable `DMR_DMSETUP` (split on white space, so `sh fake-dmsetup`
//! works): host tests put a script there that plays the kernel.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;
use std::process::Command;

/// The environment variable that overrides the `dmsetup` command.
pub const DMSETUP_ENV: &str = "DMR_DMSETUP";

/// Why a dmsetup command did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DmsetupError {
    /// The command could not be started at all.
    Spawn(String),
    /// It ran and failed: the command line and what it said.
    Failed {
        /// The command line, shell-quoted.
        command: String,
        /// Its standard error (or output), trimmed.
        message: String,
    },
}

impl fmt::Display for DmsetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DmsetupError::Spawn(e) => write!(f, "{e}"),
            DmsetupError::Failed { command, message } if message.is_empty() => {
                write!(f, "{command}: failed")
            }
            DmsetupError::Failed { command, message } => write!(f, "{command}: {message}"),
        }
    }
}

/// Quotes a word for a shell if it needs it, for `--dry-run` and
/// messages that show a command to run by hand.
pub fn shell_quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "+-./:=@_,%^".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The dmsetup command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dmsetup {
    /// Program and leading arguments.
    argv: Vec<String>,
}

impl Dmsetup {
    /// `$DMR_DMSETUP` if set and not blank, else `dmsetup`.
    pub fn from_env() -> Dmsetup {
        let words: Vec<String> = std::env::var(DMSETUP_ENV)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if words.is_empty() {
            Dmsetup::new(vec!["dmsetup".to_string()])
        } else {
            Dmsetup::new(words)
        }
    }

    /// A command of the given words (at least the program).
    pub fn new(argv: Vec<String>) -> Dmsetup {
        Dmsetup { argv }
    }

    /// The command line of `args`, shell-quoted.
    pub fn command_line(&self, args: &[&str]) -> String {
        self.argv
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs `dmsetup args`; its standard output on success.
    pub fn run(&self, args: &[&str]) -> Result<String, DmsetupError> {
        let Some((program, leading)) = self.argv.split_first() else {
            return Err(DmsetupError::Spawn("no dmsetup command".to_string()));
        };
        let output = Command::new(program)
            .args(leading)
            .args(args)
            .output()
            .map_err(|e| DmsetupError::Spawn(format!("cannot run {program}: {e}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = if stderr.trim().is_empty() {
            stdout.trim()
        } else {
            stderr.trim()
        };
        Err(DmsetupError::Failed {
            command: self.command_line(args),
            message: message.lines().collect::<Vec<_>>().join("; "),
        })
    }

    /// Whether dm device `name` exists (`dmsetup info NAME` succeeds). A
    /// failure of the command is "no"; only a command that cannot start
    /// is an error.
    pub fn exists(&self, name: &str) -> Result<bool, DmsetupError> {
        match self.run(&["info", name]) {
            Ok(_) => Ok(true),
            Err(DmsetupError::Failed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `major:minor` of dm device `name`, as tables print it.
    pub fn devno(&self, name: &str) -> Result<String, DmsetupError> {
        let args = [
            "info",
            "-c",
            "--noheadings",
            "-o",
            "major,minor",
            "--separator",
            ":",
            name,
        ];
        let out = self.run(&args)?;
        let word: String = out.chars().filter(|c| !c.is_whitespace()).collect();
        if crate::hostdev::parse_devno(&word).is_some() {
            Ok(word)
        } else {
            Err(DmsetupError::Failed {
                command: self.command_line(&args),
                message: format!("not major:minor: {}", out.trim()),
            })
        }
    }

    /// `dmsetup status NAME`.
    pub fn status(&self, name: &str) -> Result<String, DmsetupError> {
        self.run(&["status", name])
    }

    /// The arguments of `dmsetup create NAME --table TABLE`.
    pub fn create_args<'a>(name: &'a str, table: &'a str) -> [&'a str; 4] {
        ["create", name, "--table", table]
    }

    /// `dmsetup create NAME --table TABLE`.
    pub fn create(&self, name: &str, table: &str) -> Result<(), DmsetupError> {
        self.run(&Dmsetup::create_args(name, table)).map(drop)
    }

    /// `dmsetup suspend NAME`.
    pub fn suspend(&self, name: &str) -> Result<(), DmsetupError> {
        self.run(&["suspend", name]).map(drop)
    }

    /// `dmsetup remove NAME`.
    pub fn remove(&self, name: &str) -> Result<(), DmsetupError> {
        self.run(&["remove", name]).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/dev/mapper/r0"), "/dev/mapper/r0");
        assert_eq!(shell_quote("0 1 replicator"), "'0 1 replicator'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        let dm = Dmsetup::new(vec!["dmsetup".into()]);
        assert_eq!(
            dm.command_line(&Dmsetup::create_args("r0", "0 8 linear /dev/x 0")),
            "dmsetup create r0 --table '0 8 linear /dev/x 0'"
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let dm = Dmsetup::new(vec!["/nonexistent/dmsetup".into()]);
        assert!(matches!(dm.exists("x"), Err(DmsetupError::Spawn(_))));
    }
}
