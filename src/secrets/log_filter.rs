//! What the log file may hold. The shell parser (brush-parser) traces every
//! command it tokenizes, parses and expands at debug level, under the bare
//! targets below: with `OPSCOCKPIT_LOG=debug` each proposed command, with
//! whatever secret it carries, would reach the log file before the gate's
//! masking sees it. Those targets are always off, whatever the user asks.

use tracing_subscriber::EnvFilter;

/// brush-parser's tracing targets (see its `tokenizer`, `parser`, `word` and
/// `arithmetic` modules).
const COMMAND_TEXT_TARGETS: [&str; 4] = ["tokenize", "parse", "expansion", "arithmetic"];

/// `OPSCOCKPIT_LOG` (or `default`), with the command-text targets off.
pub fn from_env(default: &str) -> EnvFilter {
    let filter = EnvFilter::try_from_env("OPSCOCKPIT_LOG").unwrap_or_else(|_| default.into());
    without_command_text(filter)
}

fn without_command_text(mut filter: EnvFilter) -> EnvFilter {
    for target in COMMAND_TEXT_TARGETS {
        if let Ok(off) = format!("{target}=off").parse() {
            filter = filter.add_directive(off);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Parses a command carrying a secret with everything at trace level,
    /// even the parser's own targets asked for by name.
    fn log_of_parsing(filter: &str) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .with_env_filter(without_command_text(EnvFilter::new(filter)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // The gate parses with brush-parser, words expanded one by one.
            let text = "curl -H \"Authorization: Bearer s3cr3t-t0ken\" x";
            let options = brush_parser::ParserOptions::default();
            let _ = brush_parser::Parser::new(std::io::Cursor::new(text.as_bytes()), &options)
                .parse_program();
            let _ = brush_parser::word::parse("\"Bearer s3cr3t-t0ken\"", &options);
            tracing::debug!(target: "opscockpit", "still logged");
        });
        let bytes = captured.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn commands_never_reach_the_log_at_any_level() {
        for filter in [
            "trace",
            "debug",
            "parse=trace,tokenize=trace,expansion=trace",
        ] {
            let log = log_of_parsing(filter);
            assert!(!log.contains("s3cr3t"), "{filter}: {log}");
        }
        assert!(log_of_parsing("trace").contains("still logged"));
    }
}
