//! mountebank's `shellTransform`: a command the user names rewrites the
//! response.
//!
//! Running a program is the behavior's purpose, so it is allowed where
//! mountebank allows it (with injection on), but without a shell in
//! between: the command line is split into arguments as a POSIX shell
//! would split words (quotes respected, nothing expanded or substituted),
//! and the program gets the request and the response as JSON, both as its
//! two last arguments and in `MB_REQUEST` and `MB_RESPONSE` as mountebank
//! sets them. What it prints on standard output is the new response. It
//! gets a time limit and its output a size limit, so a stuck or chatty
//! program costs one request, not the server.

use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a command may run.
const TIME_LIMIT: Duration = Duration::from_secs(10);
/// How much of its output is read.
const OUTPUT_LIMIT: u64 = 16 * 1024 * 1024;

/// A checked command line: its program and arguments.
#[derive(Debug, Clone)]
pub(crate) struct ShellCommand {
    line: String,
    words: Vec<String>,
}

impl ShellCommand {
    /// Splits `line` into words; `None` when the quotes do not close or it is empty.
    pub(crate) fn parse(line: &str) -> Option<ShellCommand> {
        let words = shlex::split(line)?;
        (!words.is_empty()).then(|| ShellCommand {
            line: line.to_string(),
            words,
        })
    }

    /// Runs the command; the response it prints, or why there is none.
    pub(crate) fn run(&self, request: &Value, response: &Value) -> Result<Value, String> {
        let request = request.to_string();
        let response = response.to_string();
        let mut child = Command::new(&self.words[0])
            .args(&self.words[1..])
            .arg(&request)
            .arg(&response)
            .env("MB_REQUEST", &request)
            .env("MB_RESPONSE", &response)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| format!("cannot run {:?}: {error}", self.words[0]))?;
        let mut stdout = child.stdout.take().ok_or("no standard output")?;
        let mut stderr = child.stderr.take().ok_or("no standard error")?;
        // Read both pipes while it runs, so that a full pipe cannot stall it.
        let out = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut stdout).take(OUTPUT_LIMIT).read_to_end(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut text);
            text
        });
        let deadline = Instant::now() + TIME_LIMIT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{:?} ran longer than {} s and was stopped",
                        self.line,
                        TIME_LIMIT.as_secs()
                    ));
                }
                Err(error) => return Err(format!("{:?}: {error}", self.line)),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.success() {
            return Err(format!(
                "{:?} failed ({status}): {}",
                self.line,
                String::from_utf8_lossy(&stderr).trim()
            ));
        }
        serde_json::from_slice(&stdout).map_err(|_| {
            format!(
                "Shell command returned invalid JSON: '{}'",
                String::from_utf8_lossy(&stdout).trim()
            )
        })
    }

    /// The command line as the user wrote it.
    pub(crate) fn line(&self) -> &str {
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn words_are_split_as_a_shell_would_without_one() {
        let command =
            ShellCommand::parse(r#"sh -c 'echo "$MB_RESPONSE" | sed s/old/new/'"#).unwrap();
        assert_eq!(
            command.words,
            ["sh", "-c", r#"echo "$MB_RESPONSE" | sed s/old/new/"#]
        );
        assert!(ShellCommand::parse("unclosed 'quote").is_none());
        assert!(ShellCommand::parse("   ").is_none());
    }

    #[test]
    fn the_program_rewrites_the_response() {
        let command =
            ShellCommand::parse(r#"sh -c 'echo "$MB_RESPONSE" | sed s/old/new/'"#).unwrap();
        let rewritten = command
            .run(&json!({"path": "/"}), &json!({"body": "old"}))
            .unwrap();
        assert_eq!(rewritten, json!({"body": "new"}));
        // The request and response are the last two arguments too.
        let command = ShellCommand::parse(r#"sh -c 'printf "%s" "$2"' sh"#).unwrap();
        assert_eq!(
            command
                .run(&json!({"path": "/x"}), &json!({"body": "b"}))
                .unwrap(),
            json!({"body": "b"})
        );
    }

    #[test]
    fn failures_say_what_happened() {
        let run = |line: &str| {
            ShellCommand::parse(line)
                .unwrap()
                .run(&json!({}), &json!({}))
                .unwrap_err()
        };
        assert!(run("no-such-program-hmt").contains("cannot run"));
        assert!(run("sh -c 'echo nope >&2; exit 3'").contains("nope"));
        assert!(run("echo not json").contains("invalid JSON"));
    }
}
