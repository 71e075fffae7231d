//! Keyword spotting (being written).
