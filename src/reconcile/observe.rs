//! Reads Apple's state for one app: 2 list requests, one Get Default per owned pair, and
//! the realtime URL — nothing more.

use super::observed::Observed;
use crate::apple::{ApiError, AppleClient};
use crate::desired::DesiredApp;

pub async fn observe(client: &AppleClient, desired: &DesiredApp) -> Result<Observed, ApiError> {
    let mut observed = Observed::default();
    refresh_lists(client, &mut observed).await?;
    for (product, locale) in &desired.owned_pairs {
        let current = client.get_default(product, locale).await?;
        observed.set_default(product, locale, current);
    }
    observed.realtime_url = client.get_realtime_url().await?;
    Ok(observed)
}

/// Re-reads the image and message lists (review states change; defaults do not).
pub async fn refresh_lists(client: &AppleClient, observed: &mut Observed) -> Result<(), ApiError> {
    observed.images = client
        .list_images()
        .await?
        .image_identifiers
        .into_iter()
        .map(|i| (i.image_identifier.to_lowercase(), i.image_state))
        .collect();
    observed.messages = client
        .list_messages()
        .await?
        .message_identifiers
        .into_iter()
        .map(|m| (m.message_identifier.to_lowercase(), m.message_state))
        .collect();
    Ok(())
}
