//! Counting optional values stored as null ([`Nulled`]) per (field, cause) over an ingest, for
//! the notes of the summary and `_meta.json`: `"age: 2 values out of range (0..=120 years)
//! stored as null (first: row 3, `414`)"`. Counts are kept per chunk in `part-NNNNN.done.json`,
//! so a resumed ingest reports what a clean run reports.

use serde::{Deserialize, Serialize};

use crate::ingest::record::Nulled;

/// How many stored rows had one kind of unusable optional value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullCount {
    pub field: String,
    pub cause: String,
    pub count: u64,
    /// First (lowest) source row with this kind, and its raw value.
    pub first_row: u64,
    pub first_value: String,
}

/// Adds one occurrence (source row `row`) to `counts`.
pub fn add(counts: &mut Vec<NullCount>, row: u64, n: &Nulled) {
    merge(
        counts,
        NullCount {
            field: n.field.to_string(),
            cause: n.cause.to_string(),
            count: 1,
            first_row: row,
            first_value: n.value.clone(),
        },
    );
}

/// Merges one count into `counts` (same field and cause: counts add, the lower row is kept).
pub fn merge(counts: &mut Vec<NullCount>, c: NullCount) {
    match counts.iter_mut().find(|x| x.field == c.field && x.cause == c.cause) {
        Some(x) => {
            x.count += c.count;
            if c.first_row < x.first_row {
                x.first_row = c.first_row;
                x.first_value = c.first_value;
            }
        }
        None => counts.push(c),
    }
}

/// One note per kind, sorted by field then cause.
pub fn notes(counts: &[NullCount]) -> Vec<String> {
    let mut v: Vec<&NullCount> = counts.iter().collect();
    v.sort_by(|a, b| (&a.field, &a.cause).cmp(&(&b.field, &b.cause)));
    v.iter()
        .map(|c| {
            let example = if c.first_value.is_empty() {
                format!("row {}", c.first_row)
            } else {
                format!("row {}, `{}`", c.first_row, c.first_value)
            };
            format!("{}: {} {} (first: {example})", c.field, c.count, c.cause)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_render() {
        let mut a = Vec::new();
        add(&mut a, 7, &Nulled::new("age", "values out of range (0..=120 years) stored as null", "148"));
        add(&mut a, 9, &Nulled::new("view", "empty view cells stored as null", ""));
        let mut b = Vec::new();
        add(&mut b, 3, &Nulled::new("age", "values out of range (0..=120 years) stored as null", "414"));
        for c in b {
            merge(&mut a, c);
        }
        assert_eq!(
            notes(&a),
            vec![
                "age: 2 values out of range (0..=120 years) stored as null (first: row 3, `414`)".to_string(),
                "view: 1 empty view cells stored as null (first: row 9)".to_string(),
            ]
        );
    }
}
