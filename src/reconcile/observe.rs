//! Reads Apple's state for one app: 2 list requests, one Get Default per owned pair, and
//! the realtime URL where the manifest manages it — nothing more.

use futures_util::{StreamExt, stream};

use super::observed::Observed;
use crate::apple::{ApiError, AppleClient};
use crate::desired::DesiredApp;
use crate::manifest::EnvironmentName;

pub async fn observe(
    client: &AppleClient,
    desired: &DesiredApp,
    env: EnvironmentName,
) -> Result<Observed, ApiError> {
    let mut observed = Observed::default();
    refresh_lists(client, &mut observed).await?;
    refresh_defaults(client, desired, &mut observed).await?;
    if desired.realtime_managed.contains(&env) {
        observed.realtime_url = client.get_realtime_url().await?;
    }
    Ok(observed)
}

/// Re-reads the image and message lists (review states change), both at once. Ids
/// arrive lower-cased from the wire model.
pub async fn refresh_lists(client: &AppleClient, observed: &mut Observed) -> Result<(), ApiError> {
    let (images, messages) = tokio::join!(client.list_images(), client.list_messages());
    observed.images = images?
        .image_identifiers
        .into_iter()
        .map(|i| (i.image_identifier, i.image_state))
        .collect();
    observed.messages = messages?
        .message_identifiers
        .into_iter()
        .map(|m| (m.message_identifier, m.message_state))
        .collect();
    Ok(())
}

/// Requests of one read in flight at once, before the client's own limits.
const READ_CONCURRENCY: usize = 16;

/// Re-reads the default of every owned pair, several at once: what a deletion is decided
/// from.
pub async fn refresh_defaults(
    client: &AppleClient,
    desired: &DesiredApp,
    observed: &mut Observed,
) -> Result<(), ApiError> {
    let answers: Vec<_> = stream::iter(&desired.owned_pairs)
        .map(|(product, locale)| async move {
            (product, locale, client.get_default(product, locale).await)
        })
        .buffer_unordered(READ_CONCURRENCY)
        .collect()
        .await;
    for (product, locale, current) in answers {
        observed.set_default(product, locale, current?);
    }
    Ok(())
}
