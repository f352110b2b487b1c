//! The coalescer on its own: failure, timeout and cancellation of the leader.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledge_cache::{Coalescer, FillRole};

/// Waits (bounded) until `n` callers wait for `key`.
async fn until_waiting(c: &Coalescer<String, u32>, key: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.waiting(&key.to_owned()) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} waiters never arrived"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The first fill fails once everyone waits; the waiters wake, one of them fills, and the
/// others receive its value. Each caller's fill runs at most once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fill_wakes_the_waiters_and_one_of_them_fills() {
    let c = Arc::new(Coalescer::<String, u32>::new(Duration::from_secs(30)));
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (c, attempts) = (Arc::clone(&c), Arc::clone(&attempts));
        tasks.push(tokio::spawn(async move {
            let view = Arc::clone(&c);
            c.run(&"k".to_owned(), || async move {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst);
                // Hold each fill until all other callers wait on it.
                until_waiting(&view, "k", 9 - attempt).await;
                if attempt == 0 {
                    Err("origin down")
                } else {
                    Ok(7)
                }
            })
            .await
        }));
    }
    let mut errors = 0;
    let mut leaders = 0;
    let mut followers = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(e) => {
                assert_eq!(e, "origin down");
                errors += 1;
            }
            Ok(c) => {
                assert_eq!(c.value, 7);
                match c.role {
                    FillRole::Leader => leaders += 1,
                    FillRole::Follower => followers += 1,
                    FillRole::TimedOut => panic!("no one should time out"),
                }
            }
        }
    }
    assert_eq!((errors, leaders, followers), (1, 1, 8));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    let stats = c.stats();
    assert_eq!(
        (stats.fills, stats.failed_fills, stats.followers),
        (2, 1, 8)
    );
}

/// A leader that never finishes holds a waiter only until the timeout; the waiter then
/// fills on its own (time is paused: no real waiting).
#[tokio::test(start_paused = true)]
async fn a_waiter_fills_on_its_own_after_the_timeout() {
    let c = Arc::new(Coalescer::<String, u32>::new(Duration::from_secs(3)));
    let stuck = Arc::clone(&c);
    let leader = tokio::spawn(async move {
        stuck
            .run(&"k".to_owned(), || {
                std::future::pending::<Result<u32, ()>>()
            })
            .await
    });
    tokio::task::yield_now().await;
    assert_eq!(c.in_flight(), 1);
    let started = tokio::time::Instant::now();
    let got = c
        .run(&"k".to_owned(), || async { Ok::<_, ()>(5) })
        .await
        .unwrap();
    assert_eq!((got.value, got.role), (5, FillRole::TimedOut));
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(c.stats().timeouts, 1);
    leader.abort();
}

/// A leader whose request is cancelled (client gone) does not strand its waiters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_over_to_a_waiter() {
    let c = Arc::new(Coalescer::<String, u32>::new(Duration::from_secs(30)));
    let stuck = Arc::clone(&c);
    let leader = tokio::spawn(async move {
        stuck
            .run(&"k".to_owned(), || {
                std::future::pending::<Result<u32, ()>>()
            })
            .await
    });
    // The leader must hold the fill before the waiter comes: on two workers the tasks
    // may start in either order.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while c.in_flight() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leader never started"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let waiter_c = Arc::clone(&c);
    let waiter = tokio::spawn(async move {
        waiter_c
            .run(&"k".to_owned(), || async { Ok::<_, ()>(9) })
            .await
    });
    until_waiting(&c, "k", 1).await;
    leader.abort();
    let got = waiter.await.unwrap().unwrap();
    assert_eq!((got.value, got.role), (9, FillRole::Leader));
    assert_eq!(c.in_flight(), 0);
}

/// The coalescer shares a fill only while it runs: it is not a cache.
#[tokio::test]
async fn sequential_calls_each_fill() {
    let c = Coalescer::<String, u32>::default();
    let fills = AtomicUsize::new(0);
    for _ in 0..3 {
        let got = c
            .run(&"k".to_owned(), || async {
                Ok::<_, ()>(fills.fetch_add(1, Ordering::SeqCst) as u32)
            })
            .await
            .unwrap();
        assert_eq!(got.role, FillRole::Leader);
    }
    assert_eq!(fills.load(Ordering::SeqCst), 3);
    assert_eq!(c.in_flight(), 0);
}

/// Different keys never wait for each other.
#[tokio::test(start_paused = true)]
async fn different_keys_fill_independently() {
    let c = Arc::new(Coalescer::<String, u32>::new(Duration::from_secs(3)));
    let stuck = Arc::clone(&c);
    let leader = tokio::spawn(async move {
        stuck
            .run(&"a".to_owned(), || {
                std::future::pending::<Result<u32, ()>>()
            })
            .await
    });
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let got = c
        .run(&"b".to_owned(), || async { Ok::<_, ()>(1) })
        .await
        .unwrap();
    assert_eq!(got.role, FillRole::Leader);
    assert_eq!(started.elapsed(), Duration::ZERO);
    leader.abort();
}
