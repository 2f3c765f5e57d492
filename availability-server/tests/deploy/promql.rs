//! Just enough of PromQL and of the Prometheus text format to check a dashboard against an
//! exposition: the series selectors of an expression (metric name and label matchers), the
//! labels it groups by, and the families and samples of `/metrics`.

use std::collections::{BTreeMap, BTreeSet};

/// PromQL's functions and aggregations: names that are never metrics.
const FUNCTIONS: &str = "\
    abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time bottomk \
    ceil changes clamp clamp_max clamp_min cos cosh count count_over_time count_values \
    day_of_month day_of_week day_of_year days_in_month deg delta deriv \
    double_exponential_smoothing end exp floor group histogram_avg histogram_count \
    histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum \
    holt_winters hour idelta increase info irate label_join label_replace last_over_time \
    limit_ratio limitk ln log10 log2 mad_over_time max max_over_time min min_over_time \
    minute month pi predict_linear present_over_time quantile quantile_over_time rad rate \
    resets round scalar sgn sin sinh sort sort_by_label sort_by_label_desc sort_desc sqrt \
    start stddev stddev_over_time stdvar stdvar_over_time sum sum_over_time tan tanh time \
    timestamp topk vector year";

/// Keywords followed by a list of label names in parentheses.
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Other keywords, operators spelled as words, and the special numbers.
const KEYWORDS: &[&str] = &[
    "and", "or", "unless", "atan2", "bool", "offset", "inf", "nan",
];

/// A label matcher: `label op "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Matcher {
    pub(super) label: String,
    pub(super) op: &'static str,
    pub(super) value: String,
}

/// A series selector: a metric name and its matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Selector {
    pub(super) metric: String,
    pub(super) matchers: Vec<Matcher>,
}

/// What an expression reads: its selectors, and the labels its `by (...)`, `without (...)`,
/// `on (...)`, `ignoring (...)` and `group_left/right (...)` clauses name.
#[derive(Debug, Default)]
pub(super) struct Uses {
    pub(super) selectors: Vec<Selector>,
    pub(super) grouping: BTreeSet<String>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_ident(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit()
}

/// The identifier at `i`, and the index after it.
fn ident(b: &[u8], i: usize) -> (String, usize) {
    let end = (i..b.len()).find(|&j| !is_ident(b[j])).unwrap_or(b.len());
    (String::from_utf8_lossy(&b[i..end]).into_owned(), end)
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The string literal opening at `i` (`"`, `'` or a raw `` ` ``), unescaped, and the index
/// after its closing quote.
fn string(b: &[u8], i: usize) -> Result<(String, usize), String> {
    let quote = b[i];
    let mut out = Vec::new();
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            c if c == quote => return Ok((String::from_utf8_lossy(&out).into_owned(), j + 1)),
            b'\\' if quote != b'`' && j + 1 < b.len() => {
                out.push(if b[j + 1] == b'n' { b'\n' } else { b[j + 1] });
                j += 2;
            }
            c => {
                out.push(c);
                j += 1;
            }
        }
    }
    Err(format!("unterminated string at {i}"))
}

/// The index after the bracket that closes the one at `i` (strings inside skipped).
fn closing(b: &[u8], i: usize, close: u8) -> Result<usize, String> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'"' | b'\'' | b'`' => j = string(b, j)?.1,
            c if c == close => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err(format!("no closing {:?} for the one at {i}", close as char))
}

/// The matchers between the braces opening at `i`, and the index after the closing brace.
fn matchers(b: &[u8], i: usize) -> Result<(Vec<Matcher>, usize), String> {
    let mut out = Vec::new();
    let mut j = i + 1;
    loop {
        j = skip_space(b, j);
        match b.get(j) {
            None => return Err(format!("no closing brace for the one at {i}")),
            Some(b'}') => return Ok((out, j + 1)),
            Some(b',') => {
                j += 1;
                continue;
            }
            Some(&c) if is_ident_start(c) => {}
            Some(&c) => return Err(format!("{:?} where a label name belongs at {j}", c as char)),
        }
        let (label, after) = ident(b, j);
        j = skip_space(b, after);
        let op = ["=~", "!=", "!~", "="]
            .into_iter()
            .find(|op| b[j..].starts_with(op.as_bytes()))
            .ok_or_else(|| format!("no matcher operator after {label:?}"))?;
        j = skip_space(b, j + op.len());
        if !matches!(b.get(j), Some(b'"' | b'\'' | b'`')) {
            return Err(format!("no quoted value for {label:?}"));
        }
        let (value, after) = string(b, j)?;
        j = after;
        out.push(Matcher { label, op, value });
    }
}

/// The selectors and grouping labels of `expr`, a PromQL expression in which Grafana's
/// variables (`$job`, `${job}`, `$__rate_interval`, `[[job]]`) may stand. An identifier
/// called as a function that PromQL does not have is an error, and so is a selector with no
/// metric name.
pub(super) fn uses(expr: &str) -> Result<Uses, String> {
    let b = expr.as_bytes();
    let mut out = Uses::default();
    // The selector whose name was the last token: braces right after it are its matchers.
    let mut named: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let last = named.take();
        match c {
            b'"' | b'\'' | b'`' => i = string(b, i)?.1,
            b'#' => i = (i..b.len()).find(|&j| b[j] == b'\n').unwrap_or(b.len()),
            // A range or subquery: durations and variables only.
            b'[' => i = closing(b, i, b']')?,
            b'$' if b.get(i + 1) == Some(&b'{') => i = closing(b, i + 1, b'}')?,
            b'$' => {
                i = (i + 1..b.len())
                    .find(|&j| !is_ident(b[j]))
                    .unwrap_or(b.len())
            }
            b'{' => {
                let (found, after) = matchers(b, i)?;
                i = after;
                match last {
                    Some(at) => out.selectors[at].matchers = found,
                    None => {
                        let metric = found
                            .iter()
                            .find(|m| m.label == "__name__" && m.op == "=")
                            .map(|m| m.value.clone())
                            .ok_or_else(|| format!("a selector without a metric name: {expr}"))?;
                        let matchers = found.into_iter().filter(|m| m.label != "__name__");
                        out.selectors.push(Selector {
                            metric,
                            matchers: matchers.collect(),
                        });
                    }
                }
            }
            // A number or a duration (`0.99`, `1e3`, `5m`, `0x1f`).
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || (matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let (word, after) = ident(b, i);
                i = after;
                let lower = word.to_ascii_lowercase();
                let next = skip_space(b, i);
                if GROUPING.contains(&lower.as_str()) {
                    if b.get(next) == Some(&b'(') {
                        let end = closing(b, next, b')')?;
                        let list = std::str::from_utf8(&b[next + 1..end - 1]).unwrap();
                        out.grouping.extend(
                            list.split(',')
                                .map(str::trim)
                                .filter(|l| !l.is_empty())
                                .map(str::to_owned),
                        );
                        i = end;
                    }
                } else if KEYWORDS.contains(&lower.as_str())
                    || FUNCTIONS.split_whitespace().any(|f| f == word)
                {
                    // Not a metric: a function's arguments follow, or an operand.
                } else if b.get(next) == Some(&b'(') {
                    return Err(format!("{word}() is not a PromQL function: {expr}"));
                } else {
                    named = Some(out.selectors.len());
                    out.selectors.push(Selector {
                        metric: word,
                        matchers: Vec::new(),
                    });
                }
            }
            _ => i += 1,
        }
    }
    Ok(out)
}

/// A `/metrics` exposition: each family's type, and each sample's name and labels.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    pub(super) families: BTreeMap<String, String>,
    pub(super) samples: Vec<(String, BTreeMap<String, String>)>,
}

impl Exposition {
    /// Reads the text format (version 0.0.4).
    pub(super) fn parse(text: &str) -> Exposition {
        let mut out = Exposition::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                out.families.insert(name.to_owned(), kind.trim().to_owned());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let b = line.as_bytes();
            let (name, after) = ident(b, 0);
            let mut labels = BTreeMap::new();
            if b.get(after) == Some(&b'{') {
                let (found, _) = matchers(b, after)
                    .unwrap_or_else(|e| panic!("a sample's labels ({e}): {line}"));
                labels.extend(found.into_iter().map(|m| (m.label, m.value)));
            }
            out.samples.push((name, labels));
        }
        out
    }

    /// Whether `name` is a series of this exposition: a family that is not a histogram, or
    /// the `_bucket`, `_sum` or `_count` of a histogram; else why not.
    pub(super) fn series(&self, name: &str) -> Result<(), String> {
        match self.families.get(name).map(String::as_str) {
            Some("histogram") => {
                return Err(format!(
                    "{name} is a histogram: its series are {name}_bucket, _sum and _count"
                ))
            }
            Some(_) => return Ok(()),
            None => {}
        }
        let histogram = ["_bucket", "_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|base| self.families.get(base).is_some_and(|k| k == "histogram"))
        });
        if histogram {
            Ok(())
        } else {
            Err(format!("{name} is not a metric the server exports"))
        }
    }

    /// The labels of the samples named `name`.
    pub(super) fn labels_of<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a BTreeMap<String, String>> + 'a {
        self.samples
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, labels)| labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(expr: &str) -> Vec<String> {
        let found = uses(expr).unwrap_or_else(|e| panic!("{e}"));
        found.selectors.into_iter().map(|s| s.metric).collect()
    }

    #[test]
    fn selectors_are_found_and_nothing_else() {
        let expr = r#"sum by (route, status) (rate(a_total{job=~"$job",route="x{y}",status!~"5.."}[$__rate_interval]))
            / on (instance) group_left (version) b_info offset 5m > bool 0.5
            + histogram_quantile(0.99, sum without(le) (rate(c_bucket[${interval}]))) * 1e-3
            or sum(d) by (limit) unless {__name__="e", k="v"} - Inf + [[var]]"#;
        let found = uses(expr).unwrap();
        let names: Vec<&str> = found.selectors.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(names, ["a_total", "b_info", "c_bucket", "d", "e"]);
        let a = &found.selectors[0].matchers;
        assert_eq!(a.len(), 3);
        assert_eq!(
            (a[1].label.as_str(), a[1].op, a[1].value.as_str()),
            ("route", "=", "x{y}")
        );
        assert_eq!(a[2].op, "!~");
        assert_eq!(found.selectors[4].matchers.len(), 1);
        let grouping: Vec<&str> = found.grouping.iter().map(String::as_str).collect();
        assert_eq!(
            grouping,
            ["instance", "le", "limit", "route", "status", "version"]
        );
        // `[[var]]` is Grafana's old variable syntax: skipped as a range.
        assert_eq!(
            metrics("label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")"),
            ["up"]
        );
        assert_eq!(metrics("sum(rate(x[5m:1m] @ end()))"), ["x"]);
    }

    #[test]
    fn unknown_functions_and_nameless_selectors_are_errors() {
        assert!(uses("rat(x[5m])").unwrap_err().contains("rat()"));
        assert!(uses(r#"{job="a"}"#)
            .unwrap_err()
            .contains("without a metric name"));
        assert!(uses(r#"x{job="a"#).is_err());
    }

    #[test]
    fn histograms_are_read_through_their_series() {
        let text = "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n\
                    # TYPE c_total counter\nc_total{route=\"a\\\"b\"} 2\n";
        let e = Exposition::parse(text);
        for ok in ["h_bucket", "h_sum", "h_count", "c_total"] {
            e.series(ok).unwrap();
        }
        assert!(e.series("h").unwrap_err().contains("histogram"));
        assert!(e.series("c").is_err());
        assert!(e.series("h_total").is_err());
        let labels: Vec<_> = e.labels_of("c_total").collect();
        assert_eq!(labels[0]["route"], "a\"b");
    }
}
