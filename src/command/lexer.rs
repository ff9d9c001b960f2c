//! Splits command text into words, honouring quotes.
//!
//! - Whitespace separates words.
//! - Double quotes (`"`, and the curly `“ ”` chat apps substitute) group words; inside them `\"`
//!   is a literal quote. An unclosed double quote is an error.
//! - Single quotes (`'`, `‘ ’`) group words only when they wrap a whole word
//!   (`'two words'`); anywhere else they are apostrophes (`isn't`).
//! - An unquoted `|` is a word of its own (it separates root cause from resolution).
//! - Line breaks inside quotes become spaces: one command is one line of text, so user text can
//!   never start a line of a message of its own (and pose as one of its fields).

/// One word of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word with quotes removed.
    pub text: String,
    /// Whether it began with a quote: a quoted `"--x"` or `"#12"` is text, while `--eta="30 min"`
    /// is still an option.
    pub quoted: bool,
    /// Whether this is the unquoted `|` separator.
    pub pipe: bool,
}

/// Why text could not be split into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A double quote was opened and never closed.
    #[error("unbalanced quote: {fragment} has no closing \"")]
    Unbalanced {
        /// The text from the opening quote, shortened.
        fragment: String,
    },
    /// A control character (other than whitespace) is in the text.
    #[error("the command contains the control character U+{code:04X}")]
    Control {
        /// Its code point.
        code: u32,
    },
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '„')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '‘' | '’')
}

/// Splits `input` into tokens.
///
/// # Errors
/// [`LexError`] on an unclosed double quote or a control character.
pub fn lex(input: &str) -> Result<Vec<Token>, LexError> {
    if let Some(c) = input.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(LexError::Control { code: c as u32 });
    }
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        if chars[i] == '|' {
            tokens.push(Token {
                text: "|".into(),
                quoted: false,
                pipe: true,
            });
            i += 1;
            continue;
        }
        if is_single_quote(chars[i])
            && let Some(end) = closing_single_quote(&chars, i)
        {
            tokens.push(Token {
                text: chars[i + 1..end].iter().map(|c| flatten(*c)).collect(),
                quoted: true,
                pipe: false,
            });
            i = end + 1;
            continue;
        }
        let mut token = Token {
            text: String::new(),
            quoted: false,
            pipe: false,
        };
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '|' {
            if is_double_quote(chars[i]) {
                token.quoted |= token.text.is_empty();
                i = read_double_quoted(&chars, i, &mut token.text)?;
            } else {
                token.text.push(chars[i]);
                i += 1;
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}

/// Quoted whitespace other than spaces and tabs (line breaks, form feeds, line separators)
/// becomes a space.
fn flatten(c: char) -> char {
    if c.is_whitespace() && c != '\t' {
        ' '
    } else {
        c
    }
}

/// For a single quote at `start` (the start of a word): the index of the quote that closes it,
/// which must end a word. `None` means the quote is an apostrophe.
fn closing_single_quote(chars: &[char], start: usize) -> Option<usize> {
    (start + 1..chars.len()).find(|&j| {
        is_single_quote(chars[j])
            && j > start + 1
            && chars
                .get(j + 1)
                .is_none_or(|c| c.is_whitespace() || *c == '|')
    })
}

/// Reads a double-quoted run starting at `start` into `out`; returns the index after it.
fn read_double_quoted(chars: &[char], start: usize, out: &mut String) -> Result<usize, LexError> {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if chars
                .get(i + 1)
                .is_some_and(|c| is_double_quote(*c) || *c == '\\') =>
            {
                out.push(chars[i + 1]);
                i += 2;
            }
            c if is_double_quote(c) => return Ok(i + 1),
            c => {
                out.push(flatten(c));
                i += 1;
            }
        }
    }
    let fragment: String = chars[start..].iter().take(30).collect();
    let ellipsis = if chars.len() - start > 30 { "…" } else { "" };
    Err(LexError::Unbalanced {
        fragment: format!("{fragment}{ellipsis}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(input: &str) -> Vec<String> {
        lex(input)
            .expect("lexes")
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn splits_on_any_whitespace() {
        assert_eq!(words("  a\tb \n c  "), ["a", "b", "c"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn double_quotes_group_words_and_may_sit_inside_a_word() {
        assert_eq!(
            words(r#"say "two  words" now"#),
            ["say", "two  words", "now"]
        );
        assert_eq!(words(r#"--eta="30 min""#), ["--eta=30 min"]);
        assert_eq!(words(r#""she said \"hi\"""#), [r#"she said "hi""#]);
        assert_eq!(words("“curly quotes” too"), ["curly quotes", "too"]);
        assert_eq!(words(r#""""#), [""]);
    }

    #[test]
    fn single_quotes_group_only_whole_words_and_are_apostrophes_elsewhere() {
        assert_eq!(words("'two words' x"), ["two words", "x"]);
        assert_eq!(words("it isn't up"), ["it", "isn't", "up"]);
        assert_eq!(words("'tis broken"), ["'tis", "broken"]);
        assert_eq!(words("the users' sessions"), ["the", "users'", "sessions"]);
        assert_eq!(words("‘smart’ quotes"), ["smart", "quotes"]);
    }

    #[test]
    fn only_a_leading_quote_makes_a_token_quoted() {
        let tokens = lex(r#""--sev" --eta="30 min" x"y""#).unwrap();
        let flags: Vec<_> = tokens.iter().map(|t| (t.text.as_str(), t.quoted)).collect();
        assert_eq!(
            flags,
            [("--sev", true), ("--eta=30 min", false), ("xy", false)]
        );
    }

    #[test]
    fn quoted_line_breaks_become_spaces() {
        assert_eq!(
            words("\"slow\nStatus: Resolved\" 'a\r\nb'"),
            ["slow Status: Resolved", "a  b"]
        );
        assert_eq!(words("\"tab\tkept\u{2028}sep\""), ["tab\tkept sep"]);
    }

    #[test]
    fn an_unquoted_pipe_is_its_own_token() {
        let tokens = lex(r#"bad config|rolled back "a|b""#).unwrap();
        let texts: Vec<_> = tokens.iter().map(|t| (t.text.as_str(), t.pipe)).collect();
        assert_eq!(
            texts,
            [
                ("bad", false),
                ("config", false),
                ("|", true),
                ("rolled", false),
                ("back", false),
                ("a|b", false)
            ]
        );
    }

    #[test]
    fn an_unclosed_double_quote_is_an_error_naming_the_fragment() {
        let err = lex(r#"note "checkout is broken"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unbalanced quote: "checkout is broken has no closing ""#
        );
        let long = format!("x \"{}", "y".repeat(100));
        assert!(lex(&long).unwrap_err().to_string().contains('…'));
    }

    #[test]
    fn control_characters_are_refused_by_code_point() {
        assert_eq!(
            lex("ring\u{7}bell").unwrap_err().to_string(),
            "the command contains the control character U+0007"
        );
    }

    #[test]
    fn unicode_passes_through() {
        assert_eq!(
            words("🚨 Zahlungsdienst ausgefallen 支付"),
            ["🚨", "Zahlungsdienst", "ausgefallen", "支付"]
        );
    }
}
