//! Output: tables for people, one JSON object per line for scripts (`--json`); progress on
//! stderr only when it is a terminal.

use std::io::{BufWriter, IsTerminal, Stdout, Write};
use std::time::Duration;

use comfy_table::{presets, ContentArrangement, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::fail::{Fail, Result, OK};

/// Standard output, buffered. A reader that goes away (`sfctl ... | head`) ends the command
/// quietly; anything else written so far has reached it.
pub struct Out {
    pub json: bool,
    writer: BufWriter<Stdout>,
}

fn written(err: std::io::Error) -> Fail {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        Fail::new(OK, String::new())
    } else {
        Fail::failed(format!("writing the output: {err}"))
    }
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            json,
            writer: BufWriter::new(std::io::stdout()),
        }
    }

    /// One JSON object on a line of its own.
    pub fn json<T: Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.writer, value)
            .map_err(|e| written(std::io::Error::from(e)))?;
        self.writer.write_all(b"\n").map_err(written)
    }

    pub fn line(&mut self, text: &str) -> Result<()> {
        self.writer.write_all(text.as_bytes()).map_err(written)?;
        self.writer.write_all(b"\n").map_err(written)
    }

    /// A table with a header row, columns aligned, no borders (as `kubectl get` prints).
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) -> Result<()> {
        let mut table = Table::new();
        table
            .load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header.to_vec());
        for row in rows {
            table.add_row(row);
        }
        // No borders: two spaces between columns, none before the first.
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        for line in table.lines() {
            self.line(line.trim_end())?;
        }
        Ok(())
    }

    /// Sends what is buffered (a stream flushes after each batch, so a reader sees it).
    pub fn flush(&mut self) -> Result<()> {
        self.writer.flush().map_err(written)
    }
}

/// Rows printed as they come, in columns as wide as the widest of the first rows (a table
/// cannot wait for the end of a stream).
pub struct StreamTable {
    header: Vec<&'static str>,
    widths: Option<Vec<usize>>,
}

impl StreamTable {
    pub fn new(header: &[&'static str]) -> StreamTable {
        StreamTable {
            header: header.to_vec(),
            widths: None,
        }
    }

    pub fn rows(&mut self, out: &mut Out, rows: &[Vec<String>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.widths.is_none() {
            let widths: Vec<usize> = (0..self.header.len())
                .map(|i| {
                    rows.iter()
                        .map(|r| r[i].chars().count())
                        .chain([self.header[i].len()])
                        .max()
                        .unwrap_or(0)
                        .min(48)
                })
                .collect();
            let header: Vec<String> = self.header.iter().map(|h| h.to_string()).collect();
            out.line(&Self::format(&widths, &header))?;
            self.widths = Some(widths);
        }
        let widths = self.widths.as_ref().expect("set above");
        for row in rows {
            out.line(&Self::format(widths, row))?;
        }
        Ok(())
    }

    fn format(widths: &[usize], cells: &[String]) -> String {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            match widths.get(i) {
                Some(&width) if i + 1 < cells.len() => line.push_str(&format!("{cell:<width$}  ")),
                _ => line.push_str(cell),
            }
        }
        line.trim_end().to_string()
    }
}

/// A spinner with a message on stderr, drawn only when stderr is a terminal.
pub fn spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over `total` bytes on stderr, drawn only when stderr is a terminal.
pub fn byte_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} (eta {eta}) {msg}",
        )
        .expect("a valid template"),
    );
    bar
}

/// A TTL for people: `-` for none, else seconds.
pub fn ttl_cell(ttl_seconds: Option<u64>) -> String {
    ttl_seconds.map_or_else(|| "-".to_string(), |s| format!("{s}s"))
}

/// `yes`/`no`.
pub fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

/// The TTL in whole seconds of a PTTL reply, rounded up (a link with 400 ms left has 1 s, not
/// 0, which would read as no TTL); `None` for no expiry (-1) and for a key gone (-2).
pub fn ttl_seconds(pttl_ms: i64) -> Option<u64> {
    (pttl_ms > 0).then(|| (pttl_ms as u64).div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_seconds() {
        assert_eq!(ttl_seconds(-1), None);
        assert_eq!(ttl_seconds(-2), None);
        assert_eq!(ttl_seconds(1), Some(1));
        assert_eq!(ttl_seconds(1000), Some(1));
        assert_eq!(ttl_seconds(1001), Some(2));
    }

    #[test]
    fn stream_rows_line_up() {
        let widths = vec![4, 2];
        assert_eq!(
            StreamTable::format(&widths, &["a".into(), "b".into(), "c".into()]),
            "a     b   c"
        );
    }
}
