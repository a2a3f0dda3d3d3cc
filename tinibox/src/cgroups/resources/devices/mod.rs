//! Device access rules of a container: the spec's `resources.devices` list in order, followed by
//! the devices every container needs (null, zero, full, random, urandom, tty, console, ptmx,
//! pts, and mknod of anything). Later rules win, as when the list is written to the v1 devices
//! controller one line at a time. Owns the rule list, its v1 text form and the writer of both
//! versions (v1: devices.allow/deny lines; v2: the eBPF program of [`bpf`]), written once,
//! at creation.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::Writer;
use crate::cgroups::{io_err, write_file, CgroupError, CgroupHandle, Layout};

pub mod bpf;

/// The devices writer: every container gets a devices group on v1 (device isolation), no
/// controller on v2 (the filter is a BPF program attached to its group).
pub(in crate::cgroups) const WRITER: Writer =
    Writer::new(Some("devices"), None, |_, update| !update, write);

fn write(h: &CgroupHandle, res: &LinuxResources, initial: bool) -> Result<(), CgroupError> {
    if !initial {
        return Ok(());
    }
    match h.layout {
        Layout::V1 => {
            let Some(dir) = h.dirs.get("devices") else {
                return Ok(());
            };
            for r in rules(res.devices().as_ref()).map_err(CgroupError::Invalid)? {
                let f = if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                write_file(dir, f, &r.v1_line())?;
            }
            Ok(())
        }
        Layout::V2 => {
            let dir = h
                .dirs
                .get("unified")
                .ok_or_else(|| CgroupError::Missing("unified".into()))?;
            let rules = rules(res.devices().as_ref()).map_err(CgroupError::Invalid)?;
            bpf::attach(&bpf::program(&rules), dir).map_err(|e| io_err(dir, e))
        }
    }
}

/// One device rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// 'a' (all), 'b' (block) or 'c' (char).
    pub kind: char,
    /// Major number, None = any.
    pub major: Option<i64>,
    /// Minor number, None = any.
    pub minor: Option<i64>,
    /// Subset of "rwm".
    pub access: String,
}

impl Rule {
    fn allow_c(major: i64, minor: Option<i64>, access: &str) -> Rule {
        Rule {
            allow: true,
            kind: 'c',
            major: Some(major),
            minor,
            access: access.into(),
        }
    }

    /// The v1 devices.allow/deny line: `c 1:3 rwm`, `a *:* rwm`.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_else(|| "*".into());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }

    /// True when the rule applies to everything (type a, any number).
    pub fn is_all(&self) -> bool {
        self.kind == 'a'
    }
}

/// The devices every container may use, appended after the spec's rules.
pub fn default_allowed() -> Vec<Rule> {
    vec![
        Rule {
            allow: true,
            kind: 'c',
            major: None,
            minor: None,
            access: "m".into(),
        },
        Rule {
            allow: true,
            kind: 'b',
            major: None,
            minor: None,
            access: "m".into(),
        },
        Rule::allow_c(1, Some(3), "rwm"), // null
        Rule::allow_c(1, Some(5), "rwm"), // zero
        Rule::allow_c(1, Some(7), "rwm"), // full
        Rule::allow_c(1, Some(8), "rwm"), // random
        Rule::allow_c(1, Some(9), "rwm"), // urandom
        Rule::allow_c(5, Some(0), "rwm"), // tty
        Rule::allow_c(5, Some(1), "rwm"), // console
        Rule::allow_c(5, Some(2), "rwm"), // ptmx
        Rule::allow_c(136, None, "rwm"),  // pts/*
    ]
}

/// Converts the spec's rules (validating them) and appends the defaults.
pub fn rules(spec_rules: Option<&Vec<LinuxDeviceCgroup>>) -> Result<Vec<Rule>, String> {
    let mut out = Vec::new();
    // Unless the spec says otherwise, start from "deny everything".
    let starts_with_deny_all = spec_rules
        .and_then(|r| r.first())
        .map(|r| !r.allow() && matches!(r.typ(), None | Some(LinuxDeviceType::A)))
        .unwrap_or(false);
    if !starts_with_deny_all {
        out.push(Rule {
            allow: false,
            kind: 'a',
            major: None,
            minor: None,
            access: "rwm".into(),
        });
    }
    for r in spec_rules.into_iter().flatten() {
        let kind = match r.typ() {
            None | Some(LinuxDeviceType::A) => 'a',
            Some(LinuxDeviceType::B) => 'b',
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
            Some(LinuxDeviceType::P) => {
                return Err("linux.resources.devices: type \"p\" cannot be a cgroup rule".into())
            }
        };
        let access = r.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
            return Err(format!(
                "linux.resources.devices: access {access:?} must be made of r, w, m"
            ));
        }
        let num = |v: Option<i64>| v.filter(|x| *x >= 0);
        out.push(Rule {
            allow: r.allow(),
            kind,
            major: num(r.major()),
            minor: num(r.minor()),
            access,
        });
    }
    out.extend(default_allowed());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        assert_eq!(Rule::allow_c(1, Some(3), "rwm").v1_line(), "c 1:3 rwm");
        assert_eq!(Rule::allow_c(136, None, "rw").v1_line(), "c 136:* rw");
    }

    #[test]
    fn spec_rules_then_defaults() {
        let deny: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":false,"access":"rwm"}"#).unwrap();
        let sda: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"type":"b","major":8,"minor":0,"access":"r"}"#)
                .unwrap();
        let r = rules(Some(&vec![deny, sda])).unwrap();
        assert_eq!(r[0].v1_line(), "a *:* rwm");
        assert!(!r[0].allow);
        assert_eq!(r[1].v1_line(), "b 8:0 r");
        assert_eq!(r.len(), 2 + default_allowed().len());
        // Without rules from the spec, everything is denied first.
        let r = rules(None).unwrap();
        assert!(!r[0].allow && r[0].is_all());
        let bad: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow":true,"access":"x"}"#).unwrap();
        assert!(rules(Some(&vec![bad])).is_err());
    }
}
