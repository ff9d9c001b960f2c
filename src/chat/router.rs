//! The engine's [`Outbox`] over every platform this process runs: a post goes to the adapter of
//! the channel's platform (Slack and Discord store it in the outbox of [`crate::delivery`]), and
//! incident messages are copied to the mirrors (the Discord status channel).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::engine::outbox::{Error, Outbox, Result};
use crate::incident::{ChannelRef, Platform};
use crate::message::Message;

/// An [`Outbox`] over every platform this process runs, chosen by the channel's platform (a
/// platform without a route fails with [`Error::NoRoute`]). Routes can be added while the
/// engine runs (an adapter that starts later, the console).
#[derive(Default)]
pub struct Router {
    routes: RwLock<HashMap<Platform, Arc<dyn Outbox>>>,
    mirrors: Vec<Arc<dyn Outbox>>,
}

impl Router {
    /// Sends `platform`'s channels to `outbox` (replacing an earlier route).
    pub fn route(&self, platform: Platform, outbox: Arc<dyn Outbox>) {
        self.routes
            .write()
            .expect("router lock is never poisoned")
            .insert(platform, outbox);
    }

    /// Copies every mirrored message to `mirror` (its `post` gets the channel it came from).
    pub fn add_mirror(&mut self, mirror: Arc<dyn Outbox>) {
        self.mirrors.push(mirror);
    }

    fn outbox_for(&self, platform: Platform) -> Option<Arc<dyn Outbox>> {
        self.routes
            .read()
            .expect("router lock is never poisoned")
            .get(&platform)
            .cloned()
    }
}

#[async_trait]
impl Outbox for Router {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<()> {
        match self.outbox_for(channel.platform) {
            Some(outbox) => outbox.post(channel, message).await,
            None => Err(Error::NoRoute(channel.platform)),
        }
    }

    async fn mirror(&self, from: &ChannelRef, message: &Message) {
        for mirror in &self.mirrors {
            if let Err(e) = mirror.post(from, message).await {
                tracing::warn!(error = %e, "could not mirror an incident message");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(ChannelRef, String)>>);

    #[async_trait]
    impl Outbox for Recorder {
        async fn post(&self, channel: &ChannelRef, message: &Message) -> Result<()> {
            let mut posted = self.0.lock().expect("not poisoned");
            posted.push((channel.clone(), message.headline.clone()));
            Ok(())
        }
    }

    fn channel(platform: Platform) -> ChannelRef {
        ChannelRef {
            platform,
            id: "C1".into(),
        }
    }

    #[tokio::test]
    async fn posts_go_to_the_channels_platform_or_fail_plainly() {
        let slack = Arc::new(Recorder::default());
        let mut router = Router::default();
        router.route(Platform::Slack, slack.clone());
        let message = Message::notice("📊 hello", "");
        router
            .post(&channel(Platform::Slack), &message)
            .await
            .unwrap();
        let err = router
            .post(&channel(Platform::Discord), &message)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no discord channel is connected");
        let reaches = |platform| router.outbox_for(platform).is_some();
        assert!(reaches(Platform::Slack) && !reaches(Platform::Console));
        let mirror = Arc::new(Recorder::default());
        router.add_mirror(mirror.clone());
        router.mirror(&channel(Platform::Console), &message).await;
        let posted = slack.0.lock().unwrap();
        assert_eq!(*posted, vec![(channel(Platform::Slack), "📊 hello".into())]);
        let mirrored = mirror.0.lock().unwrap();
        assert_eq!(
            *mirrored,
            vec![(channel(Platform::Console), "📊 hello".into())]
        );
    }
}
