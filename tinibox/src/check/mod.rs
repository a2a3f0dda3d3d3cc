//! The kernel features containers need (`tinibox check`), as one piece of data shared with
//! distro-build.
//!
//! - [`features`]: the list in `kernel-features.txt`, parsed ([`kernel_features`]).
//! - [`config`]: reading a kernel config (/proc/config.gz, /boot/config-RELEASE or a file).
//! - [`system`]: checks of the running system (cgroup layout, overlay, user namespaces).
//!
//! Reads only; must not change the system.

pub mod config;
pub mod features;
pub mod system;

pub use config::KernelConfig;
pub use features::{kernel_features, Feature, Level};

/// The result of checking one feature against a kernel config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureStatus {
    /// The feature from the list.
    pub feature: Feature,
    /// The alternative that is enabled (`y` or `m`), if any.
    pub satisfied_by: Option<String>,
}

/// Checks every feature of the list against a kernel config.
pub fn check_config(config: &KernelConfig) -> Vec<FeatureStatus> {
    kernel_features()
        .into_iter()
        .map(|feature| {
            let satisfied_by = feature.options.iter().find(|o| config.enabled(o)).cloned();
            FeatureStatus {
                feature,
                satisfied_by,
            }
        })
        .collect()
}
