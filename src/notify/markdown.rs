//! Markdown escaping of one value (what people typed, what the cluster said) before it goes
//! into the report's Markdown, so that a description cannot bold, link, open a table cell or
//! inject HTML into the report's structure. The template's own Markdown is not touched.
//!
//! # Guarantees
//! Every character Markdown (CommonMark and GitHub's tables) could read as syntax in running
//! text is written as a backslash escape or, for `<`, `>` and `&`, as an HTML entity; a line
//! break becomes a space, so a value stays on its list item or table row. Parentheses stay as
//! they are: with `[` and `]` escaped they cannot form a link.

/// `text` with Markdown syntax escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markdown_syntax_in_a_value_is_shown_as_written() {
        assert_eq!(escape("**bold** | cell"), r"\*\*bold\*\* \| cell");
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("[x](http://e)"), r"\[x\](http://e)");
        assert_eq!(escape("line one\n# heading"), r"line one \# heading");
        assert_eq!(escape(r"a\b `c`"), r"a\\b \`c\`");
    }

    #[test]
    fn plain_words_and_figures_are_left_alone() {
        let plain = "rolled back to revision 41; scaled to 10 replicas, 2,000 users - 40% → ok";
        assert_eq!(escape(plain), plain);
    }
}
