//! Text from outside made safe to show. Pod logs, events, alerts and what people type reach the
//! terminal, chat and the report file; a few characters in them act on whoever shows them
//! instead of being read: they drive a terminal, reorder or hide text. [`is_hidden`] is that
//! set; [`escape_hidden`] writes each one as a visible `\u{1b}` (terminals, the report file),
//! [`strip_hidden`] removes them (chat, where an escape would be noise).
//!
//! # Where text is cleaned
//! When it is shown, not when it comes in. The store keeps what the cluster and people said, as
//! they said it: evidence stays true to its source, and each way out needs its own form (the
//! console and the report show that an escape sequence was there; Slack and Discord drop it).
//! Every way out cleans: the console's and the chat platforms' renderers, and the report, which
//! is cleaned as it is written because the Markdown file is read in terminals and browsers
//! (and posted as a file) without another renderer in between.
//!
//! # Guarantees
//! Nothing in [`is_hidden`]'s set survives either function, save the tag characters of a
//! well-formed flag (🏴 + one to seven tags + the cancel tag); everything else (letters of every
//! script, emoji, tabs and line breaks) is kept as it was.

use std::borrow::Cow;

/// The black flag emoji (U+1F3F4) that starts an emoji tag sequence (🏴 + tags + cancel tag: the
/// flags of England, Scotland and Wales).
const BLACK_FLAG: char = '\u{1F3F4}';
/// Tag characters that spell a subdivision in an emoji tag sequence.
const TAG_SPELLING: std::ops::RangeInclusive<char> = '\u{E0020}'..='\u{E007E}';
/// The tag that ends an emoji tag sequence.
const CANCEL_TAG: char = '\u{E007F}';
/// The longest subdivision an emoji tag sequence spells (`gbsct` is five; Unicode allows up to
/// seven).
const LONGEST_TAG_SPELLING: usize = 7;

/// Whether `c` acts on the reader's display rather than being read:
///
/// - controls: C0 (U+0000–U+001F) except tab and line feed, DEL and C1 (U+007F–U+009F). ESC
///   starts terminal sequences (colours, clearing the screen, the window title, hyperlinks),
///   CR and BS overwrite what was shown, and some terminals take C1's CSI and OSC as ESC [ and
///   ESC ]. Tab and line feed only lay text out (a log excerpt, a report have many lines).
/// - line and paragraph separators (U+2028, U+2029): line breaks that some renderers take and
///   others do not, so a line can look like two.
/// - bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they
///   reorder what follows, so `moc.elpmaxe-live` can read as `evil-example.com` (the "Trojan
///   Source" characters that rustc also flags). The implicit marks LRM, RLM and ALM (U+200E,
///   U+200F, U+061C) are kept: Arabic and Hebrew writing needs them, and they only move the
///   neutral characters beside them, never a run of letters.
/// - invisible formatting that hides text between visible characters: soft hyphen (U+00AD),
///   Mongolian vowel separator (U+180E), zero-width space (U+200B), word joiner and the
///   invisible operators (U+2060–U+2064), the deprecated format characters (U+206A–U+206F),
///   the zero-width no-break space / BOM (U+FEFF), the interlinear annotation characters that
///   hide their annotation (U+FFF9–U+FFFB), shorthand and musical format controls, and the tag
///   characters (U+E0000–U+E007F) that can carry a whole invisible message. ZWNJ and ZWJ
///   (U+200C, U+200D) and the variation selectors are kept: emoji sequences, Persian and Indic
///   scripts and CJK variants need them. Tags are kept only inside a flag's emoji tag sequence.
/// - code points Unicode reserves as "default ignorable" (U+2065, U+FFF0–U+FFF8,
///   U+E0080–U+E00FF, U+E01F0–U+E0FFF): whatever is assigned there, renderers will not show.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}'
        | '\u{B}'..='\u{1F}'
        | '\u{7F}'..='\u{9F}'
        | '\u{AD}'
        | '\u{180E}'
        | '\u{200B}'
        | '\u{2028}'..='\u{2029}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF0}'..='\u{FFFB}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E00FF}'
        | '\u{E01F0}'..='\u{E0FFF}'
    )
}

/// `text` with every hidden character written as a visible escape (`ESC` as `\u{1b}`, U+202E
/// as `\u{202e}`): for terminals and the report file, where a reader should see that it was
/// there.
pub fn escape_hidden(text: &str) -> Cow<'_, str> {
    clean(text, Sequences::Keep, |out, c| {
        out.extend(c.escape_unicode());
    })
}

/// `text` without its hidden characters, and without the rest of each terminal escape sequence
/// they start (`ESC [31m`, `ESC ]0;title BEL`), so that no `[31m` is left behind: for chat
/// messages.
pub fn strip_hidden(text: &str) -> Cow<'_, str> {
    clean(text, Sequences::Drop, |_, _| {})
}

/// What becomes of a terminal escape sequence's characters after its introducer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sequences {
    /// Kept as text (the introducer is handled like any hidden character).
    Keep,
    /// Dropped with the introducer.
    Drop,
}

/// `text` with each hidden character handed to `hidden` (which writes what stands for it)
/// and every other character kept; borrowed when nothing is hidden.
fn clean(text: &str, sequences: Sequences, hidden: impl Fn(&mut String, char)) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if sequences == Sequences::Drop
            && let Some(len) = escape_sequence(rest)
        {
            rest = &rest[len..];
            continue;
        }
        let flag = (c == BLACK_FLAG).then(|| flag_tags(&rest[c.len_utf8()..]));
        if let Some(tags) = flag.filter(|t| !t.is_empty()) {
            let end = c.len_utf8() + tags.len();
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        if is_hidden(c) {
            hidden(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// The length in bytes of the terminal escape sequence `text` starts with, if it starts with
/// one (ECMA-48): a control sequence (`ESC [` or CSI, parameters, intermediates, a final byte),
/// an operating system command or string (`ESC ]`, `ESC P`, `ESC _`, `ESC ^`, `ESC X` or their C1
/// forms, up to BEL or the string terminator; an unterminated one counts as its introducer only,
/// so text after it is never lost), or `ESC` and one more character.
fn escape_sequence(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    let kind = match first {
        '\u{1b}' => match chars.next() {
            Some((_, '[')) => '[',
            Some((_, c @ (']' | 'P' | '_' | '^' | 'X'))) => {
                if c == ']' {
                    ']'
                } else {
                    'P'
                }
            }
            Some((i, c)) if ('\u{20}'..='\u{7e}').contains(&c) => return Some(i + 1),
            _ => return None,
        },
        '\u{9b}' => '[',
        '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}' => 'P',
        _ => return None,
    };
    let introducer = chars.clone().next().map_or(text.len(), |(i, _)| i);
    if kind == '[' {
        for (i, c) in chars {
            match c {
                '\u{30}'..='\u{3f}' | '\u{20}'..='\u{2f}' => {}
                '\u{40}'..='\u{7e}' => return Some(i + 1),
                _ => return Some(i),
            }
        }
        return Some(text.len());
    }
    let mut previous_escape = false;
    for (i, c) in chars {
        match c {
            '\u{7}' | '\u{9c}' => return Some(i + c.len_utf8()),
            '\\' if previous_escape => return Some(i + 1),
            _ => previous_escape = c == '\u{1b}',
        }
    }
    Some(introducer)
}

/// The tags of an emoji tag sequence at the start of `after` (the text after a 🏴): one to
/// [`LONGEST_TAG_SPELLING`] spelling tags and the cancel tag; empty when there is none.
fn flag_tags(after: &str) -> &str {
    let spelled = after
        .char_indices()
        .take_while(|(_, c)| TAG_SPELLING.contains(c))
        .take(LONGEST_TAG_SPELLING)
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8());
    match after[spelled..].chars().next() {
        Some(CANCEL_TAG) if spelled > 0 => &after[..spelled + CANCEL_TAG.len_utf8()],
        _ => "",
    }
}

/// A message with hidden characters in every part, and a check that rendered JSON has none: the
/// renderers' tests.
#[cfg(test)]
pub(crate) mod samples {
    use serde_json::Value;

    use crate::message::{ButtonStyle, Message};

    /// A pod log line that clears the screen, sets the window title and turns the text red,
    /// with a right-to-left override in it.
    pub const LOG: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mpanic: \u{202e}exe.txt\u{1b}[0m";

    /// Hidden characters in the headline, a field's label and value, text, a button.
    pub fn message() -> Message {
        Message::from_rendered(&format!(
            "🚨 INCIDENT\u{202e} DETECTED\u{1b}[5m\nService: freight\u{2066}liner\u{200b}\n{LOG}\n\
             Impact: users \u{9b}31m see 500s"
        ))
        .with_button(
            "Ack\u{202e}",
            "/incident-ack #1".into(),
            ButtonStyle::Primary,
        )
    }

    /// Every string in `json` that holds a hidden character.
    pub fn hidden_in(json: &Value) -> Vec<String> {
        match json {
            Value::String(s) if s.chars().any(super::is_hidden) => vec![s.clone()],
            Value::Array(items) => items.iter().flat_map(hidden_in).collect(),
            Value::Object(fields) => fields.values().flat_map(hidden_in).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mpanic\u{1b}[0m: x\rover\u{8}\u{9b}31m\u{202e}lmth.exe";

    #[test]
    fn a_terminal_sees_each_hidden_character_as_an_escape() {
        assert_eq!(
            escape_hidden(HOSTILE),
            "\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{1b}[31mpanic\\u{1b}[0m: x\\u{d}over\\u{8}\\u{9b}31m\\u{202e}lmth.exe"
        );
    }

    #[test]
    fn chat_sees_the_text_without_them() {
        assert_eq!(strip_hidden(HOSTILE), "panic: xoverlmth.exe");
    }

    #[test]
    fn chat_drops_whole_escape_sequences_but_never_the_text_after_an_unterminated_one() {
        assert_eq!(
            strip_hidden("\u{1b}[1;38;2;9;9;9mred\u{1b}[0m done"),
            "red done"
        );
        assert_eq!(
            strip_hidden("\u{1b}]8;;https://evil.example\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(strip_hidden("\u{1b}creset"), "reset");
        assert_eq!(
            strip_hidden("a \u{1b}]0;no terminator"),
            "a 0;no terminator"
        );
        assert_eq!(strip_hidden("\u{1b}[31"), "");
        assert_eq!(strip_hidden("x\u{1b}"), "x");
    }

    #[test]
    fn every_bidi_control_and_invisible_formatter_is_hidden() {
        let hidden = [
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{9d}',
            '\u{ad}',
            '\u{180e}',
            '\u{200b}',
            '\u{2028}',
            '\u{2029}',
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{202e}',
            '\u{2060}',
            '\u{2063}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{206a}',
            '\u{feff}',
            '\u{fff9}',
            '\u{fffb}',
            '\u{1bca0}',
            '\u{1d173}',
            '\u{e0001}',
            '\u{e0041}',
            '\u{e007f}',
        ];
        for c in hidden {
            assert!(is_hidden(c), "{:?}", c);
            // Not followed by what would continue an escape sequence.
            let text = format!("a{c}éb");
            assert_eq!(strip_hidden(&text), "aéb", "{:?}", c);
            assert!(!escape_hidden(&text).contains(c), "{:?}", c);
        }
    }

    #[test]
    fn ordinary_text_of_every_script_is_kept_as_it_is() {
        let kept = [
            "Checkout API returning 500s since 14:02 (deploy #42) — p99 1.2 s, 3× panic",
            "line one\n\tindented line two",
            "🚨 📊 ✅ ⚠️ ❤️ 👍🏽 🇩🇪",
            "👨\u{200d}👩\u{200d}👧 family (ZWJ sequence)",
            "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f} Scotland",
            "支付服务超时 決済が失敗しました 결제 실패",
            "خطأ في الخادم \u{200f}(500)\u{200f}",
            "שגיאה בשרת \u{200e}HTTP 500\u{200e}",
            "می\u{200c}خواهم",
            "नमस्ते, Ελληνικά, Кириллица",
            "葛\u{e0100}城市",
        ];
        for text in kept {
            assert_eq!(strip_hidden(text), text);
            assert_eq!(escape_hidden(text), text);
        }
    }

    #[test]
    fn tags_outside_a_flag_sequence_are_hidden() {
        let smuggled: String = "ignore this"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        assert_eq!(strip_hidden(&format!("ok{smuggled}")), "ok");
        // Too long for a subdivision, or never cancelled: not a flag.
        assert_eq!(strip_hidden(&format!("🏴{smuggled}\u{e007f}")), "🏴");
        assert_eq!(strip_hidden("🏴\u{e0067}\u{e0062}"), "🏴");
        assert_eq!(strip_hidden("🏴\u{e007f}"), "🏴");
    }
}
