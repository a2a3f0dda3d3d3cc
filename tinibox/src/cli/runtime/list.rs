//! `list`: every container, as a table or JSON, as runc prints them. Owns that command's flags and output; the work is [`crate::container`]'s.

use std::io::Write;

use clap::Args;

use super::finish;
use super::state::oci_state_json;
use crate::cli::{log, GlobalOptions};
use crate::container::{self};

/// Output format of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ListFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// A JSON array of states.
    Json,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// Print ids only.
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// Runs `list`; returns the exit status.
pub fn list(global: &GlobalOptions, args: ListArgs) -> u8 {
    log::init(global);
    let r = (|| {
        let states = container::list(&global.root)?;
        let mut out = String::new();
        if args.quiet {
            for s in &states {
                out.push_str(&format!("{}\n", s.id));
            }
        } else if args.format == ListFormat::Json {
            let v: Vec<_> = states.iter().map(oci_state_json).collect();
            out = serde_json::to_string(&v)? + "\n";
        } else {
            let rows: Vec<[String; 6]> = states
                .iter()
                .map(|s| {
                    [
                        s.id.clone(),
                        s.pid.to_string(),
                        s.status.to_string(),
                        s.bundle.display().to_string(),
                        s.created.clone(),
                        s.owner.clone(),
                    ]
                })
                .collect();
            out = table(
                &["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                &rows,
            );
        }
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(0)
    })();
    finish(global, "list", r)
}

/// Left-aligned columns separated by at least three spaces.
fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| crate::text::width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(crate::text::width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<width$}   ", width = w[i]));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(head.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["ID", "PID"],
            &[
                ["a".to_string(), "1".to_string()],
                ["bbbb".to_string(), "22".to_string()],
            ],
        );
        assert_eq!(t, "ID     PID\na      1\nbbbb   22\n");
    }
}
