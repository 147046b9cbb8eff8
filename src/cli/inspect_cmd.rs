//! `gbswarm inspect`: decode raw SIP messages from a file or stdin to JSON lines.

use super::Error;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Flags of `gbswarm inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// File to read, or `-` for standard input.
    file: PathBuf,
    /// Pretty-print each JSON object over several lines.
    #[arg(long)]
    pretty: bool,
}

impl InspectArgs {
    /// Decodes the input and prints one JSON object per message on stdout.
    pub fn execute(&self) -> Result<(), Error> {
        let stdout = std::io::stdout();
        self.write_to(&mut stdout.lock())
    }

    /// Decodes the input and writes one JSON object per message to `out`.
    pub fn write_to(&self, out: &mut dyn Write) -> Result<(), Error> {
        let input = if self.file.as_os_str() == "-" {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).map(|_| b)
        } else {
            std::fs::read(&self.file)
        };
        let input = input.map_err(|source| Error::Unreadable {
            command: "inspect",
            path: self.file.clone(),
            source,
        })?;
        let result = crate::inspect::inspect(&input, |v| {
            let s = if self.pretty {
                serde_json::to_string_pretty(&v)
            } else {
                serde_json::to_string(&v)
            };
            let _ = writeln!(out, "{}", s.unwrap_or_default());
        });
        match result {
            Ok(0) => Err(Error::NoMessage),
            Ok(_) => Ok(()),
            Err(e) => Err(Error::Malformed(e)),
        }
    }
}
