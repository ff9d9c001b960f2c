//! How many users an incident affects, as `/incident-update --users` takes it: a count
//! (`1200`, `1,200`), a share (`40%`), either of them approximate (`~40%`), or `all`.

use std::fmt;

/// Users affected, parsed from what someone typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersAffected {
    /// Every user.
    All,
    /// A count or a share of the users.
    Some {
        /// The figure.
        n: u64,
        /// Whether `n` is a percentage (at most 100).
        percent: bool,
        /// Whether it is an estimate (`~`).
        approximate: bool,
    },
}

impl UsersAffected {
    /// Parses `1200`, `1,200`, `~40%` or `all`.
    ///
    /// # Errors
    /// Says what is wrong with `text` (empty, negative, over 100 %, not a count), quoting it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let given = text.trim();
        if given.is_empty() {
            return Err("is empty: give a count of users (1200, ~40% or all)".into());
        }
        if given.eq_ignore_ascii_case("all") {
            return Ok(UsersAffected::All);
        }
        let (approximate, rest) = match given.strip_prefix('~') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, given),
        };
        if rest.starts_with('-') {
            return Err(format!("'{given}': a count of users cannot be negative"));
        }
        let (figure, percent) = match rest.strip_suffix('%') {
            Some(figure) => (figure.trim_end(), true),
            None => (rest, false),
        };
        let digits: String = figure.chars().filter(|c| *c != ',').collect();
        let n = match digits.parse::<u64>() {
            Ok(n) if !figure.starts_with(',') && !figure.ends_with(',') => n,
            _ => {
                return Err(format!(
                    "'{given}' is not a count of users: give 1200, ~40% or all"
                ));
            }
        };
        if percent && n > 100 {
            return Err(format!("'{given}': a share of users is at most 100%"));
        }
        Ok(UsersAffected::Some {
            n,
            percent,
            approximate,
        })
    }
}

impl fmt::Display for UsersAffected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsersAffected::All => f.write_str("all"),
            UsersAffected::Some {
                n,
                percent,
                approximate,
            } => {
                let about = if *approximate { "~" } else { "" };
                let unit = if *percent { "%" } else { "" };
                write!(f, "{about}{n}{unit}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UsersAffected;

    #[test]
    fn counts_shares_and_all_are_taken_and_shown_as_typed() {
        for (typed, shown) in [
            ("1200", "1200"),
            ("1,200", "1200"),
            ("~40%", "~40%"),
            ("40 %", "40%"),
            ("ALL", "all"),
            ("~ 300", "~300"),
        ] {
            assert_eq!(UsersAffected::parse(typed).unwrap().to_string(), shown);
        }
    }

    #[test]
    fn empty_negative_and_wordy_values_are_refused_naming_the_value() {
        assert!(
            UsersAffected::parse("  ")
                .unwrap_err()
                .starts_with("is empty")
        );
        assert_eq!(
            UsersAffected::parse("-5").unwrap_err(),
            "'-5': a count of users cannot be negative"
        );
        assert_eq!(
            UsersAffected::parse("~-40%").unwrap_err(),
            "'~-40%': a count of users cannot be negative"
        );
        assert!(
            UsersAffected::parse("120%")
                .unwrap_err()
                .contains("at most 100%")
        );
        for wordy in ["many", "about 2000", "1.5k", ",100", "12,"] {
            let error = UsersAffected::parse(wordy).unwrap_err();
            assert!(
                error.contains(&format!("'{wordy}' is not a count")),
                "{error}"
            );
        }
    }
}
