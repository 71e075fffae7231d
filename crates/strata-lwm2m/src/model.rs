//! Object model: OMA DDF XML object definitions (placeholder; being written).
