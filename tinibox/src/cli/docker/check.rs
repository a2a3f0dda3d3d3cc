//! `tinibox check`: the kernel config and the running system against the feature list, printed
//! like Docker's check-config script.
//!
//! Reads only; prints to stdout and returns the exit status.

use std::path::Path;

use crate::check::{self, system, KernelConfig, Level};

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "missing"
    }
}

/// Prints the report; 0 when every required feature is there, 1 otherwise, 125 on bad input.
pub fn run(config: Option<&Path>) -> u8 {
    let cfg = match config {
        Some(p) => KernelConfig::read(p).map_err(|e| {
            format!(
                "cannot read kernel config {}: {e} — pass an existing .config file",
                p.display()
            )
        }),
        None => KernelConfig::running(),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tinibox: {e}");
            return 125;
        }
    };
    println!("info: reading kernel config from {}", cfg.source.display());
    let statuses = check::check_config(&cfg);
    let mut missing_required = 0;
    for level in [Level::Required, Level::Optional] {
        println!(
            "\n{} kernel features:",
            if level == Level::Required {
                "Required"
            } else {
                "Optional"
            }
        );
        for s in statuses.iter().filter(|s| s.feature.level == level) {
            let ok = s.satisfied_by.is_some();
            if !ok && level == Level::Required {
                missing_required += 1;
            }
            let name = s
                .satisfied_by
                .clone()
                .unwrap_or_else(|| s.feature.options.join("|"));
            println!("- {:<40} {:<8} {}", name, mark(ok), s.feature.description);
        }
    }
    println!("\nRunning system:");
    let layout = system::cgroup_layout();
    let cg_ok = layout != system::CgroupLayout::None;
    if !cg_ok {
        missing_required += 1;
    }
    println!("- {:<40} {:<8} {}", "cgroup hierarchy", mark(cg_ok), layout);
    let ov = system::has_filesystem("overlay");
    println!(
        "- {:<40} {:<8} overlay in /proc/filesystems (image layers)",
        "overlay filesystem",
        mark(ov)
    );
    let userns = system::user_namespaces();
    println!(
        "- {:<40} {:<8} user namespaces can be created (optional)",
        "user namespaces",
        mark(userns)
    );
    if missing_required > 0 {
        println!("\n{missing_required} required feature(s) missing: containers will not work on this system");
        1
    } else {
        println!("\nAll required features are present.");
        0
    }
}
