//! Group commit for `RecordEvent`: concurrent calls wait in one queue, and
//! a few writers each take every call waiting (up to [`MAX_GROUP`]) and
//! serve them in one transaction (`RegistryStore::record_event_group`).
//!
//! A `RecordEvent` is about ten statements, each a round trip to the
//! database, for one row of history; alone, a call spends its time waiting
//! on the network, not writing. Grouped, the statements are shared by every
//! call of the group, so under load the registry writes many events per
//! round trip, while a lone call still goes straight through (a group of
//! one). Each call keeps its own outcome and its own idempotency record.

use std::sync::Arc;

use robotid_domain::history::Event;
use robotid_platform::error::ApiError;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store::{EventRequest, RegistryStore, WriteError};

/// At most this many calls per transaction: bounds a group's statement
/// sizes and how long its slowest call waits for the others.
pub const MAX_GROUP: usize = 128;

/// Transactions in flight at once: while one commits, the next gathers
/// the calls that arrived meanwhile. More would only take database
/// connections from reads.
const WRITERS: usize = 2;

/// Calls the writers serve at once: a full group in each transaction.
pub const CAPACITY: usize = WRITERS * MAX_GROUP;

/// Calls waiting beyond the groups in flight. The services' concurrency
/// limit bounds the callers first; this is a backstop.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<Event, WriteError>>;

/// The queue in front of the event writers. Cloning shares it.
#[derive(Clone)]
pub struct EventWriter {
    queue: mpsc::Sender<(EventRequest, Reply)>,
}

impl EventWriter {
    /// Starts the writers on the current runtime. They stop when the last
    /// `EventWriter` is dropped and the queue is empty.
    pub fn start(store: RegistryStore) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(Gatherer {
            waiting,
            carried: None,
        }));
        for _ in 0..WRITERS {
            tokio::spawn(write_groups(store.clone(), Arc::clone(&waiting)));
        }
        Self { queue }
    }

    /// Appends one event, in a group with whatever other calls are waiting.
    pub async fn record(&self, request: EventRequest) -> Result<Event, WriteError> {
        let shutting_down = || {
            WriteError::Api(ApiError::unavailable(
                "SHUTTING_DOWN",
                "the service is shutting down; retry",
            ))
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((request, reply))
            .await
            .map_err(|_| shutting_down())?;
        answer.await.map_err(|_| shutting_down())?
    }
}

/// The receiving end, shared by the writers: one of them gathers a group
/// at a time.
struct Gatherer {
    waiting: mpsc::Receiver<(EventRequest, Reply)>,
    /// A call that could not join the last group because its request id
    /// was already in it: it starts the next one.
    carried: Option<(EventRequest, Reply)>,
}

impl Gatherer {
    /// The next group: waits for one call, then takes every call already
    /// waiting, up to `MAX_GROUP`. `None` once the queue is closed and
    /// empty.
    async fn next_group(&mut self) -> Option<Vec<(EventRequest, Reply)>> {
        let first = match self.carried.take() {
            Some(call) => call,
            None => self.waiting.recv().await?,
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            let Ok(call) = self.waiting.try_recv() else {
                break;
            };
            // The same request id twice in one transaction would be claimed
            // once: the second (a concurrent retry) waits for the next group,
            // where it finds the first's result.
            if group
                .iter()
                .any(|(queued, _)| queued.key.same_request(&call.0.key))
            {
                self.carried = Some(call);
                break;
            }
            group.push(call);
        }
        Some(group)
    }
}

async fn write_groups(store: RegistryStore, waiting: Arc<Mutex<Gatherer>>) {
    loop {
        let Some(group) = waiting.lock().await.next_group().await else {
            return;
        };
        let (requests, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
        // Calls whose callers gave up meanwhile are still written: a retry
        // with the same request id then finds its result.
        let outcomes = store.record_event_group(requests).await;
        for (reply, outcome) in replies.into_iter().zip(outcomes) {
            let _ = reply.send(outcome);
        }
    }
}
