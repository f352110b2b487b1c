//! A body that fills while readers stream it: the origin's bytes go to every waiting viewer
//! and every tier as they arrive; the tiers keep it only when it completes intact.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

#[derive(Debug, Default)]
struct State {
    chunks: Vec<Bytes>,
    len: usize,
    /// `Some(true)` complete, `Some(false)` aborted or truncated.
    done: Option<bool>,
}

/// A shared, append-only body.
#[derive(Debug)]
pub(crate) struct SharedBody {
    state: Mutex<State>,
    tick: watch::Sender<u64>,
}

impl SharedBody {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            tick: watch::channel(0).0,
        })
    }

    pub(crate) fn complete(bytes: Bytes) -> Arc<Self> {
        let len = bytes.len();
        let chunks = if bytes.is_empty() {
            Vec::new()
        } else {
            vec![bytes]
        };
        Arc::new(Self {
            state: Mutex::new(State {
                chunks,
                len,
                done: Some(true),
            }),
            tick: watch::channel(0).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        {
            let mut s = self.lock();
            s.len += chunk.len();
            s.chunks.push(chunk);
        }
        self.tick.send_modify(|t| *t += 1);
    }

    pub(crate) fn finish(&self, ok: bool) {
        self.lock().done.get_or_insert(ok);
        self.tick.send_modify(|t| *t += 1);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len
    }

    pub(crate) fn state(&self) -> Option<bool> {
        self.lock().done
    }

    /// Waits for the end: `true` when the body completed intact.
    pub(crate) async fn finished(&self) -> bool {
        let mut rx = self.tick.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(ok) = self.lock().done {
                return ok;
            }
            if rx.changed().await.is_err() {
                return false;
            }
        }
    }

    /// The whole body once complete (`None` if it was cut short).
    pub(crate) async fn collect(&self) -> Option<Bytes> {
        if !self.finished().await {
            return None;
        }
        let s = self.lock();
        Some(match s.chunks.len() {
            0 => Bytes::new(),
            1 => s.chunks[0].clone(),
            _ => {
                let mut v = Vec::with_capacity(s.len);
                for c in &s.chunks {
                    v.extend_from_slice(c);
                }
                Bytes::from(v)
            }
        })
    }

    /// A stream of the body from its start; ends with an error if the body is cut short.
    pub(crate) fn stream(
        self: &Arc<Self>,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let body = Arc::clone(self);
        let rx = body.tick.subscribe();
        futures::stream::unfold(
            (body, rx, 0usize, false),
            |(body, mut rx, idx, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    rx.borrow_and_update();
                    let (next, done) = {
                        let s = body.lock();
                        (s.chunks.get(idx).cloned(), s.done)
                    };
                    if let Some(chunk) = next {
                        return Some((Ok(chunk), (body, rx, idx + 1, false)));
                    }
                    match done {
                        Some(true) => return None,
                        Some(false) => {
                            let err = std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "origin response cut short",
                            );
                            return Some((Err(err), (body, rx, idx, true)));
                        }
                        None => {
                            if rx.changed().await.is_err() {
                                return None;
                            }
                        }
                    }
                }
            },
        )
    }
}
