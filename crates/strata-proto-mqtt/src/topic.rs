//! Topic names, topic filters, shared subscriptions and matching (MQTT 5.0 section 4.7, 4.8.2).
//!
//! ```
//! use strata_proto_mqtt::topic::{matches, validate_topic_filter, SharedFilter};
//!
//! assert!(matches("sensors/+/temp", "sensors/kitchen/temp"));
//! assert!(matches("sensors/#", "sensors"));
//! assert!(!matches("#", "$SYS/uptime"));
//! assert!(validate_topic_filter("a/#/b").is_err());
//! let shared = SharedFilter::parse("$share/g1/sensors/#").unwrap().unwrap();
//! assert_eq!((shared.group, shared.filter), ("g1", "sensors/#"));
//! ```

/// The reason a topic name or topic filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// Topic names and filters must be at least one character long.
    #[error("topic is empty")]
    Empty,
    /// Topic names and filters are UTF-8 strings of at most 65,535 bytes.
    #[error("topic is longer than 65535 bytes")]
    TooLong,
    /// U+0000 is not allowed in any MQTT string.
    #[error("topic contains U+0000")]
    NullCharacter,
    /// `+` or `#` appear in a topic name (they are only allowed in filters).
    #[error("topic name contains a wildcard")]
    WildcardInName,
    /// A `+` or `#` that does not occupy a whole level, or a `#` that is not the last level.
    #[error("topic filter has a misplaced wildcard")]
    MisplacedWildcard,
    /// A `$share/` filter without a valid share name and filter.
    #[error("invalid shared subscription filter")]
    InvalidSharedSubscription,
}

fn check_string(s: &str) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > usize::from(u16::MAX) {
        return Err(TopicError::TooLong);
    }
    if s.contains('\0') {
        return Err(TopicError::NullCharacter);
    }
    Ok(())
}

/// Checks a topic name as carried in PUBLISH: non-empty, no wildcards, no U+0000.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_string(name)?;
    if name.bytes().any(|b| b == b'+' || b == b'#') {
        return Err(TopicError::WildcardInName);
    }
    Ok(())
}

/// Checks a topic filter as carried in SUBSCRIBE and UNSUBSCRIBE, including `$share/` filters.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_string(filter)?;
    let inner = match SharedFilter::parse(filter)? {
        Some(shared) => shared.filter,
        None => filter,
    };
    validate_plain_filter(inner)
}

fn validate_plain_filter(filter: &str) -> Result<(), TopicError> {
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        match level {
            "#" if levels.peek().is_some() => return Err(TopicError::MisplacedWildcard),
            "#" | "+" => {}
            other if other.contains(['+', '#']) => return Err(TopicError::MisplacedWildcard),
            _ => {}
        }
    }
    Ok(())
}

/// Whether a topic filter contains `+` or `#`.
pub fn has_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// A shared subscription filter, `$share/{group}/{filter}` (MQTT 5.0 section 4.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name.
    pub group: &'a str,
    /// The topic filter the group subscribes to.
    pub filter: &'a str,
}

impl<'a> SharedFilter<'a> {
    /// The prefix that marks a shared subscription.
    pub const PREFIX: &'static str = "$share/";

    /// Splits a `$share/` filter; `Ok(None)` if the filter is not shared.
    ///
    /// The share name must be non-empty and free of `/`, `+` and `#`, and the filter after it must
    /// be a valid, non-empty topic filter.
    pub fn parse(filter: &'a str) -> Result<Option<Self>, TopicError> {
        let Some(rest) = filter.strip_prefix(Self::PREFIX) else {
            return Ok(None);
        };
        let Some((group, inner)) = rest.split_once('/') else {
            return Err(TopicError::InvalidSharedSubscription);
        };
        if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
            return Err(TopicError::InvalidSharedSubscription);
        }
        validate_plain_filter(inner)?;
        Ok(Some(Self {
            group,
            filter: inner,
        }))
    }
}

/// Whether a valid topic `filter` matches a valid topic name.
///
/// `+` matches exactly one level, `#` matches the parent level and any number of child levels,
/// and a filter starting with a wildcard does not match a topic starting with `$`
/// (MQTT 5.0 section 4.7.2). Shared filters must be unwrapped with [`SharedFilter::parse`] first.
/// The result for invalid filters is unspecified (but it does not panic).
pub fn matches(filter: &str, topic: &str) -> bool {
    let fb = filter.as_bytes();
    let tb = topic.as_bytes();
    if tb.first() == Some(&b'$') && matches!(fb.first(), Some(b'+' | b'#')) {
        return false;
    }
    let (mut fi, mut ti) = (0usize, 0usize);
    loop {
        // Invariant: fi and ti are at the start of a level.
        match fb.get(fi) {
            Some(b'#') => return true,
            Some(b'+') => {
                // Skip one topic level (possibly empty).
                while ti < tb.len() && tb[ti] != b'/' {
                    ti += 1;
                }
                fi += 1;
            }
            _ => {
                // Compare a literal level.
                while fi < fb.len() && fb[fi] != b'/' {
                    if ti >= tb.len() || tb[ti] != fb[fi] {
                        return false;
                    }
                    fi += 1;
                    ti += 1;
                }
                if ti < tb.len() && tb[ti] != b'/' {
                    return false;
                }
            }
        }
        // Both at end of a level.
        match (fi >= fb.len(), ti >= tb.len()) {
            (true, true) => return true,
            (true, false) => return false,
            (false, true) => {
                // Filter continues: only "/#" can still match the parent level.
                return &fb[fi..] == b"/#";
            }
            (false, false) => {
                fi += 1;
                ti += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn naive(filter: &str, topic: &str) -> bool {
        if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
            return false;
        }
        let f: Vec<&str> = filter.split('/').collect();
        let t: Vec<&str> = topic.split('/').collect();
        let mut i = 0;
        loop {
            match (f.get(i), t.get(i)) {
                (Some(&"#"), _) => return true,
                (Some(&"+"), Some(_)) => {}
                (Some(a), Some(b)) if a == b => {}
                (None, None) => return true,
                _ => return false,
            }
            i += 1;
        }
    }

    #[test]
    fn spec_examples() {
        // MQTT 5.0 section 4.7.1.2 and 4.7.1.3.
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "sport/tennis"));
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(matches("sport/+", "sport/"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(matches("+", ""));
        // 4.7.2: $-topics.
        assert!(!matches("#", "$SYS/monitor/Clients"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
        assert!(!matches("a/b", "a/bc"));
        assert!(!matches("a/bc", "a/b"));
        assert!(matches("a//b", "a//b"));
        assert!(matches("a/+/b", "a//b"));
    }

    #[test]
    fn validation() {
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(validate_topic_name("a/+"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a/#"), Err(TopicError::WildcardInName));
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::NullCharacter));
        assert!(validate_topic_name("/").is_ok());
        assert!(validate_topic_filter("#").is_ok());
        assert!(validate_topic_filter("+/+/#").is_ok());
        assert!(validate_topic_filter("sport/tennis#").is_err());
        assert!(validate_topic_filter("sport/tennis/#/ranking").is_err());
        assert!(validate_topic_filter("sport+").is_err());
        assert_eq!(validate_topic_filter(""), Err(TopicError::Empty));
        assert!(validate_topic_filter("$share/g/a/+").is_ok());
        assert!(validate_topic_filter("$share/g").is_err());
        assert!(validate_topic_filter("$share//a").is_err());
        assert!(validate_topic_filter("$share/g+/a").is_err());
        assert!(validate_topic_filter("$share/g/").is_err());
        assert!(validate_topic_filter("$share/g/a#").is_err());
        assert_eq!(SharedFilter::parse("a/b"), Ok(None));
    }

    proptest! {
        #[test]
        fn matches_agrees_with_naive(
            filter in "(\\$?[ab+#]{0,2})(/[ab+#]{0,2}){0,4}",
            topic in "(\\$?[ab]{0,2})(/[ab]{0,2}){0,4}",
        ) {
            prop_assume!(validate_topic_filter(&filter).is_ok());
            prop_assert_eq!(matches(&filter, &topic), naive(&filter, &topic));
        }

        #[test]
        fn matches_never_panics(filter in ".{0,12}", topic in ".{0,12}") {
            let _ = matches(&filter, &topic);
        }
    }
}
