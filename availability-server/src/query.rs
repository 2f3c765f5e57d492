//! Query strings: decoded properly, checked strictly.
//!
//! Parameters are decoded as `application/x-www-form-urlencoded` (percent escapes, `+` for a
//! space). A parameter the route does not know, or one given twice, is a 400 that names it:
//! silently ignoring `tz` spelled `timezone` would answer in the wrong zone.

use crate::problem::Problem;

/// The decoded parameters of one request, each at most once.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `raw` (the part after `?`, if any), accepting only the names in `allowed`.
    ///
    /// # Errors
    ///
    /// 400 for an unknown or repeated parameter.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Query, Problem> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if !allowed.contains(&name.as_ref()) {
                return Err(Problem::bad_request(if allowed.is_empty() {
                    format!("unknown query parameter {name:?}: this path takes no parameters")
                } else {
                    format!(
                        "unknown query parameter {name:?}: this path accepts {}",
                        allowed.join(", ")
                    )
                }));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(Problem::bad_request(format!(
                    "query parameter {name:?} is given more than once; give it once"
                )));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Query { pairs })
    }

    /// The value of `name`, if given. An empty value counts as not given, so `?week=` means
    /// the default week.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_and_plus() {
        let q = Query::parse(Some("tz=America%2FNew_York&week=2026+W48"), &["tz", "week"])
            .expect("valid");
        assert_eq!(q.get("tz"), Some("America/New_York"));
        assert_eq!(q.get("week"), Some("2026 W48"));
        assert_eq!(q.get("format"), None);
    }

    #[test]
    fn rejects_unknown_and_repeated() {
        let err = Query::parse(Some("timezone=UTC"), &["tz"]).expect_err("unknown");
        assert!(err.detail().contains("\"timezone\""), "{err}");
        let err = Query::parse(Some("tz=UTC&tz=Europe/Paris"), &["tz"]).expect_err("twice");
        assert!(err.detail().contains("more than once"), "{err}");
        let err = Query::parse(Some("x=1"), &[]).expect_err("none allowed");
        assert!(err.detail().contains("takes no parameters"), "{err}");
    }

    #[test]
    fn empty_values_mean_default() {
        let q = Query::parse(Some("week=&tz=UTC"), &["tz", "week"]).expect("valid");
        assert_eq!(q.get("week"), None);
        assert_eq!(q.get("tz"), Some("UTC"));
    }
}
