//! Image references as users type them: `name`, `name:tag`, `docker.io/library/name:tag`,
//! a full `sha256:…` digest or a short hex prefix of an image ID.
//!
//! This module owns parsing and normalisation only; lookup is in `store`.

use super::error::{ImageError, Result};

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A repository name and tag (tag defaults to `latest`).
    Named {
        /// Repository name without the `docker.io/library/` or `localhost/` prefix.
        name: String,
        /// The tag.
        tag: String,
    },
    /// A digest or a prefix of one (hex only, without `sha256:`), or something that may be
    /// either a name or an ID prefix (then `also_name` holds the name form).
    Digest {
        /// Lowercase hex prefix.
        hex: String,
        /// The same text read as a name, when it could be one.
        also_name: Option<(String, String)>,
    },
}

/// Removes registry prefixes Docker and Podman add to local names.
pub fn normalise_name(name: &str) -> String {
    for prefix in ["docker.io/library/", "docker.io/", "localhost/"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    name.to_string()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c) || c == ':')
        && !name.contains(":/")
        && name.split('/').skip(1).all(|part| !part.contains(':'))
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Splits `name[:tag]` (the tag is after the last ':' that follows the last '/').
pub fn parse_name_tag(text: &str) -> Result<(String, String)> {
    let slash = text.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (name, tag) = match text[slash..].rfind(':') {
        Some(i) => (&text[..slash + i], &text[slash + i + 1..]),
        None => (text, "latest"),
    };
    let name = normalise_name(name);
    if !valid_name(&name) || !valid_tag(tag) {
        return Err(ImageError::InvalidReference(text.to_string()));
    }
    Ok((name, tag.to_string()))
}

/// Parses what a user typed.
pub fn parse(text: &str) -> Result<Reference> {
    if let Some(hex) = text.strip_prefix("sha256:") {
        if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ImageError::InvalidReference(text.to_string()));
        }
        return Ok(Reference::Digest {
            hex: hex.to_ascii_lowercase(),
            also_name: None,
        });
    }
    let named = parse_name_tag(text);
    let hexish = text.len() >= 4 && text.len() <= 64 && text.chars().all(|c| c.is_ascii_hexdigit());
    match (named, hexish) {
        (Ok(nt), true) => Ok(Reference::Digest {
            hex: text.to_ascii_lowercase(),
            also_name: Some(nt),
        }),
        (Ok((name, tag)), false) => Ok(Reference::Named { name, tag }),
        (Err(_), true) => Ok(Reference::Digest {
            hex: text.to_ascii_lowercase(),
            also_name: None,
        }),
        (Err(e), false) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_and_digests() {
        assert_eq!(
            parse("tinilinux").unwrap(),
            Reference::Named {
                name: "tinilinux".into(),
                tag: "latest".into()
            }
        );
        assert_eq!(
            parse("docker.io/library/tinilinux:1.0").unwrap(),
            Reference::Named {
                name: "tinilinux".into(),
                tag: "1.0".into()
            }
        );
        assert!(matches!(
            parse("sha256:abcd").unwrap(),
            Reference::Digest {
                also_name: None,
                ..
            }
        ));
        assert!(matches!(
            parse("abcdef12").unwrap(),
            Reference::Digest {
                also_name: Some(_),
                ..
            }
        ));
        assert!(parse("Bad Name").is_err());
        assert!(parse("team/app:v1").is_ok());
        assert_eq!(
            parse("localhost:5000/x:1").unwrap(),
            Reference::Named {
                name: "localhost:5000/x".into(),
                tag: "1".into()
            }
        );
    }
}
