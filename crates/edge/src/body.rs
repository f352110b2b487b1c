//! A body that fills while readers stream it: the origin's bytes go to every waiting viewer
//! and every tier as they arrive; the tiers keep it only when it completes intact.

use std::sync::{Arc, Mutex, OnceLock};

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
    /// The body in one piece once it completed intact: what hits read, without the lock.
    whole: OnceLock<Bytes>,
}

impl SharedBody {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            tick: watch::channel(0).0,
            whole: OnceLock::new(),
        })
    }

    pub(crate) fn complete(bytes: Bytes) -> Arc<Self> {
        let len = bytes.len();
        let chunks = if bytes.is_empty() {
            Vec::new()
        } else {
            vec![bytes.clone()]
        };
        Arc::new(Self {
            state: Mutex::new(State {
                chunks,
                len,
                done: Some(true),
            }),
            tick: watch::channel(0).0,
            whole: OnceLock::from(bytes),
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

    /// Ends the body. A complete body is joined into one piece (once, here) so every
    /// later reader gets it as a single `Bytes`: one buffer for hyper to write, no lock.
    pub(crate) fn finish(&self, ok: bool) {
        {
            let mut s = self.lock();
            if s.done.is_none() {
                s.done = Some(ok);
                if ok {
                    let whole = match s.chunks.len() {
                        0 => Bytes::new(),
                        1 => s.chunks[0].clone(),
                        _ => {
                            let mut v = Vec::with_capacity(s.len);
                            for c in &s.chunks {
                                v.extend_from_slice(c);
                            }
                            let whole = Bytes::from(v);
                            // Readers already streaming continue by offset in the one piece.
                            s.chunks = vec![whole.clone()];
                            whole
                        }
                    };
                    let _ = self.whole.set(whole);
                }
            }
        }
        self.tick.send_modify(|t| *t += 1);
    }

    /// The whole body when it completed intact; lock-free.
    pub(crate) fn whole(&self) -> Option<&Bytes> {
        self.whole.get()
    }

    pub(crate) fn len(&self) -> usize {
        match self.whole.get() {
            Some(w) => w.len(),
            None => self.lock().len,
        }
    }

    pub(crate) fn state(&self) -> Option<bool> {
        match self.whole.get() {
            Some(_) => Some(true),
            None => self.lock().done,
        }
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
        if let Some(w) = self.whole.get() {
            return Some(w.clone());
        }
        if !self.finished().await {
            return None;
        }
        self.whole.get().cloned()
    }

    /// A stream of the body from its start; ends with an error if the body is cut short.
    pub(crate) fn stream(
        self: &Arc<Self>,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let body = Arc::clone(self);
        let rx = body.tick.subscribe();
        // Position: the next chunk's index while the body fills, the byte offset always
        // (the chunks become one piece when the body completes).
        futures::stream::unfold(
            (body, rx, 0usize, 0usize, false),
            |(body, mut rx, idx, offset, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    rx.borrow_and_update();
                    let (next, done) = {
                        let s = body.lock();
                        match body.whole.get() {
                            Some(w) => ((offset < w.len()).then(|| w.slice(offset..)), Some(true)),
                            None => (s.chunks.get(idx).cloned(), s.done),
                        }
                    };
                    if let Some(chunk) = next {
                        let offset = offset + chunk.len();
                        return Some((Ok(chunk), (body, rx, idx + 1, offset, false)));
                    }
                    match done {
                        Some(true) => return None,
                        Some(false) => {
                            let err = std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "origin response cut short",
                            );
                            return Some((Err(err), (body, rx, idx, offset, true)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn a_reader_mid_fill_gets_every_byte_once_after_the_join() {
        let body = SharedBody::new();
        body.push(Bytes::from_static(b"abc"));
        let mut early = Box::pin(body.stream());
        assert_eq!(early.next().await.expect("chunk").expect("ok"), "abc");
        body.push(Bytes::from_static(b"def"));
        body.push(Bytes::from_static(b"gh"));
        assert!(body.whole().is_none(), "not whole while filling");
        body.finish(true);
        // The chunks are one piece now; the early reader resumes at its offset.
        let rest: Vec<Bytes> = early.map(|c| c.expect("ok")).collect().await;
        assert_eq!(rest.concat(), b"defgh");
        assert_eq!(body.whole().map(|b| &b[..]), Some(&b"abcdefgh"[..]));
        assert_eq!(body.len(), 8);
        assert_eq!(body.state(), Some(true));
        let late: Vec<Bytes> = body.stream().map(|c| c.expect("ok")).collect().await;
        assert_eq!(late, vec![Bytes::from_static(b"abcdefgh")]);
        assert_eq!(body.collect().await.as_deref(), Some(&b"abcdefgh"[..]));
    }

    #[tokio::test]
    async fn a_body_cut_short_is_never_whole() {
        let body = SharedBody::new();
        body.push(Bytes::from_static(b"abc"));
        body.finish(false);
        body.finish(true);
        assert!(body.whole().is_none());
        assert_eq!(body.state(), Some(false));
        assert!(body.collect().await.is_none());
        let items: Vec<_> = body.stream().collect().await;
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
    }
}
