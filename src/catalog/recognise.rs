//! Recognising a LICENSE file by its text.
//!
//! The same license reaches users in many shapes: CRLF or LF line ends, re-wrapped lines,
//! Markdown emphasis and links, curly or straight quotes, extra blank lines. [`normalise`] maps
//! all of these to one canonical form (words only, lowercase, single spaces), and
//! [`text_digest`] is the BLAKE3 of that form. Two texts with the same digest differ only in
//! punctuation, case, layout or Markdown markup, never in a word.

/// The canonical form of a license text: Markdown links reduced to their text, lowercase,
/// quotes, dashes and `©` unified, every run of punctuation and whitespace collapsed to one
/// space, trimmed. Only letters and digits survive, so re-wrapping, CRLF, blank lines,
/// Markdown emphasis (`**`, `_`, `\.`), list markers and quote styles make no difference.
pub fn normalise(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = strip_markdown_links(text);
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        let c = unify(c);
        let Some(c) = c else {
            pending_space = true;
            continue;
        };
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            for lower in c.to_lowercase() {
                out.push(lower);
            }
        } else {
            pending_space = true;
        }
    }
    out
}

/// BLAKE3 (hex) of the normalised text.
pub fn text_digest(text: &str) -> String {
    blake3::hash(normalise(text).as_bytes())
        .to_hex()
        .to_string()
}

/// Characters that stand for the same thing in different encodings of one text. `None` means
/// "a separator". Anything not alphanumeric becomes a separator later anyway; this table only
/// makes sure symbols that carry a letter (`©` is "(c)") keep it.
fn unify(c: char) -> Option<char> {
    match c {
        '©' => Some('c'),
        '®' | '™' => None,
        // Quotes and dashes of every kind are separators, like their ASCII forms.
        '\u{2018}'
        | '\u{2019}'
        | '\u{201a}'
        | '\u{201b}'
        | '\u{201c}'
        | '\u{201d}'
        | '\u{201e}'
        | '\u{201f}'
        | '\u{00ab}'
        | '\u{00bb}'
        | '\u{2010}'..='\u{2015}'
        | '\u{2212}' => None,
        _ => Some(c),
    }
}

/// `[text](target)` → `text`, so a Markdown rendering of a license (which links every URL)
/// matches the plain one. Anything that is not a complete link is left alone.
fn strip_markdown_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        // The link text ends at the first `]` with no newline pair or nested `[` before it.
        let link = after.find(']').and_then(|close| {
            let label = &after[..close];
            if label.contains('[') || label.contains("\n\n") {
                return None;
            }
            let target = after[close + 1..].strip_prefix('(')?;
            let end = target.find(')')?;
            if target[..end].contains(char::is_whitespace) {
                return None;
            }
            Some((label, close + 1 + 1 + end + 1))
        });
        match link {
            Some((label, consumed)) => {
                out.push_str(label);
                rest = &after[consumed..];
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_quotes_case_and_markdown_do_not_matter() {
        let plain = "You will not use the “Llama Materials”\r\nor any output — of it.\n";
        let other = "\n\n  you WILL not use the \"llama materials\" or\n\n any output - of it  ";
        assert_eq!(normalise(plain), normalise(other));
        assert_eq!(
            normalise(plain),
            "you will not use the llama materials or any output of it"
        );
        assert_eq!(text_digest(plain), text_digest(other));
        assert_eq!(normalise("**1\\. Grant**"), "1 grant");
        assert_eq!(
            normalise("Copyright © Meta"),
            normalise("Copyright (c) Meta")
        );
        assert_eq!(normalise("\u{feff}MIT"), "mit");
    }

    #[test]
    fn markdown_links_reduce_to_their_text() {
        assert_eq!(
            normalise("at [https://www.llama.com/docs](https://llama.com/docs/overview)."),
            normalise("at https://www.llama.com/docs.")
        );
        // Incomplete or odd brackets are kept (as separators) and never panic.
        for odd in [
            "[",
            "]",
            "[a](",
            "[a](b",
            "[a] (b)",
            "[[a]](b)",
            "[é](ü)",
            "a[b](c d)",
        ] {
            let _ = normalise(odd);
        }
        assert_eq!(normalise("[a] (b)"), "a b");
    }

    #[test]
    fn a_changed_word_changes_the_digest() {
        assert_ne!(text_digest("you will not use"), text_digest("you will use"));
        assert_ne!(text_digest("Llama 3.1"), text_digest("Llama 3.2"));
        assert_eq!(normalise(""), "");
        assert_eq!(normalise(" \n\t "), "");
    }
}
