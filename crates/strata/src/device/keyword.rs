//! `strata device simulate keyword` (being written).

use clap::Args;

/// `strata device simulate keyword` options.
#[derive(Args)]
pub(crate) struct KeywordArgs {}

pub(crate) async fn simulate(_args: KeywordArgs) -> anyhow::Result<bool> {
    anyhow::bail!("not yet")
}
