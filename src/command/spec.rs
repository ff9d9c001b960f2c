//! The list of commands: names, usage lines and one-line summaries. Help and error messages are
//! generated from this table, so they cannot drift from the parser.

use std::fmt;

/// Every command firewatch knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandName {
    /// Open an incident.
    Assess,
    /// Post a status update.
    Update,
    /// Change the severity.
    Severity,
    /// Add a note.
    Note,
    /// Acknowledge.
    Ack,
    /// Take or hand over an incident role.
    Role,
    /// Resolve.
    Resolve,
    /// Show an incident or the open ones.
    Status,
    /// Show help.
    Help,
    /// Helm rollback.
    Rollback,
    /// Scale a Deployment.
    Scale,
    /// Run a runbook action.
    Action,
    /// Approve a pending change.
    Approve,
    /// Deny a pending change.
    Deny,
    /// Gather diagnostics.
    Diagnose,
    /// Verify the fix.
    Verify,
    /// Run the load test; store or compare with the baseline.
    PerformanceTest,
    /// Write the post-incident report.
    Report,
    /// Add or tick follow-up actions.
    Followup,
    /// Page more people: a role or a person.
    Page,
}

impl CommandName {
    /// Every command, in the order help lists them.
    pub const ALL: [CommandName; 20] = [
        CommandName::Assess,
        CommandName::Ack,
        CommandName::Role,
        CommandName::Page,
        CommandName::Update,
        CommandName::Severity,
        CommandName::Note,
        CommandName::Status,
        CommandName::Rollback,
        CommandName::Scale,
        CommandName::Action,
        CommandName::Approve,
        CommandName::Deny,
        CommandName::Diagnose,
        CommandName::Verify,
        CommandName::PerformanceTest,
        CommandName::Resolve,
        CommandName::Report,
        CommandName::Followup,
        CommandName::Help,
    ];

    /// The subcommand word: `assess`, `update`, …
    pub fn word(self) -> &'static str {
        match self {
            CommandName::Assess => "assess",
            CommandName::Update => "update",
            CommandName::Severity => "severity",
            CommandName::Note => "note",
            CommandName::Ack => "ack",
            CommandName::Role => "role",
            CommandName::Resolve => "resolve",
            CommandName::Status => "status",
            CommandName::Help => "help",
            CommandName::Rollback => "rollback",
            CommandName::Scale => "scale",
            CommandName::Action => "action",
            CommandName::Approve => "approve",
            CommandName::Deny => "deny",
            CommandName::Diagnose => "diagnose",
            CommandName::Verify => "verify",
            CommandName::PerformanceTest => "performance-test",
            CommandName::Report => "report",
            CommandName::Followup => "followup",
            CommandName::Page => "page",
        }
    }

    /// The usage line, in the slash-command form.
    pub fn usage(self) -> &'static str {
        match self {
            CommandName::Assess => "/incident-assess <description> [--sev P0..P3] [--service NAME]",
            CommandName::Update => {
                "/incident-update [#ID] [--status investigating|mitigating|monitoring] [--eta TEXT] [--users 1200|~40%|all] [--impact TEXT] [--public TEXT] <progress>"
            }
            CommandName::Severity => "/incident-severity [#ID] P0..P3 [reason]",
            CommandName::Note => "/incident-note [#ID] <text>",
            CommandName::Ack => "/incident-ack [#ID]",
            CommandName::Role => "/incident-role [#ID] commander|comms|scribe [@person]",
            CommandName::Resolve => {
                "/incident-resolve [#ID] [--public TEXT] <root cause> | <resolution>"
            }
            CommandName::Status => "/incident-status [#ID]",
            CommandName::Help => "/incident-help [COMMAND]",
            CommandName::Rollback => "/incident-rollback [#ID] [REVISION]",
            CommandName::Scale => "/incident-scale [#ID] REPLICAS [DEPLOYMENT]",
            CommandName::Action => "/incident-action [#ID] NAME",
            CommandName::Approve => "/incident-approve [#ID] [REQ]",
            CommandName::Deny => "/incident-deny [#ID] [REQ] [reason]",
            CommandName::Diagnose => "/incident-diagnose [#ID] app|perf|security|infra",
            CommandName::Verify => "/incident-verify [#ID] [--smoke-only]",
            CommandName::PerformanceTest => "/performance-test [#ID] [baseline]",
            CommandName::Report => "/incident-report [#ID]",
            CommandName::Followup => "/incident-followup [#ID] <text> | done N | N @person",
            CommandName::Page => "/incident-page [#ID] ROLE|@person [message]",
        }
    }

    /// What the command does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            CommandName::Assess => "open an incident: classify it, page the roles, post the alert",
            CommandName::Update => "post a status update; --status moves the incident",
            CommandName::Severity => "raise or lower the severity (pages the new roles)",
            CommandName::Note => "add a note to the timeline",
            CommandName::Ack => {
                "acknowledge the incident (and take command, unless someone has it)"
            }
            CommandName::Role => "take a role, or hand it to @person (commander, comms, scribe)",
            CommandName::Resolve => "resolve: root cause and resolution, separated by |",
            CommandName::Status => "show this channel's incident, #ID, or all open incidents",
            CommandName::Help => "list the commands, or explain one",
            CommandName::Rollback => "roll the service's Helm release back",
            CommandName::Scale => "scale the service's Deployment",
            CommandName::Action => "run a runbook action from the config",
            CommandName::Approve => "approve a pending production change",
            CommandName::Deny => "deny a pending production change",
            CommandName::Diagnose => "gather diagnostics for one area",
            CommandName::Verify => "check health endpoints, rollout and smoke tests",
            CommandName::PerformanceTest => {
                "run the load test; 'baseline' stores its figures, without it they are compared"
            }
            CommandName::Report => "write the post-incident report and close the incident",
            CommandName::Followup => "add an action item, or tick one off",
            CommandName::Page => {
                "page more people: a role (its PagerDuty service, Opsgenie teams) or @person"
            }
        }
    }

    /// Whether the command acts on one incident (and so accepts `#ID`).
    pub fn takes_incident(self) -> bool {
        !matches!(self, CommandName::Assess | CommandName::Help)
    }

    /// Finds a command by its word, accepting `assess`, `incident-assess` and `/incident-assess`
    /// (and `performance-test`, `/performance-test`).
    pub fn lookup(text: &str) -> Option<Self> {
        let text = text.strip_prefix('/').unwrap_or(text);
        let word = text.strip_prefix("incident-").unwrap_or(text);
        Self::ALL
            .into_iter()
            .find(|c| c.word().eq_ignore_ascii_case(word))
    }

    /// The command whose word is closest to `word`, if any is close enough to be a typo.
    pub fn closest(word: &str) -> Option<Self> {
        let word = word.to_lowercase();
        Self::ALL
            .into_iter()
            .map(|c| (edit_distance(&word, c.word()), c))
            .filter(|(d, c)| *d <= 2 && *d < c.word().len())
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c)
    }
}

impl fmt::Display for CommandName {
    /// The slash form: `/incident-assess`; `/performance-test` (the runbook's name) has no
    /// `incident-` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandName::PerformanceTest => f.write_str("/performance-test"),
            _ => write!(f, "/incident-{}", self.word()),
        }
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_usage_line_starts_with_the_command() {
        for c in CommandName::ALL {
            assert!(c.usage().starts_with(&c.to_string()), "{c}");
            assert_eq!(CommandName::lookup(&c.to_string()), Some(c));
            assert_eq!(CommandName::lookup(c.word()), Some(c));
        }
    }

    #[test]
    fn typos_find_the_closest_command() {
        assert_eq!(CommandName::closest("asses"), Some(CommandName::Assess));
        assert_eq!(CommandName::closest("stauts"), Some(CommandName::Status));
        assert_eq!(CommandName::closest("xyzzy"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
