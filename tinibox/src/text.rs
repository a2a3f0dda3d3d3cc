//! Cutting text a user controls (ids, names, commands, image references) for display.
//!
//! Every cut counts Unicode scalar values (`char`s), never bytes, so no cut lands inside a
//! multi-byte character (which would panic) and a column's width is what a terminal shows
//! for ordinary text. A leaf: imports nothing of tinibox.

/// The first `n` characters of `s` (all of `s` when it is shorter).
pub fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// `s` itself when it has at most `max` characters; otherwise its first `max - 3` characters
/// followed by `...` (`max` characters in all; `max` below 3 gives just the dots).
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = prefix(s, max.saturating_sub(3)).to_string();
    out.push_str("...");
    out
}

/// The number of characters in `s`: the width used to align a column.
pub fn width(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_count_characters() {
        assert_eq!(prefix("xééé", 2), "xé");
        assert_eq!(prefix("ab", 12), "ab");
        assert_eq!(prefix("", 3), "");
    }

    #[test]
    fn long_text_is_cut_between_characters() {
        let s = format!("x{}", "é".repeat(50));
        let cut = ellipsize(&s, 40);
        assert_eq!(cut.chars().count(), 40);
        assert!(cut.ends_with("..."));
        assert_eq!(ellipsize("short", 40), "short");
    }

    #[test]
    fn widths_are_characters() {
        assert_eq!(width("ééé"), 3);
    }
}
