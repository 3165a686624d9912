//! "Did you mean": the closest known word to a misspelt one, and the list of the known ones.

/// Words users reach for that are named differently here.
const ALIASES: &[(&str, &str)] = &[
    ("concurrency", "limit"),
    ("max_concurrency", "limit"),
    ("max_tasks", "limit"),
    ("parallelism", "limit"),
    ("grace_period", "grace"),
    ("watchdog", "stall"),
    ("stall_after", "stall"),
    ("max_errors", "keep_errors"),
    ("keep_failures", "keep_errors"),
    ("on_error_callback", "on_failure"),
    ("label", "name"),
    ("mode", "policy"),
    ("on_error", "policy"),
    ("until", "deadline"),
    ("timeout_after", "timeout"),
    ("all", "wait_all"),
    ("collect_all", "wait_all"),
    ("first", "first_ok"),
    ("race", "first_ok"),
    ("any", "first_ok"),
    ("fail", "fail_fast"),
    ("cancel_on_error", "fail_fast"),
];

/// The known word closest to `word`, if one is close enough to be what was meant.
pub(crate) fn did_you_mean<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let folded = fold(word);
    // An alias, or a misspelling of one (`concurency`): two edits for a long alias, one for a
    // middling one, none for a short one (`all`, `any` are too near to everything).
    let alias = ALIASES
        .iter()
        .filter_map(|(alias, target)| {
            let found = known.iter().find(|k| **k == *target)?;
            let allowed = match alias.len() {
                0..=4 => 0,
                5..=7 => 1,
                _ => 2,
            };
            let d = distance(&folded, &fold(alias));
            (d <= allowed).then_some((d, *found))
        })
        .min_by_key(|(d, _)| *d);
    if let Some((_, found)) = alias {
        return Some(found);
    }
    known
        .iter()
        .map(|k| (distance(&folded, &fold(k)), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// `; did you mean `known`?` for a message, or nothing when no known word is close.
pub(crate) fn did_you_mean_hint(word: &str, known: &[&str]) -> String {
    match did_you_mean(word, known) {
        Some(known) => format!("; did you mean `{known}`?"),
        None => String::new(),
    }
}

/// The known words for a message: "`a`, `b` and `c`".
pub(crate) fn listed(known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} and {last}", init.join(", ")),
    }
}

/// Case and separators do not count: `FailFast`, `fail-fast` and `fail_fast` are one word.
fn fold(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::OPTIONS;

    #[test]
    fn close_words_are_suggested() {
        assert_eq!(did_you_mean("timout", OPTIONS), Some("timeout"));
        assert_eq!(did_you_mean("limt", OPTIONS), Some("limit"));
        assert_eq!(
            did_you_mean("FailFast", &["fail_fast", "wait_all"]),
            Some("fail_fast")
        );
        assert_eq!(did_you_mean("concurrency", OPTIONS), Some("limit"));
        assert_eq!(did_you_mean("concurency", OPTIONS), Some("limit"));
        assert_eq!(did_you_mean("max_concurency", OPTIONS), Some("limit"));
        assert_eq!(did_you_mean("keep_error", OPTIONS), Some("keep_errors"));
        assert_eq!(did_you_mean("max_errors", OPTIONS), Some("keep_errors"));
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(listed(&["a"]), "`a`");
        assert_eq!(listed(&["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(
            listed(OPTIONS),
            "`timeout`, `deadline`, `name`, `policy`, `limit`, `grace`, `stall`, \
             `keep_errors`, `on_failure` and `local`"
        );
    }

    #[test]
    fn far_words_are_not() {
        assert_eq!(did_you_mean("colour", OPTIONS), None);
        assert_eq!(did_you_mean("x", OPTIONS), None);
    }
}
